package tests_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// gated is a loader that blocks its calls after the first until
// released (or, with honour, until its context ends), and returns the
// number of its call.
type gated struct {
	calls    atomic.Int64
	release  chan struct{}
	honour   bool
	ctxEnded atomic.Int64 // calls that returned because their context ended
}

func newGated(honour bool) *gated { return &gated{release: make(chan struct{}), honour: honour} }

func (g *gated) load(ctx context.Context) (int, error) {
	n := g.calls.Add(1)
	if n == 1 {
		return 1, nil
	}
	if g.honour {
		select {
		case <-g.release:
		case <-ctx.Done():
			g.ctxEnded.Add(1)
			return 0, ctx.Err()
		}
	} else {
		<-g.release
	}
	return int(n), nil
}

// A hard timeout without a fail-safe value gives up with
// ErrLoaderTimeout, whether the loader heeds its context (which is then
// cancelled) or not.
func TestHardTimeoutWithoutFallback(t *testing.T) {
	const hard = 300 * time.Millisecond
	for _, honour := range []bool{true, false} {
		name := "loader ignores its context"
		if honour {
			name = "loader heeds its context"
		}
		t.Run(name, func(t *testing.T) {
			eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
				ctx := testCtx(t)
				m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
				g := newGated(honour)
				g.calls.Store(1) // every call blocks
				defer func() { close(g.release); m.Close() }()
				get := core.Memoize0(m, "hard", g.load, core.WithTTL(time.Minute), core.WithLoaderTimeouts(0, hard))
				start := time.Now()
				v, err := get.Get(ctx)
				took := time.Since(start)
				if !errors.Is(err, core.ErrLoaderTimeout) {
					t.Fatalf("Get = %d, %v; want ErrLoaderTimeout", v, err)
				}
				if took < hard || took > 3*hard {
					t.Fatalf("Get gave up after %v, want at the hard timeout %v", took, hard)
				}
				if honour {
					eventually(t, "the loader's context to end", func() bool { return g.ctxEnded.Load() == 1 })
				}
				if _, found, _ := get.Peek(ctx); found {
					t.Fatal("a timed-out load stored a value")
				}
			})
		})
	}
	t.Run("no redis", func(t *testing.T) {
		m := core.New(core.WithCacheDisabled())
		g := newGated(false)
		g.calls.Store(1)
		defer func() { close(g.release); m.Close() }()
		get := core.Memoize0(m, "hard", g.load, core.WithLoaderTimeouts(0, hard))
		if v, err := get.Get(testCtx(t)); !errors.Is(err, core.ErrLoaderTimeout) {
			t.Fatalf("Get = %d, %v; want ErrLoaderTimeout", v, err)
		}
	})
}

// A hard timeout with a fail-safe value serves it and reports the
// timeout.
func TestHardTimeoutServesFailSafe(t *testing.T) {
	const ttl, hard = 150 * time.Millisecond, 300 * time.Millisecond
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		var log errorLog
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)), core.WithErrorHandler(log.handler))
		g := newGated(true)
		defer func() { close(g.release); m.Close() }()
		get := core.Memoize0(m, "hardfs", g.load, core.WithTTL(ttl), core.WithFailSafe(time.Minute, time.Minute),
			core.WithLoaderTimeouts(0, hard))
		if v, err := get.Get(ctx); err != nil || v != 1 {
			t.Fatalf("Get = %d, %v", v, err)
		}
		time.Sleep(ttl + 50*time.Millisecond)
		start := time.Now()
		v, err := get.Get(ctx)
		if took := time.Since(start); err != nil || v != 1 || took > 3*hard {
			t.Fatalf("Get = %d, %v after %v; want the fail-safe 1 at the hard timeout", v, err, took)
		}
		errs := log.all()
		if len(errs) != 1 || !errors.Is(errs[0], core.ErrLoaderTimeout) {
			t.Fatalf("reported %v, want one ErrLoaderTimeout", errs)
		}
		if s := m.Stats(); s.FailSafeHits != 1 {
			t.Fatalf("FailSafeHits = %d", s.FailSafeHits)
		}
	})
}

