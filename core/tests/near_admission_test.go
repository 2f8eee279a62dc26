package tests_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// Issue 15 item 2: a near cache is bounded by bytes as well as entries:
// the bound counts each value's encoded payload, so a value larger than
// the near cache's share is read from Redis every time, while small
// values of the same function are served from process memory.
func TestNearCacheBytes(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithNearCache(100, time.Minute), core.WithNearCacheBytes(1000))
		t.Cleanup(func() { m.Close() })
		var calls counter
		get := core.Memoize(m, "sized", func(_ context.Context, n int) (string, error) {
			calls.inc()
			return strings.Repeat("x", n), nil
		})
		get.Get(ctx, 1)
		eventually(t, "the subscription", func() bool { return m.Stats().NearActive })

		for _, tc := range []struct {
			size int
			near bool
		}{{10, true}, {5000, false}} {
			if _, err := get.Get(ctx, tc.size); err != nil { // stored in Redis, and near if it fits
				t.Fatal(err)
			}
			before := m.Stats()
			for range 5 {
				v, err := get.Get(ctx, tc.size)
				if err != nil || len(v) != tc.size {
					t.Fatalf("Get(%d) = %d bytes, %v", tc.size, len(v), err)
				}
			}
			after := m.Stats()
			near, hits := after.NearHits-before.NearHits, after.Hits-before.Hits
			if hits != 5 {
				t.Fatalf("a value of %d bytes: %d hits of 5 reads", tc.size, hits)
			}
			if tc.near && near != 5 || !tc.near && near != 0 {
				t.Fatalf("a value of %d bytes under a 1,000-byte bound: %d near hits of 5", tc.size, near)
			}
		}
		if calls.n() != 3 {
			t.Fatalf("%d loader calls, want 3", calls.n())
		}
	})
}

// Issue 15 item 2: on skewed traffic the near cache keeps the popular
// keys: after a pass over many one-off keys, the few keys read all along
// are still near hits.
func TestNearCacheKeepsPopularKeys(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithNearCache(200, time.Minute))
		t.Cleanup(func() { m.Close() })
		get := core.Memoize(m, "popular", func(_ context.Context, n int) (int, error) { return n, nil })
		get.Get(ctx, -1)
		eventually(t, "the subscription", func() bool { return m.Stats().NearActive })
		const hot = 20
		for range 5 {
			for k := range hot {
				get.Get(ctx, k)
			}
		}
		// A scan of one-off keys, each read once, with the hot keys still
		// read in between.
		for k := 1000; k < 1600; k++ {
			get.Get(ctx, k)
			if k%10 == 0 {
				get.Get(ctx, k%hot)
			}
		}
		before := m.Stats().NearHits
		for k := range hot {
			if v, err := get.Get(ctx, k); err != nil || v != k {
				t.Fatalf("Get(%d) = %d, %v", k, v, err)
			}
		}
		if got := m.Stats().NearHits - before; got < hot*9/10 {
			t.Fatalf("%d of %d popular keys still near after a scan of 600 one-off keys", got, hot)
		}
	})
}
