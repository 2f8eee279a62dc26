package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "catalog:*")
	var out bytes.Buffer
	if err := run(context.Background(), &out, url); err != nil {
		t.Fatal(err)
	}
	const want = `first page: one query for every product
  db: products [1 2 3 4 5]
  page: [1:1 2:2 3:3 4:4 5:5]
the same page again: no query
  page: [1:1 2:2 3:3 4:4 5:5]
a page that overlaps it: a query for the new ids only
  db: products [6 7 404]
  page: [4:4 5:5 6:6 7:7 404:-]
404 has no row: it is cached as missing
  page: [6:6 7:7 404:-]
a price changes: invalidate that product only
  db: products [5]
  page: [1:1 2:2 3:3 4:4 5:50]
one product: the same entries
  product 3: Widget 3
  one at a time, product 7: Widget 7
  db: products [8]
  one at a time, product 8: Widget 8
  db: products [9]
  page: [7:7 8:8 9:9]
stats: 16 hits, 10 misses, 4 queries
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