// A soft timeout serves the fail-safe value once the loader is slower
// than it; the loader goes on and its value is stored when it arrives.
// Without a fail-safe value, the soft timeout does not apply.
func TestSoftTimeout(t *testing.T) {
	const ttl, soft = 150 * time.Millisecond, 300 * time.Millisecond
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		defer m.Close()
		g := newGated(true)
		get := core.Memoize0(m, "soft", g.load, core.WithTTL(ttl), core.WithFailSafe(time.Minute, 0),
			core.WithLoaderTimeouts(soft, time.Minute))
		if v, err := get.Get(ctx); err != nil || v != 1 {
			t.Fatalf("Get = %d, %v", v, err)
		}
		time.Sleep(ttl + 50*time.Millisecond)
		start := time.Now()
		v, err := get.Get(ctx)
		if took := time.Since(start); err != nil || v != 1 || took < soft || took > 10*soft {
			t.Fatalf("Get = %d, %v after %v; want the expired 1 at the soft timeout", v, err, took)
		}
		if g.calls.Load() != 2 {
			t.Fatalf("loader calls = %d, want 2", g.calls.Load())
		}
		close(g.release) // the slow load returns now, after its caller left
		eventually(t, "the slow load's value stored", func() bool {
			v, found, _ := get.Peek(ctx)
			return found && v == 2
		})
		if v, err := get.Get(ctx); err != nil || v != 2 {
			t.Fatalf("Get after = %d, %v; want the stored 2", v, err)
		}
		if s := m.Stats(); s.FailSafeHits != 1 || s.Loads != 2 {
			t.Fatalf("Stats = %+v, want 1 fail-safe hit and 2 loads", s)
		}
	})
	t.Run("no fallback", func(t *testing.T) {
		eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
			ctx := testCtx(t)
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
			defer m.Close()
			get := core.Memoize0(m, "soft", func(context.Context) (int, error) {
				time.Sleep(2 * soft)
				return 7, nil
			}, core.WithTTL(time.Minute), core.WithLoaderTimeouts(soft, 0))
			if v, err := get.Get(ctx); err != nil || v != 7 {
				t.Fatalf("Get = %d, %v; want the loader's 7 past the soft timeout", v, err)
			}
		})
	})
}

// A Redis restart while a slow load goes on after its caller was served
// the fail-safe value: the load's store is fenced (the restart lost what
// it saw and the generation), and the next calls load afresh.
func TestSoftTimeoutAcrossRestart(t *testing.T) {
	const ttl, soft = 150 * time.Millisecond, 300 * time.Millisecond
	for _, kind := range driverKinds {
		t.Run(kind.name, func(t *testing.T) {
			r := conntest.StartRedis(t)
			d := kind.open(t, "redis://"+r.Addr())
			ctx := testCtx(t)
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
			t.Cleanup(func() { m.Close() })
			g := newGated(true)
			get := core.Memoize0(m, "restart", g.load, core.WithTTL(ttl), core.WithFailSafe(time.Minute, 0),
				core.WithLoaderTimeouts(soft, time.Minute))
			if v, err := get.Get(ctx); err != nil || v != 1 {
				t.Fatalf("Get = %d, %v", v, err)
			}
			time.Sleep(ttl + 50*time.Millisecond)
			if v, err := get.Get(ctx); err != nil || v != 1 {
				t.Fatalf("soft-timeout Get = %d, %v", v, err)
			}
			r.Restart()
			close(g.release)
			eventually(t, "a fresh value after the restart", func() bool {
				v, err := get.Get(ctx)
				if err == nil && v == 1 {
					t.Fatal("the value from before the restart came back")
				}
				return err == nil && v >= 2
			})
		})
	}
}
