package main

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// BenchmarkWhenCachingPays measures what docs/sql.md says about when the
// cache pays: one lookup by primary key on a local SQLite database, on the
// same database behind an added 1 ms round trip (a database on another
// machine), and as a cache hit from a local Redis with either driver.
// ns/op is one lookup; multiply by 1,000 for the guide's "1,000 lookups".
//
//	go test -run '^$' -bench WhenCachingPays ./docs/examples/sql   # with REDCACHE_TEST_REDIS set
func BenchmarkWhenCachingPays(b *testing.B) {
	ctx := context.Background()
	db, err := openDB(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	repo := &Repo{db: db, log: io.Discard}
	const rtt = time.Millisecond
	remote := func(ctx context.Context, id int64) (Product, error) {
		time.Sleep(rtt) // the round trip to a database on another machine
		return repo.ProductByID(ctx, id)
	}
	lookup := func(b *testing.B, get func(context.Context, int64) (Product, error)) {
		b.Helper()
		for i := 0; b.Loop(); i++ {
			if _, err := get(ctx, int64(i%3)+1); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("sqlite", func(b *testing.B) { lookup(b, repo.ProductByID) })
	b.Run("sqlite+1ms", func(b *testing.B) { lookup(b, remote) })

	url := devredis.TestURL(b, "cache:bench.sql.*")
	gd, err := goredis.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { gd.Close() })
	rd, err := radix.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rd.Close() })
	for _, tt := range []struct {
		name string
		d    conn.Driver
	}{{"goredis", gd}, {"radix", rd}} {
		for _, src := range []struct {
			name string
			fn   func(context.Context, int64) (Product, error)
		}{{"sqlite", repo.ProductByID}, {"sqlite+1ms", remote}} {
			b.Run(fmt.Sprintf("cache-hit/%s/%s", tt.name, src.name), func(b *testing.B) {
				m := core.New(core.WithDriver(tt.d))
				b.Cleanup(func() { m.Close() })
				memo := core.Memoize(m, "bench.sql."+tt.name+"."+src.name, src.fn, core.WithTTL(time.Minute))
				for id := int64(1); id <= 3; id++ { // fill: every lookup below is a hit
					if _, err := memo.Get(ctx, id); err != nil {
						b.Fatal(err)
					}
				}
				before := m.Stats()
				lookup(b, memo.Func())
				if s := m.Stats(); s.Loads != before.Loads {
					b.Fatalf("%d loads during the hits", s.Loads-before.Loads)
				}
			})
		}
	}
}
