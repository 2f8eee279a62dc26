package tests_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redcache/redcache/conn"
)

// TestReturningRowsKeepColumnTypes: the rows of a write run as a query
// (INSERT ... RETURNING), which the wrapper watches to invalidate when
// they close, answer ColumnTypes as the driver's do.
func TestReturningRowsKeepColumnTypes(t *testing.T) {
	each(t, func(t *testing.T, db database, d conn.Driver) {
		e := newEnv(t, db, d)
		e.users(t, 0)
		ctx := testCtx(t)
		read := func(id int, through string) []columnType {
			t.Helper()
			sdb := e.raw
			if through == "wrapper" {
				sdb = e.sql
			}
			rows, err := sdb.QueryContext(ctx, e.q("INSERT INTO users (id, name) VALUES (?, 'x') RETURNING id, name"), id)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			cts := columnTypes(t, rows)
			for rows.Next() {
			}
			return cts
		}
		want := read(1, "database")
		if diff := cmp.Diff(want, read(2, "wrapper")); diff != "" {
			t.Errorf("column types of RETURNING rows (-database +wrapper):\n%s", diff)
		}
	})
}
