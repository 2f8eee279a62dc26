package tests_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/redcache/redcache/sqlcache"
)

// BenchmarkQuery compares a cached query (a hit, from Redis through the
// go-redis driver) with the same query uncached, on SQLite (a local file)
// and PostgreSQL (on loopback): a lookup by primary key, and a 100-row
// list. ns/op is one query, its rows read and scanned.
//
//	go test -run '^$' -bench Query ./sqlcache/tests
func BenchmarkQuery(b *testing.B) {
	d := targets()[0].open(b)
	for _, db := range databases() {
		b.Run(db.name, func(b *testing.B) {
			e := newEnv(b, db, d)
			e.mustExec(b, e.raw, "CREATE TABLE items (id INTEGER PRIMARY KEY, category INTEGER NOT NULL, name TEXT NOT NULL, price REAL NOT NULL)")
			e.mustExec(b, e.raw, "CREATE INDEX items_category ON items (category)")
			tx, err := e.raw.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for id := 1; id <= 10000; id++ {
				if _, err := tx.Exec(e.q("INSERT INTO items VALUES (?, ?, ?, ?)"), id, id%100, fmt.Sprintf("item %d", id), float64(id)/100); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			queries := []struct {
				name, query string
				arg         func(i int) any
				rows        int
			}{
				{"pk", "SELECT id, category, name, price FROM items WHERE id = ?", func(i int) any { return i%10000 + 1 }, 1},
				{"list100", "SELECT id, category, name, price FROM items WHERE category = ? ORDER BY id", func(i int) any { return i % 100 }, 100},
			}
			for _, q := range queries {
				for _, mode := range []string{"uncached", "cached"} {
					b.Run(q.name+"/"+mode, func(b *testing.B) {
						ctx := testCtx(b)
						if mode == "cached" {
							ctx = sqlcache.Cache(ctx, time.Hour)
							for i := range 10000 { // every key a hit
								rows, err := e.sql.QueryContext(ctx, e.q(q.query), q.arg(i))
								readRows(b, rows, err)
							}
						}
						b.ReportAllocs()
						b.ResetTimer()
						i := 0
						for b.Loop() {
							rows, err := e.sql.QueryContext(ctx, e.q(q.query), q.arg(i))
							if n := readRows(b, rows, err); n != q.rows {
								b.Fatalf("%d rows, want %d", n, q.rows)
							}
							i++
						}
					})
				}
			}
		})
	}
}

func readRows(b *testing.B, rows *sql.Rows, err error) int {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	n := 0
	var id, cat int64
	var name string
	var price float64
	for rows.Next() {
		if err := rows.Scan(&id, &cat, &name, &price); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
