package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "shop:catalog.*")
	var out bytes.Buffer
	if err := run(context.Background(), &out, url); err != nil {
		t.Fatal(err)
	}
	const want = `first call, a miss:
  db: product 1
  Blue widget
second call, a hit:
  Blue widget
stored under shop:catalog.product:i1
two arguments, no arguments, a struct:
  db: search "widget" limit 10
  db: count
  db: list {Category:widgets MaxPrice:10}
  2 found, 3 in all, 1 cheap widgets
  key shop:catalog.search:s6:widget,i10
  key shop:catalog.count
  key shop:catalog.list:(Category=s7:widgets,MaxPrice=f10)
a loader error is returned, and not cached:
  db: product 99
  error: product not found true
  db: product 99
  error: product not found true
per-call options:
  db: product 2
  db: product 1
  db: product 3
peek, invalidate:
  product 2 cached: true
  after Invalidate: false
  db: product 1
a near cache in front of Redis:
  db: product 1
  served from process memory: true
stats: 4 hits, 9 misses, 11 loads (2 failed), 0 redis errors, breaker closed
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
