package tests_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// saveFailingStore is a Store that cannot write conditionally (so an
// explicit Refresh makes no Redis call before its loader runs) and whose
// writes fail as a broken connection would while fail is set.
type saveFailingStore struct {
	core.RedisStore
	fail *atomic.Bool
}

func (s saveFailingStore) Save(ctx context.Context, d conn.Driver, key string, b []byte, ttl time.Duration) error {
	if s.fail.Load() {
		return errors.New("write: connection reset by peer")
	}
	return s.RedisStore.Save(ctx, d, key, b, ttl)
}

// The probe of a half-open breaker may end without a Redis call to judge:
// here a Refresh whose loader fails. The next probe must come within a
// bound, or the breaker stays half-open, and the cache off, for good.
func TestSilentProbeIsReplaced(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		const cooldown = 300 * time.Millisecond
		fail := new(atomic.Bool)
		m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithStore(saveFailingStore{fail: fail}),
			core.WithTimeout(500*time.Millisecond), core.WithBreaker(1, cooldown), // probes are replaced after 1s
			core.WithGenerationRefresh(time.Hour)) // the generation is not read again: the Refresh makes no call
		t.Cleanup(func() { m.Close() })
		errSource := errors.New("source down")
		sourceDown := new(atomic.Bool)
		get := core.Memoize(m, "probe", func(_ context.Context, i int) (int, error) {
			if sourceDown.Load() {
				return 0, errSource
			}
			return i, nil
		})
		if v, err := get.Get(ctx, 1); err != nil || v != 1 {
			t.Fatalf("healthy: %v, %v", v, err)
		}
		fail.Store(true)
		get.Get(ctx, 2) // its write fails: the breaker opens
		if s := m.Stats().Breaker; s != core.BreakerOpen {
			t.Fatalf("breaker = %v after a failed write, want open", s)
		}
		fail.Store(false)
		time.Sleep(cooldown + 50*time.Millisecond)
		// One key throughout: on a cluster, its node's breaker is the one.
		sourceDown.Store(true)
		if _, err := get.Refresh(ctx, 2); !errors.Is(err, errSource) {
			t.Fatalf("Refresh = %v, want the loader's error", err)
		}
		if s := m.Stats().Breaker; s != core.BreakerHalfOpen {
			t.Fatalf("breaker = %v after the silent probe, want half-open", s)
		}
		sourceDown.Store(false)
		start := time.Now()
		eventually(t, "a new probe to close the breaker", func() bool {
			get.Get(ctx, 2)
			return m.Stats().Breaker == core.BreakerClosed
		})
		t.Logf("closed %v after the silent probe", time.Since(start).Round(time.Millisecond))
	})
}

// WithBreaker given to Memoize is the function's own breaker: the
// Manager's does not stand in for it.
func TestMemoizeWithBreakerIsHonoured(t *testing.T) {
	for i, name := range []string{"goredis", "radix"} {
		t.Run(name, func(t *testing.T) {
			p := newProxy(t)
			d := proxiedTargets(t, p)[i].open(t)
			ctx := testCtx(t)
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)),
				core.WithTimeout(200*time.Millisecond), core.WithBreaker(50, time.Hour))
			t.Cleanup(func() { m.Close() })
			id := func(_ context.Context, i int) (int, error) { return i, nil }
			touchy := core.Memoize(m, "touchy", id, core.WithBreaker(1, time.Hour))
			patient := core.Memoize(m, "patient", id)
			never := core.Memoize(m, "never", id, core.WithBreaker(0, 0))
			for _, f := range []*core.Memo[int, int]{touchy, patient, never} {
				f.Get(ctx, 0) // connect while healthy
			}
			p.set("down")
			bypassed := func(f *core.Memo[int, int], calls int) uint64 {
				before := m.Stats().Bypassed
				for k := 0; k < calls; k++ {
					if v, err := f.Get(ctx, k+1); err != nil || v != k+1 {
						t.Fatalf("%s.Get = %v, %v", f.Name(), v, err)
					}
				}
				return m.Stats().Bypassed - before
			}
			// A pool may hold a connection or two that died with the proxy:
			// the touchy function opens at its first failure, whatever it is.
			if n := bypassed(touchy, 5); n < 3 {
				t.Fatalf("WithBreaker(1, ...) on Memoize: %d of 5 calls bypassed Redis after a failure, want the breaker open at once", n)
			}
			if n := bypassed(patient, 5); n != 0 {
				t.Fatalf("%d calls of a function without its own breaker were bypassed: the Manager's 50 failures are not reached", n)
			}
			if n := bypassed(never, 20); n != 0 {
				t.Fatalf("WithBreaker(0, 0) on Memoize: %d calls bypassed Redis, want the breaker off", n)
			}
		})
	}
}

// Manager.InvalidateAll(name) reaches every function memoized under name
// with the Manager, whatever its prefix or driver.
func TestManagerInvalidateAllReachesEveryPrefixAndDriver(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			ctx := testCtx(t)
			d, other := tg.open(t), tg.open(t) // two drivers on one Redis
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
			t.Cleanup(func() { m.Close() })
			var calls [3]counter
			mk := func(i int, opts ...core.Option) *core.Memo[int, int] {
				return core.Memoize(m, "inv.all", func(_ context.Context, k int) (int, error) { calls[i].inc(); return k, nil }, opts...)
			}
			fns := []*core.Memo[int, int]{
				mk(0),
				mk(1, core.WithPrefix(uniquePrefix(t))),
				mk(2, core.WithPrefix(uniquePrefix(t)), core.WithDriver(other)),
			}
			for i, f := range fns {
				f.Get(ctx, 7)
				f.Get(ctx, 7)
				if calls[i].n() != 1 {
					t.Fatalf("function %d not cached: %d loads", i, calls[i].n())
				}
			}
			if err := m.InvalidateAll(ctx, "inv.all"); err != nil {
				t.Fatal(err)
			}
			for i, f := range fns {
				f.Get(ctx, 7)
				if calls[i].n() != 2 {
					t.Fatalf("function %d (own prefix or driver: %t) was not invalidated by Manager.InvalidateAll", i, i > 0)
				}
			}
		})
	}
}

// A second live function under one prefix and name is a mistake Memoize
// refuses; a function the program dropped does not count.
func TestSecondLiveFunctionIsRefused(t *testing.T) {
	m := core.New()
	id := func(_ context.Context, i int) (int, error) { return i, nil }
	first := core.Memoize(m, "dup", id)
	func() {
		defer func() {
			r := recover()
			err, _ := r.(error)
			if !errors.Is(err, core.ErrDuplicateName) {
				t.Fatalf("a second live Memoize(m, \"dup\") panicked with %v, want ErrDuplicateName", r)
			}
		}()
		core.Memoize0(m, "dup", func(context.Context) (int, error) { return 0, nil })
	}()
	core.Memoize(m, "dup", id, core.WithPrefix("elsewhere")) // another prefix: other keys
	runtime.KeepAlive(first)
	first = nil
	core.Memoize(m, "dup", id) // the first one is gone
}
