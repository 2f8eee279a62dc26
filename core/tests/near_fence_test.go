package tests_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// Issue 8 item 5: a read of the writing process that races with
// Invalidate or Set (it reads the old value from Redis after the near
// copy was dropped, before the write) must not put the old value back in
// the near cache.
func TestNearNoRefillDuringWrite(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		for _, write := range []string{"Invalidate", "Set"} {
			t.Run(write, func(t *testing.T) {
				ctx := testCtx(t)
				h := newHookDriver(d)
				m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
					core.WithNearCache(100, time.Minute))
				t.Cleanup(func() { m.Close() })
				var version atomic.Int64
				version.Store(1)
				get := core.Memoize(m, "refill", func(context.Context, string) (int64, error) { return version.Load(), nil })
				get.Get(ctx, "warm")
				eventually(t, "the subscription", func() bool { return m.Stats().NearActive })
				if v, _ := get.Get(ctx, "k"); v != 1 { // in Redis and in the near cache
					t.Fatal("setup")
				}
				key, _ := get.Key("k")
				// Hold the write of the key until a reader has read the old
				// value from Redis.
				writing, release := make(chan struct{}), make(chan struct{})
				var once atomic.Bool
				h.setBefore(func(_ context.Context, op, k string) error {
					if k == key && (op == "set" || op == "del") && once.CompareAndSwap(false, true) {
						close(writing)
						<-release
					}
					return nil
				})
				version.Store(2)
				done := make(chan error, 1)
				go func() {
					if write == "Invalidate" {
						done <- get.Invalidate(ctx, "k")
					} else {
						done <- get.Set(ctx, "k", 2)
					}
				}()
				<-writing // the near copy is dropped, Redis still holds 1
				if v, _ := get.Get(ctx, "k"); v != 1 {
					t.Fatalf("read before the write = %d, want the 1 still in Redis", v)
				}
				close(release)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 3; i++ {
					if v, _ := get.Get(ctx, "k"); v != 2 {
						t.Fatalf("after %s returned: %d, want 2 (the near cache was refilled with the old value)", write, v)
					}
				}
			})
		}
	})
}

// Issue 8 item 6: a near copy never outlives the Redis entry it was read
// from.
func TestNearCopyNeverOutlivesEntry(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		var calls counter
		load := func(context.Context, string) (int, error) { return calls.inc(), nil }
		writer := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithTTL(600*time.Millisecond))
		t.Cleanup(func() { writer.Close() })
		reader := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithTTL(600*time.Millisecond),
			core.WithNearCache(100, time.Minute))
		t.Cleanup(func() { reader.Close() })
		w := core.Memoize(writer, "outlive", load)
		r := core.Memoize(reader, "outlive", load)
		r.Get(ctx, "warm")
		eventually(t, "the subscription", func() bool { return reader.Stats().NearActive })
		w.Get(ctx, "k") // stored for 600ms
		if v, _ := r.Get(ctx, "k"); v != 2 {
			t.Fatalf("reader = %d, want the writer's 2 from Redis", v)
		}
		r.Get(ctx, "k")
		if reader.Stats().NearHits == 0 {
			t.Fatal("no near hit while the entry lives")
		}
		time.Sleep(800 * time.Millisecond) // the entry expired in Redis
		if v, _ := r.Get(ctx, "k"); v == 2 {
			t.Fatal("the near copy outlived the Redis entry")
		}
	})
}

