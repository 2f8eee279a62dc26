package tests_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// A call that begins after another process's write returned must never
// get a value loaded before that write, even when it cannot see the
// write: Redis restarted in between (the tombstone and the generation key
// are gone), or this call's own read of Redis failed. Two Managers on one
// Redis play the two processes. Each case holds the first load until the
// second call has either joined it or started a load of its own, then
// checks what the second call got.
func TestLateCallNeverJoinsAnOlderLoad(t *testing.T) {
	for _, c := range []struct {
		name string
		// lose is what happens between the write and the second call.
		lose func(t *testing.T, ctx context.Context, d conn.Driver, h *hookDriver, prefix, key string)
	}{
		{"redis restarted", func(t *testing.T, ctx context.Context, d conn.Driver, _ *hookDriver, prefix, key string) {
			// What a restart loses for this function: the tombstone and
			// the generation key.
			if _, err := d.Del(ctx, key); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Del(ctx, prefix+":late:~gen"); err != nil {
				t.Fatal(err)
			}
		}},
		{"read failed", func(t *testing.T, ctx context.Context, d conn.Driver, h *hookDriver, prefix, key string) {
			failGets(h, key, nil)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
				ctx := testCtx(t)
				prefix := uniquePrefix(t)
				h := newHookDriver(d)
				// The source: version is what a load reads, at its start.
				var version atomic.Int64
				version.Store(1)
				var loads atomic.Int32
				release := make(chan struct{})
				second := make(chan struct{}, 1)
				load := func(context.Context, string) (int64, error) {
					v := version.Load()
					if loads.Add(1) == 1 {
						<-release
					} else {
						second <- struct{}{}
					}
					return v, nil
				}
				a, b := twoProcesses(t, d, h, prefix, load)
				key, _ := b.Key("k")

				// Process B knows the generation, then misses k: its load
				// reads version 1 and is held.
				if _, _, err := b.Peek(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				if c.name == "read failed" {
					failGets(h, key, nil)
				}
				first := make(chan int64, 1)
				go func() {
					cctx, cancel := context.WithCancel(ctx)
					defer cancel()
					v, err := b.Get(cctx, "k")
					if err != nil {
						t.Error(err)
					}
					first <- v
				}()
				eventually(t, "the first load", func() bool { return loads.Load() == 1 })

				// Process A commits version 2: the source, then Invalidate.
				version.Store(2)
				h.clear()
				if err := a.Invalidate(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				c.lose(t, ctx, d, h, prefix, key)

				// B's second call begins after the commit.
				got := make(chan int64, 1)
				go func() {
					cctx, cancel := context.WithCancel(ctx)
					defer cancel()
					v, err := b.Get(cctx, "k")
					if err != nil {
						t.Error(err)
					}
					got <- v
				}()
				// It either starts a load of its own (right) or joins the
				// held one (wrong): give it time to do either.
				select {
				case <-second:
				case <-time.After(500 * time.Millisecond):
				}
				close(release)
				if v := <-got; v != 2 {
					t.Fatalf("a call that began after version 2 was committed got version %d (a load from before the write)", v)
				}
				if v := <-first; v != 1 {
					t.Fatalf("the first call got %d, want its own load's 1", v)
				}
			})
		})
	}
}

