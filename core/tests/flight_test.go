package tests_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/core/format"
)

type tenantKey struct{}

// Issue 8 item 2: with a driver per tenant, two tenants missing one key
// at the same moment each run their own load, get their own value, and
// fill their own Redis.
func TestFlightsPerDriver(t *testing.T) {
	for _, tg := range raceTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			dA := tg.open(t)
			var dB conn.Driver
			if tg.name == "memory" {
				dB = tg.open(t) // another, empty, in-memory Redis
			} else {
				other := conntest.StartRedis(t)
				dB = openLike(t, tg.name, "redis://"+other.Addr())
			}
			ctx := testCtx(t)
			m := core.New(core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t))) // the driver comes from the context
			t.Cleanup(func() { m.Close() })
			var mu sync.Mutex
			loading := map[string]bool{}
			both := make(chan struct{})
			get := core.Memoize(m, "tenant", func(ctx context.Context, k string) (string, error) {
				tenant := ctx.Value(tenantKey{}).(string)
				mu.Lock()
				loading[tenant] = true
				if len(loading) == 2 {
					close(both)
				}
				mu.Unlock()
				select { // hold each load until the other tenant's started, or 2s
				case <-both:
				case <-time.After(2 * time.Second):
				}
				return tenant + ":" + k, nil
			})
			results := make(chan string, 2)
			call := func(tenant string, d conn.Driver) {
				cctx, cancel := context.WithCancel(context.WithValue(conn.With(ctx, d), tenantKey{}, tenant))
				defer cancel()
				v, err := get.Get(cctx, "k")
				if err != nil {
					t.Error(err)
				}
				results <- tenant + "=" + v
			}
			go call("A", dA)
			go call("B", dB)
			got := map[string]bool{<-results: true, <-results: true}
			if !got["A=A:k"] || !got["B=B:k"] {
				t.Fatalf("results %v: each tenant must get its own value", got)
			}
			key, _ := get.Key("k")
			for name, d := range map[string]conn.Driver{"A": dA, "B": dB} {
				b, err := d.Get(ctx, key)
				if err != nil {
					t.Fatalf("tenant %s's Redis holds nothing: %v", name, err)
				}
				ent, err := format.Parse(b)
				if err != nil || string(ent.Payload) == "" {
					t.Fatalf("tenant %s's entry: %v", name, err)
				}
			}
		})
	}
}

// Issue 8 item 11: the loader keeps the deadline of the caller that
// started it.
func TestLoadKeepsLeaderDeadline(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		t.Cleanup(func() { m.Close() })
		var got time.Time
		var has bool
		get := core.Memoize(m, "deadline", func(ctx context.Context, _ int) (int, error) {
			got, has = ctx.Deadline()
			return 1, nil
		})
		want := time.Now().Add(20 * time.Second)
		ctx, cancel := context.WithDeadline(context.Background(), want)
		defer cancel()
		if _, err := get.Get(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if !has || !got.Equal(want) {
			t.Fatalf("loader's deadline = %v (set %t), want the caller's %v", got, has, want)
		}
	})
}

// Issue 8 item 11: a load whose callers have all left is cancelled, so a
// hung dependency does not keep its key on a flight; one caller leaving
// while another waits does not cancel it. (Both callers see an entry they
// cannot use, so the second joins the first's load: see
// TestWaitersDoNotWaitForTheWrite.)
func TestLoadCancelledWhenLastWaiterLeaves(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		h := newHookDriver(d)
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		t.Cleanup(func() { m.Close() })
		var lookups atomic.Int64 // reads of the entry: a caller about to join the flight
		h.setAfter(func(_ context.Context, op, key string) {
			if op == "get" && !strings.HasSuffix(key, ":~gen") {
				lookups.Add(1)
			}
		})
		started := make(chan struct{}, 1)
		cancelled := make(chan error, 1)
		var calls counter
		get := core.Memoize(m, "hung", func(ctx context.Context, _ int) (int, error) {
			if calls.inc() == 1 {
				started <- struct{}{}
				<-ctx.Done() // a hung dependency that honours its context
				cancelled <- ctx.Err()
				return 0, ctx.Err()
			}
			return 2, nil
		})
		key, _ := get.Key(1)
		if err := d.Set(context.Background(), key, []byte("not an entry"), time.Minute); err != nil {
			t.Fatal(err)
		}
		ctx1, cancel1 := context.WithCancel(context.Background())
		ctx2, cancel2 := context.WithCancel(context.Background())
		defer cancel1()
		defer cancel2()
		errs := make(chan error, 2)
		go func() { _, err := get.Get(ctx1, 1); errs <- err }()
		<-started
		go func() { _, err := get.Get(ctx2, 1); errs <- err }()
		eventually(t, "the second caller's lookup", func() bool { return lookups.Load() == 2 })
		time.Sleep(50 * time.Millisecond) // from its lookup to the flight
		cancel1()
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("first caller = %v, want context.Canceled", err)
		}
		select {
		case err := <-cancelled:
			t.Fatalf("the load was cancelled (%v) while a caller still waited", err)
		case <-time.After(300 * time.Millisecond):
		}
		cancel2()
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("second caller = %v, want context.Canceled", err)
		}
		select {
		case <-cancelled:
		case <-time.After(5 * time.Second):
			t.Fatal("the load went on after every caller left")
		}
		// The key is not stuck: the next call loads anew.
		ctx3, cancel3 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel3()
		if v, err := get.Get(ctx3, 1); err != nil || v != 2 {
			t.Fatalf("next call = %d, %v; want a fresh load", v, err)
		}
	})
}

// A stale-while-revalidate refresh runs for the cache, not for a caller:
// its caller leaving does not cancel it.
func TestBackgroundRefreshOutlivesItsCaller(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithTTL(200*time.Millisecond), core.WithStaleWhileRevalidate(time.Minute))
		t.Cleanup(func() { m.Close() })
		var calls counter
		refreshed := make(chan error, 1)
		get := core.Memoize(m, "swr", func(ctx context.Context, _ int) (int, error) {
			n := calls.inc()
			if n == 2 {
				time.Sleep(300 * time.Millisecond)
				refreshed <- ctx.Err()
			}
			return n, nil
		})
		if v, _ := get.Get(context.Background(), 1); v != 1 {
			t.Fatalf("first = %d", v)
		}
		time.Sleep(300 * time.Millisecond) // stale now
		ctx, cancel := context.WithCancel(context.Background())
		if v, err := get.Get(ctx, 1); err != nil || v != 1 {
			t.Fatalf("stale read = %d, %v; want the stale 1 at once", v, err)
		}
		cancel()
		if err := <-refreshed; err != nil {
			t.Fatalf("the background refresh was cancelled with its caller: %v", err)
		}
		eventually(t, "the refreshed value", func() bool {
			v, _ := get.Get(context.Background(), 1)
			return v == 2
		})
	})
}
