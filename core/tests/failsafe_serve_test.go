package tests_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

var errSourceDown = errors.New("source down")

// flaky is a loader whose source can be switched off: it counts its
// calls and returns the number of its successful calls.
type flaky struct {
	calls, ok atomic.Int64
	down      atomic.Bool
}

func (f *flaky) load(context.Context) (int, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return 0, errSourceDown
	}
	return int(f.ok.Add(1)), nil
}

// outcomes records the outcome of every Get.
type outcomes struct {
	core.NopObserver
	mu  sync.Mutex
	all []core.Outcome
}

func (o *outcomes) GetEnd(_ context.Context, _ core.Call, out core.Outcome, _ error) {
	o.mu.Lock()
	o.all = append(o.all, out)
	o.mu.Unlock()
}

func (o *outcomes) last() core.Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.all) == 0 {
		return core.Outcome(255)
	}
	return o.all[len(o.all)-1]
}

// When the loader fails and the value expired within the fail-safe
// window, the expired value is served, the error reported, and the
// loader retried once per throttle interval, not on every call.
func TestFailSafeServesExpiredValue(t *testing.T) {
	const ttl, throttle = 200 * time.Millisecond, 600 * time.Millisecond
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		var log errorLog
		obs := &outcomes{}
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithErrorHandler(log.handler), core.WithObserver(obs))
		defer m.Close()
		var src flaky
		get := core.Memoize0(m, "fs", src.load, core.WithTTL(ttl), core.WithFailSafe(time.Minute, throttle))
		if v, err := get.Get(ctx); err != nil || v != 1 {
			t.Fatalf("first Get = %d, %v", v, err)
		}
		if p := pttl(t, ctx, d, get.Key()); p <= time.Minute-time.Second {
			t.Fatalf("PTTL = %v, want the ttl plus the fail-safe window", p)
		}
		time.Sleep(ttl + 50*time.Millisecond)
		src.down.Store(true)
		v, err := get.Get(ctx)
		failedAt := time.Now()
		if err != nil || v != 1 {
			t.Fatalf("Get with the source down = %d, %v; want the expired 1", v, err)
		}
		if got := obs.last(); got != core.OutcomeFailSafe || got.String() != "fail_safe" {
			t.Fatalf("outcome = %v, want fail_safe", got)
		}
		errs := log.all()
		if len(errs) != 1 || !errors.Is(errs[0], errSourceDown) {
			t.Fatalf("reported %v, want the loader's error once", errs)
		}
		var ce *core.Error
		if !errors.As(errs[0], &ce) || ce.Op != core.OpLoader {
			t.Fatalf("reported %#v, want Op %q", errs[0], core.OpLoader)
		}
		// Within the throttle: the expired value at once, no loader call.
		for i := 0; i < 20; i++ {
			if v, err := get.Get(ctx); err != nil || v != 1 {
				t.Fatalf("throttled Get = %d, %v", v, err)
			}
		}
		if n := src.calls.Load(); n != 2 && time.Since(failedAt) < throttle {
			t.Fatalf("loader calls within the throttle = %d, want 2", n)
		}
		s := m.Stats()
		if s.FailSafeHits < 21 || s.RedisErrors != 0 {
			t.Fatalf("Stats = %+v, want 21 fail-safe hits and no redis errors", s)
		}
		// After the throttle, one retry; once the source is back, a fresh value.
		time.Sleep(time.Until(failedAt.Add(throttle + 50*time.Millisecond)))
		calls := src.calls.Load()
		if v, err := get.Get(ctx); err != nil || v != 1 {
			t.Fatalf("Get after the throttle = %d, %v", v, err)
		}
		if n := src.calls.Load(); n != calls+1 {
			t.Fatalf("loader calls after the throttle = %d, want %d", n, calls+1)
		}
		time.Sleep(throttle + 50*time.Millisecond)
		src.down.Store(false)
		if v, err := get.Get(ctx); err != nil || v != 2 {
			t.Fatalf("Get with the source back = %d, %v; want a fresh 2", v, err)
		}
		if got := obs.last(); got != core.OutcomeMiss {
			t.Fatalf("outcome of the fresh load = %v, want miss", got)
		}
		if v, err := get.Get(ctx); err != nil || v != 2 || obs.last() != core.OutcomeHit {
			t.Fatalf("Get after = %d, %v, %v; want a hit on 2", v, err, obs.last())
		}
	})
}

