//go:build !race

package tests_test

import (
	"context"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// A near hit allocates nothing: the key is built on the stack and only a
// miss makes it a string. (The race detector's instrumentation
// allocates: this test is left out of -race builds.)
func TestNearHitAllocs(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithNearCache(1000, time.Minute))
		t.Cleanup(func() { m.Close() })
		byInt := core.Memoize(m, "int", func(_ context.Context, id int) (benchValue, error) { return newBenchValue(), nil })
		byString := core.Memoize(m, "string", func(_ context.Context, s string) (string, error) { return s, nil })
		byTwo := core.Memoize2(m, "two", func(_ context.Context, a int, b string) (int, error) { return a, nil })
		none := core.Memoize0(m, "none", func(context.Context) (int, error) { return 1, nil })
		cases := []struct {
			name string
			get  func() error
		}{
			{"Memo[int]", func() error { _, err := byInt.Get(ctx, 7); return err }},
			{"Memo[string]", func() error { _, err := byString.Get(ctx, "user:42"); return err }},
			{"Memo2", func() error { _, err := byTwo.Get(ctx, 7, "x"); return err }},
			{"Memo0", func() error { _, err := none.Get(ctx); return err }},
		}
		for _, c := range cases {
			nearWarm(t, m, c.get)
			before := m.Stats().NearHits
			allocs := testing.AllocsPerRun(100, func() {
				if err := c.get(); err != nil {
					t.Fatal(err)
				}
			})
			if hits := m.Stats().NearHits - before; hits < 100 {
				t.Fatalf("%s: %d near hits in 101 calls", c.name, hits)
			}
			if allocs != 0 {
				t.Errorf("%s: a near hit allocates %v times, want 0", c.name, allocs)
			}
		}
	})
}
