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

// blockingLoader reads the source, then (the first time only) holds
// until released: the load in flight of a race.
type blockingLoader struct {
	source  atomic.Int64
	block   atomic.Bool
	started chan struct{}
	release chan struct{}
	calls   counter
}

func newBlockingLoader(v int64) *blockingLoader {
	l := &blockingLoader{started: make(chan struct{}, 1), release: make(chan struct{})}
	l.source.Store(v)
	l.block.Store(true)
	return l
}

func (l *blockingLoader) load(_ context.Context, _ string) (int64, error) {
	l.calls.inc()
	v := l.source.Load()
	if l.block.CompareAndSwap(true, false) {
		l.started <- struct{}{}
		<-l.release
	}
	return v, nil
}

// Issue 8 item 1: a load in flight when its key is invalidated, set or
// refreshed returns its value to its own callers but never overwrites
// the newer state, in this process or another.
func TestFenceInFlightLoadCannotUndoWrites(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		writes := map[string]func(ctx context.Context, here, there *core.Memo[string, int64]) error{
			"Invalidate": func(ctx context.Context, here, _ *core.Memo[string, int64]) error { return here.Invalidate(ctx, "k") },
			"Set":        func(ctx context.Context, here, _ *core.Memo[string, int64]) error { return here.Set(ctx, "k", 2) },
			"Refresh": func(ctx context.Context, here, _ *core.Memo[string, int64]) error {
				_, err := here.Refresh(ctx, "k")
				return err
			},
			"Invalidate other process": func(ctx context.Context, _, there *core.Memo[string, int64]) error { return there.Invalidate(ctx, "k") },
			"Set other process":        func(ctx context.Context, _, there *core.Memo[string, int64]) error { return there.Set(ctx, "k", 2) },
			"Refresh other process": func(ctx context.Context, _, there *core.Memo[string, int64]) error {
				_, err := there.Refresh(ctx, "k")
				return err
			},
		}
		for name, write := range writes {
			t.Run(name, func(t *testing.T) {
				ctx := testCtx(t)
				prefix := uniquePrefix(t)
				l := newBlockingLoader(1)
				proc := func() (*core.Manager, *core.Memo[string, int64]) {
					m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
					t.Cleanup(func() { m.Close() })
					return m, core.Memoize(m, "fence", l.load)
				}
				m1, here := proc()
				_, there := proc()
				done := make(chan int64, 1)
				go func() {
					v, err := here.Get(ctx, "k")
					if err != nil {
						t.Error(err)
					}
					done <- v
				}()
				<-l.started // the load read 1 from the source
				l.source.Store(2)
				if err := write(ctx, here, there); err != nil {
					t.Fatal(err)
				}
				close(l.release)
				if v := <-done; v != 1 {
					t.Fatalf("the load in flight returned %d to its caller, want the 1 it loaded", v)
				}
				for i, p := range []*core.Memo[string, int64]{here, there} {
					if v, err := p.Get(ctx, "k"); err != nil || v != 2 {
						t.Fatalf("process %d after the write = %d, %v; want 2: the load in flight undid the write", i+1, v, err)
					}
				}
				if s := m1.Stats(); s.FencedStores != 1 {
					t.Fatalf("FencedStores = %d, want 1", s.FencedStores)
				}
			})
		}
	})
}

// A load that ran longer than the fence window returns its value but
// does not store it: the tombstone that fenced it may have expired.
func TestFenceWindow(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		slow := atomic.Bool{}
		// A load is too late once it ran for the window less the write's
		// timeout: 1.5s - 500ms.
		m := core.New(core.WithDriver(d), core.WithTimeout(500*time.Millisecond), core.WithPrefix(uniquePrefix(t)),
			core.WithFenceWindow(1500*time.Millisecond))
		t.Cleanup(func() { m.Close() })
		var calls counter
		get := core.Memoize(m, "window", func(_ context.Context, k string) (string, error) {
			calls.inc()
			if slow.Load() {
				time.Sleep(1200 * time.Millisecond)
			}
			return "v:" + k, nil
		})
		get.Get(ctx, "warm") // connect
		slow.Store(true)
		if v, err := get.Get(ctx, "slow"); err != nil || v != "v:slow" {
			t.Fatalf("slow load = %q, %v", v, err)
		}
		key, _ := get.Key("slow")
		if _, err := d.Get(ctx, key); !errors.Is(err, conn.ErrMiss) {
			t.Fatalf("a load longer than the fence window stored its value (GET: %v)", err)
		}
		if s := m.Stats(); s.FencedStores != 1 {
			t.Fatalf("FencedStores = %d, want 1", s.FencedStores)
		}
		slow.Store(false)
		get.Get(ctx, "fast")
		key, _ = get.Key("fast")
		if _, err := d.Get(ctx, key); err != nil {
			t.Fatalf("a fast load did not store: %v", err)
		}
	})
}

// Redis restarts (losing the tombstone, the entries and the generation
// key) between a load's miss and its store: the load must not store a
// value that another process invalidated before the restart.
func TestFenceRestartBetweenMissAndStore(t *testing.T) {
	for _, kind := range driverKinds {
		t.Run(kind.name, func(t *testing.T) {
			r := conntest.StartRedis(t)
			d := kind.open(t, "redis://"+r.Addr())
			ctx := testCtx(t)
			prefix := uniquePrefix(t)
			l := newBlockingLoader(1)
			proc := func() *core.Memo[string, int64] {
				m := core.New(core.WithDriver(d), core.WithTimeout(time.Second), core.WithPrefix(prefix))
				t.Cleanup(func() { m.Close() })
				return core.Memoize(m, "restart", l.load)
			}
			here, there := proc(), proc()
			done := make(chan int64, 1)
			go func() {
				v, _ := here.Get(ctx, "k")
				done <- v
			}()
			<-l.started
			l.source.Store(2)
			if err := there.Invalidate(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			r.Restart()
			close(l.release)
			if v := <-done; v != 1 {
				t.Fatalf("the load in flight returned %d, want 1", v)
			}
			// Whatever the drivers need to reconnect, no call may ever
			// return the value loaded before the invalidation.
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				for i, p := range []*core.Memo[string, int64]{here, there} {
					if v, err := p.Get(ctx, "k"); err != nil || v != 2 {
						t.Fatalf("process %d after the restart = %d, %v; want 2", i+1, v, err)
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
