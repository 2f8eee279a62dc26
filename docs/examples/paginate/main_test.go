package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "cache:{products:tools}:*", "cache:{feed:alice}:*",
		"cache:products.by-category:*", "paginate:{cache:products.by-category:*")
	var out bytes.Buffer
	if err := run(context.Background(), &out, url); err != nil {
		t.Fatal(err)
	}
	const want = `page 3: items 21-25 of 25, more: false
after page 1's cursor: items 11-20 of 27
page 2 by number now: items 10-19
newest: p5, posted at 14:00
newest: p4, posted at 13:00
newest: p3, posted at 12:00
between 11:00 and 12:00: p3
between 11:00 and 12:00: p2
garden page 1: items 26-29 of 10, database queries so far: 2
garden page 2: items 30-33 of 10, database queries so far: 2
garden page 3: items 34-35 of 10, database queries so far: 2
after Invalidate, garden page 1: items 26-29, database queries so far: 3
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