// Fail-safe serves only values that expired by time: after Invalidate,
// InvalidateAll or a tag invalidation, a failing loader's error is
// returned. An error that negative caching keeps is an answer, returned
// too.
func TestFailSafeNeverServesInvalidated(t *testing.T) {
	const ttl = 150 * time.Millisecond
	errGone := errors.New("gone")
	cases := []struct {
		name  string
		spoil func(ctx context.Context, m *core.Manager, get *core.Memo[int, int]) error
		want  error
	}{
		{"Invalidate", func(ctx context.Context, _ *core.Manager, get *core.Memo[int, int]) error {
			return get.Invalidate(ctx, 1)
		}, errSourceDown},
		{"InvalidateAll", func(ctx context.Context, _ *core.Manager, get *core.Memo[int, int]) error {
			return get.InvalidateAll(ctx)
		}, errSourceDown},
		{"Manager.InvalidateAll", func(ctx context.Context, m *core.Manager, _ *core.Memo[int, int]) error {
			return m.InvalidateAll(ctx, "fs")
		}, errSourceDown},
		{"InvalidateTag", func(ctx context.Context, m *core.Manager, _ *core.Memo[int, int]) error {
			return m.InvalidateTag(ctx, "t")
		}, errSourceDown},
		{"negative answer", func(context.Context, *core.Manager, *core.Memo[int, int]) error { return nil }, errGone},
	}
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ctx := testCtx(t)
				m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
				defer m.Close()
				var fail atomic.Pointer[error]
				get := core.Memoize(m, "fs", func(_ context.Context, id int) (int, error) {
					if e := fail.Load(); e != nil {
						return 0, *e
					}
					return id, nil
				}, core.WithTTL(ttl), core.WithFailSafe(time.Minute, 0), core.WithTags("t"),
					core.WithNegativeCaching(time.Minute, errGone))
				if v, err := get.Get(ctx, 1); err != nil || v != 1 {
					t.Fatalf("Get = %d, %v", v, err)
				}
				time.Sleep(ttl + 50*time.Millisecond)
				if err := tc.spoil(ctx, m, get); err != nil {
					t.Fatal(err)
				}
				fail.Store(&tc.want)
				for i := 0; i < 3; i++ {
					if v, err := get.Get(ctx, 1); !errors.Is(err, tc.want) {
						t.Fatalf("Get = %d, %v; want the loader's %v, never the old value", v, err, tc.want)
					}
				}
				if s := m.Stats(); s.FailSafeHits != 0 {
					t.Fatalf("FailSafeHits = %d, want 0", s.FailSafeHits)
				}
			})
		}
	})
}

// A function without fail-safe treats an expired entry that another
// function's fail-safe kept as a miss.
func TestFailSafeOffReadsExpiredAsMiss(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		m1 := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		defer m1.Close()
		var src flaky
		keep := core.Memoize0(m1, "shared", src.load, core.WithTTL(100*time.Millisecond), core.WithFailSafe(time.Minute, 0))
		if _, err := keep.Get(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		m2 := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		defer m2.Close()
		src.down.Store(true)
		plain := core.Memoize0(m2, "shared", src.load, core.WithTTL(100*time.Millisecond))
		if _, found, _ := plain.Peek(ctx); found {
			t.Fatal("Peek found an expired value")
		}
		if v, err := plain.Get(ctx); !errors.Is(err, errSourceDown) {
			t.Fatalf("Get without fail-safe = %d, %v; want the loader's error", v, err)
		}
	})
}

// A Redis restart while fail-safe serves an expired value: the value is
// gone with Redis, so the loader's error is returned (never a value from
// before the restart), and once the source is back values are cached
// again.
func TestFailSafeAcrossRestart(t *testing.T) {
	for _, kind := range driverKinds {
		t.Run(kind.name, func(t *testing.T) {
			r := conntest.StartRedis(t)
			d := kind.open(t, "redis://"+r.Addr())
			ctx := testCtx(t)
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
			t.Cleanup(func() { m.Close() })
			var src flaky
			get := core.Memoize0(m, "restart", src.load, core.WithTTL(100*time.Millisecond), core.WithFailSafe(time.Minute, 0))
			if v, err := get.Get(ctx); err != nil || v != 1 {
				t.Fatalf("Get = %d, %v", v, err)
			}
			time.Sleep(150 * time.Millisecond)
			src.down.Store(true)
			if v, err := get.Get(ctx); err != nil || v != 1 {
				t.Fatalf("fail-safe Get = %d, %v", v, err)
			}
			r.Restart()
			eventually(t, "the loader's error after the restart", func() bool {
				v, err := get.Get(ctx)
				if err == nil && v != 1 {
					t.Fatalf("Get after the restart = %d", v)
				}
				return errors.Is(err, errSourceDown)
			})
			src.down.Store(false)
			eventually(t, "a value cached again", func() bool {
				v, err := get.Get(ctx)
				_, found, _ := get.Peek(ctx)
				return err == nil && v >= 2 && found
			})
		})
	}
}

// A loader that panics with a fail-safe value: the value is served, the
// panic reported as the loader's (a load panic, not a callback's).
func TestFailSafeLoaderPanic(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		var log errorLog
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)), core.WithErrorHandler(log.handler))
		defer m.Close()
		var calls atomic.Int64
		get := core.Memoize0(m, "panic", func(context.Context) (int, error) {
			if calls.Add(1) > 1 {
				panic("boom")
			}
			return 1, nil
		}, core.WithTTL(100*time.Millisecond), core.WithFailSafe(time.Minute, time.Minute))
		if _, err := get.Get(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		if v, err := get.Get(ctx); err != nil || v != 1 {
			t.Fatalf("Get = %d, %v; want the fail-safe 1", v, err)
		}
		if errs := log.all(); len(errs) != 1 || !errors.Is(errs[0], core.ErrPanic) {
			t.Fatalf("reported %v, want the loader's panic", errs)
		}
		if s := m.Stats(); s.LoadPanics != 1 || s.Panics != 0 || s.FailSafeHits != 1 {
			t.Fatalf("Stats = %+v, want 1 load panic, no callback panic, 1 fail-safe hit", s)
		}
	})
}
