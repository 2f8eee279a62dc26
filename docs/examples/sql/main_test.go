package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "cache:sql.*")
	var out bytes.Buffer
	if err := run(context.Background(), &out, url); err != nil {
		t.Fatal(err)
	}
	const want = `  sql: product 1
product 1: Blue widget at 9.50
product 1: Blue widget at 9.50
  sql: product 42
product 42: sql: no rows in result set (sql.ErrNoRows: true, from the cache: false)
product 42: sql: no rows in result set (sql.ErrNoRows: true, from the cache: true)
  sql: products in widgets, page 1
widgets: 2, first Blue widget at 9.50
widgets: 2, first Blue widget at 9.50
set the price of product 1:
  sql: product 1
product 1: Blue widget at 8.75
  sql: products in widgets, page 1
widgets: 2, first Blue widget at 8.75
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
