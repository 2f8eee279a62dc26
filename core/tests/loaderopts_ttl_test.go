package tests_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// A loader sets a short TTL for an empty result and leaves the others at
// the function's TTL; the entries carry the TTL each load chose.
func TestLoaderSetTTL(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		defer m.Close()
		var calls counter
		get := core.Memoize(m, "search", func(ctx context.Context, q string) ([]string, error) {
			calls.inc()
			if q == "none" {
				if !core.SetTTL(ctx, 300*time.Millisecond) {
					t.Error("SetTTL in a loader that stores = false")
				}
				return nil, nil
			}
			return []string{q}, nil
		}, core.WithTTL(time.Hour))
		for _, q := range []string{"none", "some"} {
			if _, err := get.Get(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		kNone, _ := get.Key("none")
		kSome, _ := get.Key("some")
		if p := pttl(t, ctx, d, kNone); p <= 0 || p > 300*time.Millisecond {
			t.Fatalf("PTTL of the empty result = %v, want within the loader's 300ms", p)
		}
		if p := pttl(t, ctx, d, kSome); p <= 5*time.Minute {
			t.Fatalf("PTTL of the other result = %v, want the function's hour", p)
		}
		eventually(t, "the empty result to expire", func() bool {
			_, found, _ := get.Peek(ctx, "none")
			return !found
		})
		_, _ = get.Get(ctx, "none")
		_, _ = get.Get(ctx, "some")
		if n := calls.n(); n != 3 {
			t.Fatalf("loader calls = %d, want 3 (the empty result loaded twice, the other once)", n)
		}
	})
}

// DontCache keeps a value, and a cacheable error, out of the cache: the
// callers get them, the next call loads again.
func TestLoaderDontCache(t *testing.T) {
	errGone := errors.New("gone")
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		defer m.Close()
		var calls counter
		get := core.Memoize(m, "partial", func(ctx context.Context, id int) (int, error) {
			n := calls.inc()
			switch id {
			case 1: // an answer that is not final yet
				core.DontCache(ctx)
				return n, nil
			case 2: // an error negative caching would keep
				core.DontCache(ctx)
				return 0, errGone
			}
			return n, nil
		}, core.WithTTL(time.Hour), core.WithNegativeCaching(time.Hour, errGone))
		for i := 1; i <= 3; i++ {
			if v, err := get.Get(ctx, 1); err != nil || v != calls.n() {
				t.Fatalf("Get(1) #%d = %d, %v; want a fresh load", i, v, err)
			}
			if _, err := get.Get(ctx, 2); !errors.Is(err, errGone) {
				t.Fatalf("Get(2) = %v, want errGone", err)
			}
		}
		if n := calls.n(); n != 6 {
			t.Fatalf("loader calls = %d, want 6: nothing was cached", n)
		}
		for _, id := range []int{1, 2} {
			if _, found, _ := get.Peek(ctx, id); found {
				t.Fatalf("Peek(%d) found an entry the loader kept out of the cache", id)
			}
		}
		if s := m.Stats(); s.NegativeHits != 0 {
			t.Fatalf("NegativeHits = %d, want 0", s.NegativeHits)
		}
	})
}

// SetTTL and DontCache do nothing outside a load that stores.
func TestLoaderSettingsOutsideALoad(t *testing.T) {
	if core.SetTTL(context.Background(), time.Second) || core.DontCache(context.Background()) {
		t.Fatal("SetTTL or DontCache outside a loader reported success")
	}
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		defer m.Close()
		get := core.Memoize0(m, "skip", func(ctx context.Context) (bool, error) {
			return core.SetTTL(ctx, time.Second), nil
		})
		if chose, err := get.Get(ctx, core.SkipCache()); err != nil || chose {
			t.Fatalf("SetTTL under SkipCache = %v, %v; want false", chose, err)
		}
		if chose, err := get.Get(ctx); err != nil || !chose {
			t.Fatalf("SetTTL in a load that stores = %v, %v; want true", chose, err)
		}
	})
}

// A Redis restart during a load that chose its TTL: the value reaches
// its caller, the store is fenced (the restart lost the generation), and
// the next load stores with the TTL it chooses.
func TestLoaderSetTTLAcrossRestart(t *testing.T) {
	for _, kind := range driverKinds {
		t.Run(kind.name, func(t *testing.T) {
			r := conntest.StartRedis(t)
			d := kind.open(t, "redis://"+r.Addr())
			ctx := testCtx(t)
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
			t.Cleanup(func() { m.Close() })
			var calls counter
			restart := make(chan struct{})
			get := core.Memoize0(m, "restart", func(ctx context.Context) (int, error) {
				n := calls.inc()
				if n == 1 {
					<-restart
				}
				core.SetTTL(ctx, 5*time.Second)
				return n, nil
			}, core.WithTTL(time.Hour))
			done := make(chan error, 1)
			go func() {
				v, err := get.Get(ctx)
				if err == nil && v != 1 {
					err = errors.New("the first call did not get its load's value")
				}
				done <- err
			}()
			eventually(t, "the load", func() bool { return calls.n() == 1 })
			r.Restart()
			close(restart)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			eventually(t, "a value stored after the restart", func() bool {
				v, err := get.Get(ctx)
				if err != nil {
					return false
				}
				_, found, _ := get.Peek(ctx)
				return found && v >= 2
			})
			if p := pttl(t, ctx, d, get.Key()); p <= 0 || p > 5*time.Second {
				t.Fatalf("PTTL after the restart = %v, want the loader's 5s", p)
			}
		})
	}
}
