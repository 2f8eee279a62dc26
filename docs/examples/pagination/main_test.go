package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "cache:products.page:*")
	var out bytes.Buffer
	if err := run(context.Background(), &out, url); err != nil {
		t.Fatal(err)
	}
	const want = `page 1 (size 10): items 1-10 of 25, database queries so far: 1
page 2 (size 10): items 11-20 of 25, database queries so far: 2
page 1 (size 10): items 1-10 of 25, database queries so far: 2
page 3 (size 10): items 21-25 of 25, database queries so far: 3
page 2 (size 10): items 11-20 of 25, database queries so far: 3
page 1 (size 100): items 1-25 of 25, database queries so far: 4
page 2 is stored under cache:products.page:i2,i10
add a product:
page 3 (size 10): items 21-26 of 26, database queries so far: 5
page 3 (size 10): items 21-26 of 26, database queries so far: 5
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
