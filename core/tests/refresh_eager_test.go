package tests_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// Past the eager-refresh point, reads get the value at once, as fresh
// hits, and start one background reload of the key; keys not read are
// not reloaded.
func TestEagerRefresh(t *testing.T) {
	const ttl = 2 * time.Second
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		obs := &outcomes{}
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)), core.WithObserver(obs))
		defer m.Close()
		var mu sync.Mutex
		loads := map[string]int{}
		release := make(chan struct{})
		get := core.Memoize(m, "eager", func(_ context.Context, k string) (int, error) {
			mu.Lock()
			loads[k]++
			n := loads[k]
			mu.Unlock()
			if n == 2 {
				<-release
			}
			return n, nil
		}, core.WithTTL(ttl), core.WithEagerRefresh(0.25))
		loadsOf := func(k string) int {
			mu.Lock()
			defer mu.Unlock()
			return loads[k]
		}
		for _, k := range []string{"read", "idle"} {
			if v, err := get.Get(ctx, k); err != nil || v != 1 {
				t.Fatalf("Get(%s) = %d, %v", k, v, err)
			}
		}
		time.Sleep(ttl/4 + 100*time.Millisecond) // past the eager point, well within the ttl
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if v, err := get.Get(ctx, "read"); err != nil || v != 1 {
					t.Errorf("read past the eager point = %d, %v; want 1 at once", v, err)
				}
			}()
		}
		wg.Wait()
		if got := obs.last(); got != core.OutcomeHit {
			t.Fatalf("outcome = %v, want hit", got)
		}
		eventually(t, "the background reload", func() bool { return loadsOf("read") == 2 })
		close(release)
		eventually(t, "the reloaded value", func() bool {
			v, _, _ := get.Peek(ctx, "read")
			return v == 2
		})
		if n := loadsOf("read"); n != 2 {
			t.Fatalf("reads past the eager point started %d reloads, want 1", n-1)
		}
		if n := loadsOf("idle"); n != 1 {
			t.Fatalf("a key nobody read was reloaded %d times", n-1)
		}
		if s := m.Stats(); s.StaleHits != 0 || s.Hits < 8 {
			t.Fatalf("Stats = %+v, want 8 fresh hits and no stale ones", s)
		}
		// The reload wrote a new ttl: the next reads are plain hits.
		if v, err := get.Get(ctx, "read"); err != nil || v != 2 {
			t.Fatalf("Get after = %d, %v", v, err)
		}
		if n := loadsOf("read"); n != 2 {
			t.Fatalf("a fresh value was reloaded again: %d loads", n)
		}
	})
}

// Eager refresh with stale-while-revalidate: before the ttl the reads
// are fresh hits, in the stale window stale hits; both reload.
func TestEagerRefreshWithStaleWindow(t *testing.T) {
	const ttl = time.Second
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		defer m.Close()
		var calls atomic.Int64
		block := make(chan struct{})
		defer close(block)
		get := core.Memoize0(m, "eagerswr", func(context.Context) (int, error) {
			if n := calls.Add(1); n > 1 {
				<-block // reloads never finish: the value stays as it was
			}
			return 1, nil
		}, core.WithTTL(ttl), core.WithEagerRefresh(0.5), core.WithStaleWhileRevalidate(time.Minute))
		if _, err := get.Get(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(ttl/2 + 100*time.Millisecond)
		if _, err := get.Get(ctx); err != nil {
			t.Fatal(err)
		}
		if s := m.Stats(); s.StaleHits != 0 {
			t.Fatalf("a read before the ttl counted stale: %+v", s)
		}
		time.Sleep(ttl / 2)
		if _, err := get.Get(ctx); err != nil {
			t.Fatal(err)
		}
		if s := m.Stats(); s.StaleHits != 1 {
			t.Fatalf("a read in the stale window: StaleHits = %d, want 1", s.StaleHits)
		}
		if n := calls.Load(); n != 2 {
			t.Fatalf("loader calls = %d, want 2 (one reload, joined by the stale read)", n)
		}
	})
}

// A Redis restart during an eager refresh: the reload's store is fenced
// (what it saw is gone), the read that started it got the value, and the
// next read loads afresh.
func TestEagerRefreshAcrossRestart(t *testing.T) {
	const ttl = 2 * time.Second
	for _, kind := range driverKinds {
		t.Run(kind.name, func(t *testing.T) {
			r := conntest.StartRedis(t)
			d := kind.open(t, "redis://"+r.Addr())
			ctx := testCtx(t)
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
			t.Cleanup(func() { m.Close() })
			var calls atomic.Int64
			release := make(chan struct{})
			get := core.Memoize0(m, "restart", func(context.Context) (int, error) {
				n := calls.Add(1)
				if n == 2 {
					<-release
				}
				return int(n), nil
			}, core.WithTTL(ttl), core.WithEagerRefresh(0.25))
			if v, err := get.Get(ctx); err != nil || v != 1 {
				t.Fatalf("Get = %d, %v", v, err)
			}
			time.Sleep(ttl/4 + 100*time.Millisecond)
			if v, err := get.Get(ctx); err != nil || v != 1 {
				t.Fatalf("eager Get = %d, %v", v, err)
			}
			eventually(t, "the reload", func() bool { return calls.Load() == 2 })
			r.Restart()
			close(release)
			eventually(t, "a value loaded after the restart", func() bool {
				v, err := get.Get(ctx)
				if err == nil && v == 2 {
					t.Fatal("the reload that began before the restart stored its value")
				}
				return err == nil && v == 3
			})
		})
	}
}

// Across processes, an eager refresh takes the distributed lock when it
// is on: two processes that read one key past its eager point reload it
// once between them.
func TestEagerRefreshUsesDistributedLock(t *testing.T) {
	const ttl = 2 * time.Second
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		var calls atomic.Int32
		release := make(chan struct{})
		loader := func(_ context.Context, k string) (int, error) {
			n := calls.Add(1)
			if n > 1 {
				<-release // the reload holds the lock until the test lets it go
			}
			return int(n), nil
		}
		gets := make([]*core.Memo[string, int], 2)
		for i := range gets {
			dd := d
			if i > 0 {
				dd = openLikeDriver(t, d)
			}
			m := core.New(core.WithDriver(dd), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
				core.WithDistributedLock(5*time.Second), core.WithTTL(ttl), core.WithEagerRefresh(0.25))
			t.Cleanup(func() { m.Close() })
			gets[i] = core.Memoize(m, "eager", loader)
		}
		if v, err := gets[0].Get(ctx, "k"); err != nil || v != 1 {
			t.Fatalf("first Get = %d, %v", v, err)
		}
		time.Sleep(ttl/4 + 100*time.Millisecond)
		for i, g := range gets {
			if v, err := g.Get(ctx, "k"); err != nil || v != 1 {
				t.Fatalf("process %d: Get = %d, %v; want the value at once", i, v, err)
			}
		}
		eventually(t, "a reload to start", func() bool { return calls.Load() == 2 })
		time.Sleep(200 * time.Millisecond) // the other reload waits for the lock
		close(release)
		eventually(t, "the reloaded value", func() bool {
			v, err := gets[1].Get(ctx, "k")
			return err == nil && v == 2
		})
		eventually(t, "the waiting reload to be answered", func() bool {
			return gets[0].Stats().LockWaits+gets[1].Stats().LockWaits == 1
		})
		if n := calls.Load(); n != 2 {
			t.Fatalf("%d loader calls; want the first load and one reload for both processes", n)
		}
	})
}