// While Redis cannot be read, the calls that began after a load started
// share one load queued behind it, which starts when it ends: a value
// loaded after each of them began, at the cost of one more load, not one
// per call. A queued call whose context ends leaves the others waiting.
func TestLateCallsShareOneQueuedLoad(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		h := newHookDriver(d)
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithGenerationRefresh(time.Hour), core.WithBreaker(0, 0))
		t.Cleanup(func() { m.Close() })
		var version atomic.Int64
		version.Store(1)
		var loads atomic.Int32
		release := make(chan struct{})
		get := core.Memoize(m, "queued", func(context.Context, string) (int64, error) {
			v := version.Load()
			if loads.Add(1) == 1 {
				<-release
			}
			return v, nil
		})
		key, _ := get.Key("k")
		if _, _, err := get.Peek(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		var reads atomic.Int32 // the failed lookups
		failGets(h, key, &reads)
		first := make(chan int64, 1)
		go func() {
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			v, _ := get.Get(cctx, "k")
			first <- v
		}()
		eventually(t, "the first load", func() bool { return loads.Load() == 1 })
		version.Store(2)

		const n = 50
		results := make(chan int64, n)
		for i := 0; i < n; i++ {
			go func() {
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				v, err := get.Get(cctx, "k")
				if err != nil {
					t.Error(err)
				}
				results <- v
			}()
		}
		// One more late call gives up while queued.
		quitter, quit := context.WithCancel(ctx)
		gone := make(chan error, 1)
		go func() {
			_, err := get.Get(quitter, "k")
			gone <- err
		}()
		// Every late call has looked (and failed): it is queued, or about
		// to be.
		eventually(t, "every late call to look", func() bool { return reads.Load() == 1+n+1 })
		time.Sleep(50 * time.Millisecond)
		quit()
		if err := <-gone; !errors.Is(err, context.Canceled) {
			t.Fatalf("a queued call whose context ended returned %v, want context.Canceled", err)
		}
		close(release)
		if v := <-first; v != 1 {
			t.Fatalf("the first call got %d, want 1", v)
		}
		for i := 0; i < n; i++ {
			if v := <-results; v != 2 {
				t.Fatalf("a late call got version %d, want 2", v)
			}
		}
		if got := loads.Load(); got != 2 {
			t.Fatalf("the loader ran %d times, want 2: the first load, and one queued for every late call", got)
		}
	})
}

// A Redis that restarts between a load's generation check and its write
// (an empty key: the tombstone of a write that returned is gone, and so
// is the generation key) must not take the load's value: it was loaded
// before that write, and a process that has not re-read the generation
// since would serve it as a hit.
func TestRestartBeforeStoreKeepsLoadOut(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		h := newHookDriver(d)
		var version atomic.Int64
		version.Store(1)
		release := make(chan struct{})
		var loads atomic.Int32
		load := func(context.Context, string) (int64, error) {
			v := version.Load()
			if loads.Add(1) == 1 {
				<-release
			}
			return v, nil
		}
		a, b := twoProcesses(t, d, h, prefix, load)
		key, _ := b.Key("k")
		genKey := prefix + ":late:~gen"

		first := make(chan int64, 1)
		go func() {
			v, err := b.Get(ctx, "k")
			if err != nil {
				t.Error(err)
			}
			first <- v
		}()
		eventually(t, "the first load", func() bool { return loads.Load() == 1 })
		version.Store(2)
		if err := a.Invalidate(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		// The restart: after the store's generation check, before its
		// write.
		var restarted atomic.Bool
		h.setBefore(func(ctx context.Context, op, k string) error {
			if (op == "setnx" || op == "eval") && k == key && restarted.CompareAndSwap(false, true) {
				if _, err := d.Del(ctx, key); err != nil {
					return err
				}
				if _, err := d.Del(ctx, genKey); err != nil {
					return err
				}
			}
			return nil
		})
		close(release)
		if v := <-first; v != 1 {
			t.Fatalf("the first call got %d, want its own load's 1", v)
		}
		if !restarted.Load() {
			t.Fatal("the load never wrote")
		}
		h.clear()
		if v, err := b.Get(ctx, "k"); err != nil || v != 2 {
			t.Fatalf("after the restart, a call got %d, %v; want 2 (the load from before the write stored its value)", v, err)
		}
	})
}

// twoProcesses memoizes load as "late" in two Managers on one Redis, the
// two processes of these tests: a writes through d, b through h. Neither
// re-reads a generation it knows, nor opens a breaker.
func twoProcesses(t *testing.T, d conn.Driver, h *hookDriver, prefix string, load func(context.Context, string) (int64, error)) (a, b *core.Memo[string, int64]) {
	t.Helper()
	opts := []core.ManagerOption{core.WithTimeout(testTimeout), core.WithPrefix(prefix),
		core.WithGenerationRefresh(time.Hour), core.WithBreaker(0, 0)}
	mA := core.New(append(opts, core.WithDriver(d))...)
	mB := core.New(append(opts, core.WithDriver(h))...)
	t.Cleanup(func() { mA.Close(); mB.Close() })
	return core.Memoize(mA, "late", load), core.Memoize(mB, "late", load)
}

// failGets makes every GET of key through h fail as a broken connection
// would, counting them in n when it is not nil.
func failGets(h *hookDriver, key string, n *atomic.Int32) {
	h.setBefore(func(_ context.Context, op, k string) error {
		if op == "get" && k == key {
			if n != nil {
				n.Add(1)
			}
			return errors.New("test: connection reset")
		}
		return nil
	})
}
