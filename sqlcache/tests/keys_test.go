package tests_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/sqlcache"
)

// TestKeysTellArgumentsApart: the same cached query with arguments that
// differ only in type, or with a long text, never returns another
// query's result.
func TestKeysTellArgumentsApart(t *testing.T) {
	each(t, func(t *testing.T, db database, d conn.Driver) {
		e := newEnv(t, db, d)
		ctx := sqlcache.Cache(testCtx(t), time.Minute)
		query := "SELECT typeof(?)"
		if db.name == "postgres" {
			query = "SELECT pg_typeof($1)::text"
		}
		args := []any{int64(1), "1", 1.5, []byte("1"), nil}
		for round := range 2 {
			seen := map[string]any{}
			for _, a := range args {
				var got string
				if err := e.sql.QueryRowContext(ctx, query, a).Scan(&got); err != nil {
					if db.name == "postgres" {
						// pgx cannot send every Go type to an untyped
						// parameter; those that go through must differ.
						continue
					}
					t.Fatalf("%s with %#v: %v", query, a, err)
				}
				if prev, dup := seen[got]; dup && db.name == "sqlite" {
					t.Errorf("round %d: %#v and %#v both read %q", round, prev, a, got)
				}
				seen[got] = a
			}
		}
		long := "SELECT '" + strings.Repeat("x", 2000) + "' AS a, ? AS b"
		if db.name == "postgres" {
			long = "SELECT '" + strings.Repeat("x", 2000) + "' AS a, $1::bigint AS b"
		}
		for i := range int64(3) {
			for range 2 {
				var a string
				var b int64
				if err := e.sql.QueryRowContext(ctx, long, i).Scan(&a, &b); err != nil || b != i || len(a) != 2000 {
					t.Fatalf("a long query with %d: %d %d %v", i, len(a), b, err)
				}
			}
		}
	})
}