// Issue 8 item 7: a process without a near cache announces its explicit
// writes, on its prefix's channel, so other processes' near copies go at
// once.
func TestWritersWithoutNearCacheAnnounce(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		var version atomic.Int64
		version.Store(1)
		load := func(context.Context, string) (int64, error) { return version.Load(), nil }
		plain := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		t.Cleanup(func() { plain.Close() })
		near := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithNearCache(100, time.Minute))
		t.Cleanup(func() { near.Close() })
		w := core.Memoize(plain, "announce", load)
		r := core.Memoize(near, "announce", load)
		r.Get(ctx, "warm")
		eventually(t, "the subscription", func() bool { return near.Stats().NearActive })

		sub, err := d.Subscribe(ctx, core.InvalidationChannel+":"+prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Close() })

		for _, step := range []struct {
			name  string
			write func() error
		}{
			{"Invalidate", func() error { return w.Invalidate(ctx, "k") }},
			{"Set", func() error { return w.Set(ctx, "k", version.Load()) }},
			{"Refresh", func() error { _, err := w.Refresh(ctx, "k"); return err }},
		} {
			r.Get(ctx, "k")
			if v, _ := r.Get(ctx, "k"); v != version.Load() {
				t.Fatalf("%s: reader = %d before the write", step.name, v)
			}
			version.Add(1)
			if err := step.write(); err != nil {
				t.Fatal(err)
			}
			// The announcement is on the prefix's channel...
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			msg, err := sub.Receive(rctx)
			cancel()
			if err != nil || !strings.HasPrefix(string(msg.Payload), "k ") {
				t.Fatalf("%s: no announcement on the prefix's channel: %q, %v", step.name, msg.Payload, err)
			}
			// ...and the near copy goes well before its near ttl.
			deadline := time.Now().Add(3 * time.Second)
			for {
				if v, _ := r.Get(ctx, "k"); v == version.Load() {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s without a near cache: the other process still serves its old near copy", step.name)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
}

// A subscription that stops delivering (a half-open connection) turns
// the near cache off rather than silently losing messages.
func TestNearHalfOpenSubscription(t *testing.T) {
	for _, kind := range driverKinds {
		t.Run(kind.name, func(t *testing.T) {
			p := conntest.NewProxy(t, conntest.RedisAddr(t))
			d := kind.open(t, "redis://"+p.Addr())
			ctx := testCtx(t)
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithTimeout(300*time.Millisecond),
				core.WithNearCache(100, time.Minute))
			t.Cleanup(func() { m.Close() })
			get := core.Memoize(m, "halfopen", func(_ context.Context, k int) (int, error) { return k, nil })
			get.Get(ctx, 0)
			eventually(t, "the subscription", func() bool { return m.Stats().NearActive })
			p.Stall() // nothing goes through, nothing is closed
			start := time.Now()
			eventually(t, "the near cache to turn off", func() bool { return !m.Stats().NearActive })
			if waited := time.Since(start); waited > 8*time.Second {
				t.Fatalf("a half-open subscription went unnoticed for %v", waited)
			}
			p.Resume()
			eventually(t, "the subscription to come back", func() bool { return m.Stats().NearActive })
		})
	}
}

// Issue 8 item 7: on resubscribe, generations are marked stale: an
// InvalidateAll announced while the subscription was down is not missed
// for a whole generation refresh interval.
func TestNearResubscribeMarksGenerationsStale(t *testing.T) {
	for _, kind := range driverKinds {
		t.Run(kind.name, func(t *testing.T) {
			p := conntest.NewProxy(t, conntest.RedisAddr(t))
			ctx := testCtx(t)
			prefix := uniquePrefix(t)
			var version atomic.Int64
			version.Store(1)
			load := func(context.Context, int) (int64, error) { return version.Load(), nil }
			far := core.New(core.WithDriver(kind.open(t, "redis://"+p.Addr())), core.WithPrefix(prefix),
				core.WithTimeout(300*time.Millisecond), core.WithNearCache(100, time.Minute), core.WithGenerationRefresh(time.Hour))
			t.Cleanup(func() { far.Close() })
			direct := core.New(core.WithDriver(kind.open(t, "redis://"+conntest.RedisAddr(t))), core.WithPrefix(prefix),
				core.WithTimeout(testTimeout))
			t.Cleanup(func() { direct.Close() })
			f := core.Memoize(far, "resub", load)
			g := core.Memoize(direct, "resub", load)
			f.Get(ctx, 0)
			eventually(t, "the subscription", func() bool { return far.Stats().NearActive })
			if v, _ := f.Get(ctx, 1); v != 1 {
				t.Fatal("setup")
			}
			p.Refuse()
			p.Reset() // the subscription breaks; the announcement below is lost
			eventually(t, "the subscription to notice", func() bool { return !far.Stats().NearActive })
			version.Store(2)
			if err := g.InvalidateAll(ctx); err != nil {
				t.Fatal(err)
			}
			p.Accept()
			eventually(t, "the subscription to come back", func() bool { return far.Stats().NearActive })
			if v, err := f.Get(ctx, 1); err != nil || v != 2 {
				t.Fatalf("after resubscribing = %d, %v; want 2: the generation was not read again", v, err)
			}
		})
	}
}
