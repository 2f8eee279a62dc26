package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "cache:sql:*", "cache::tag:table:*")
	var out bytes.Buffer
	if err := run(context.Background(), &out, url); err != nil {
		t.Fatal(err)
	}
	// The times vary; the rest does not.
	want := regexp.MustCompile(`^first pass \(from SQLite, stored in Redis\): 1000 lookups in [0-9.]+[mµn]?s
second pass \(from Redis\): 1000 lookups in [0-9.]+[mµn]?s
record 42: record 42 = 4.20
UPDATE records SET value = 99.5 WHERE id = 42
record 42: record 42 = 99.50
$`)
	if !want.Match(out.Bytes()) {
		t.Errorf("output:\n%s", out.String())
	}
}
