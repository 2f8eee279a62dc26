package tests_test

import (
	"context"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// Two Managers on one Redis stand for two processes.
func TestNearCacheCoherence(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		version := map[string]int{}
		var calls counter
		load := func(_ context.Context, k string) (int, error) {
			calls.inc()
			return version[k], nil
		}
		newProc := func() (*core.Manager, *core.Memo[string, int]) {
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
				core.WithNearCache(1000, time.Minute))
			t.Cleanup(func() { m.Close() })
			return m, core.Memoize(m, "near", load)
		}
		m1, p1 := newProc()
		m2, p2 := newProc()
		// The first calls start the subscriptions.
		p1.Get(ctx, "warm")
		p2.Get(ctx, "warm")
		eventually(t, "both subscriptions", func() bool { return m1.Stats().NearActive && m2.Stats().NearActive })

		// p2 loads "a" itself, so no announcement from p1 about it is in
		// flight; its own announcements it ignores.
		version["a"] = 1
		if v, _ := p2.Get(ctx, "a"); v != 1 {
			t.Fatalf("p2 = %d", v)
		}
		before := m2.Stats().NearHits
		for i := 0; i < 5; i++ {
			p2.Get(ctx, "a")
		}
		if got := m2.Stats().NearHits - before; got != 5 {
			t.Fatalf("near hits = %d, want 5", got)
		}
		if v, _ := p1.Get(ctx, "a"); v != 1 { // from Redis
			t.Fatalf("p1 = %d", v)
		}

		// A near hit does not ask Redis: delete behind the cache's back.
		key, _ := p2.Key("a")
		d.Del(ctx, key)
		if v, _ := p2.Get(ctx, "a"); v != 1 || calls.n() != 2 {
			t.Fatalf("p2 after a silent DEL = %d (calls %d): want the near copy", v, calls.n())
		}

		// A refresh in one process reaches the other's near cache.
		version["a"] = 2
		if v, _ := p1.Refresh(ctx, "a"); v != 2 {
			t.Fatalf("refresh = %d", v)
		}
		eventually(t, "p2 to see the refreshed value", func() bool {
			v, _ := p2.Get(ctx, "a")
			return v == 2
		})

		// Invalidate in one process drops the other's near copy.
		version["a"] = 3
		if err := p1.Invalidate(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "p2 to reload after Invalidate", func() bool {
			v, _ := p2.Get(ctx, "a")
			return v == 3
		})

		// InvalidateAll too.
		version["a"] = 4
		if err := p1.InvalidateAll(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, "p2 to reload after InvalidateAll", func() bool {
			v, _ := p2.Get(ctx, "a")
			return v == 4
		})
	})
}

func TestNearCacheTTLAndRedisDown(t *testing.T) {
	for i, name := range []string{"goredis", "radix"} {
		t.Run(name, func(t *testing.T) {
			p := newProxy(t)
			d := proxiedTargets(t, p)[i].open(t)
			ctx := testCtx(t)
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithTimeout(200*time.Millisecond),
				core.WithNearCache(100, 50*time.Millisecond))
			defer m.Close()
			var calls counter
			get := core.Memoize(m, "near", func(_ context.Context, k int) (int, error) { return calls.inc(), nil })
			get.Get(ctx, 0)
			eventually(t, "the subscription", func() bool { return m.Stats().NearActive })
			get.Get(ctx, 1)
			get.Get(ctx, 1)
			if s := m.Stats(); s.NearHits == 0 {
				t.Fatalf("no near hit: %+v", s)
			}
			// The near ttl bounds a copy's life: once it passes, Redis is asked.
			key, _ := get.Key(1)
			d.Del(ctx, key)
			eventually(t, "the near copy to expire", func() bool {
				v, _ := get.Get(ctx, 1)
				return v != 1
			})

			// With Redis gone, the subscription is down: the near cache
			// serves nothing it cannot vouch for.
			p.set("down")
			eventually(t, "the subscription to notice", func() bool { return !m.Stats().NearActive })
			before := calls.n()
			get.Get(ctx, 1)
			if calls.n() != before+1 {
				t.Fatal("the near cache served a value while its subscription was down")
			}
			p.set("up")
			eventually(t, "the subscription to come back", func() bool { return m.Stats().NearActive })
		})
	}
}
