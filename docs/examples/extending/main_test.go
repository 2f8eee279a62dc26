package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "accounts-cache", "cache:accounts.get:*")
	secret := bytes.Repeat([]byte{7}, 32)
	var out bytes.Buffer
	if err := run(context.Background(), &out, url, secret); err != nil {
		t.Fatal(err)
	}
	const want = `entries in the hash: 3
field cache:accounts.get:i1: codec ID 0, 91 sealed bytes, no e-mail in clear: true
read back: user1@example.com
entries another secret could not open: 1
after Invalidate(3): 2
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
