package tests_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// Issue 8 item 3: a generation read that started before this process's
// InvalidateAll and ends after it must not roll the generation back.
func TestGenerationNeverMovesBack(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		var version atomic.Int64
		version.Store(1)
		load := func(context.Context, string) (int64, error) { return version.Load(), nil }
		// Another process stores "1" for k.
		mw := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		t.Cleanup(func() { mw.Close() })
		if v, _ := core.Memoize(mw, "gen", load).Get(ctx, "k"); v != 1 {
			t.Fatal("setup")
		}
		h := newHookDriver(d)
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
			core.WithGenerationRefresh(time.Hour))
		t.Cleanup(func() { m.Close() })
		get := core.Memoize(m, "gen", load)
		held, release := make(chan struct{}), make(chan struct{})
		var once atomic.Bool
		h.setAfter(func(_ context.Context, op, key string) {
			if op == "get" && strings.HasSuffix(key, ":~gen") && once.CompareAndSwap(false, true) {
				close(held)
				<-release // the old generation is read, not yet adopted
			}
		})
		done := make(chan struct{})
		go func() { defer close(done); get.Get(ctx, "other") }()
		<-held
		version.Store(2)
		if err := get.InvalidateAll(ctx); err != nil {
			t.Fatal(err)
		}
		close(release)
		<-done
		if v, err := get.Get(ctx, "k"); err != nil || v != 2 {
			t.Fatalf("after InvalidateAll = %d, %v; want 2: an older generation read rolled it back", v, err)
		}
	})
}

// Issue 8 item 4: a lost generation key (evicted, deleted, lost in a
// failover) never makes invalidated entries hits again, in a process
// that knew the generation or in a new one.
func TestLostGenerationKey(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		var version atomic.Int64
		version.Store(1)
		load := func(context.Context, string) (int64, error) { return version.Load(), nil }
		proc := func() *core.Memo[string, int64] {
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
				core.WithGenerationRefresh(time.Millisecond))
			t.Cleanup(func() { m.Close() })
			return core.Memoize(m, "lost", load)
		}
		old := proc()
		if v, _ := old.Get(ctx, "k"); v != 1 {
			t.Fatal("setup")
		}
		genKey := prefix + ":lost:~gen"
		if _, err := d.Get(ctx, genKey); err != nil {
			t.Fatalf("no generation key after the first call: %v", err)
		}
		version.Store(2)
		if err := old.InvalidateAll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Del(ctx, genKey); err != nil {
			t.Fatal(err)
		}
		for i, p := range []*core.Memo[string, int64]{old, proc()} {
			time.Sleep(5 * time.Millisecond) // past the refresh interval
			if v, err := p.Get(ctx, "k"); err != nil || v != 2 {
				t.Fatalf("process %d after the generation key was lost = %d, %v; want 2", i+1, v, err)
			}
		}
		b, err := d.Get(ctx, genKey)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := strconv.ParseUint(string(b), 10, 64); err != nil || n < uint64(time.Now().Add(-time.Hour).UnixMicro()) {
			t.Fatalf("generation recreated as %q, want the clock in microseconds", b)
		}
	})
}

var errNodeDown = errors.New("test: node down")

// Issue 9 item 4: a function whose generation cannot be read fails open
// (it goes on with the generation it knew, without trying the read on
// every call; or, when it never knew it, to its loader) without holding
// up the others.
func TestGenerationFailsOpen(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		h := newHookDriver(d)
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithGenerationRefresh(20*time.Millisecond), core.WithBreaker(0, 0))
		t.Cleanup(func() { m.Close() })
		var aCalls, bCalls, cCalls counter
		a := core.Memoize(m, "a", func(_ context.Context, i int) (int, error) { aCalls.inc(); return i, nil })
		b := core.Memoize(m, "b", func(_ context.Context, i int) (int, error) { bCalls.inc(); return i, nil })
		c := core.Memoize(m, "c", func(_ context.Context, i int) (int, error) { cCalls.inc(); return i, nil })
		for i := 0; i < 10; i++ { // a and b are warm; c never read its generation
			a.Get(ctx, i)
			b.Get(ctx, i)
		}
		var genReads atomic.Int64
		h.setBefore(func(_ context.Context, op, key string) error {
			if strings.HasSuffix(key, ":a:~gen") {
				genReads.Add(1)
				return errNodeDown
			}
			if strings.HasSuffix(key, ":c:~gen") {
				return errNodeDown
			}
			return nil
		})
		start := time.Now()
		for round := 0; round < 20; round++ {
			for i := 0; i < 10; i++ {
				for _, f := range []*core.Memo[int, int]{a, b, c} {
					if v, err := f.Get(ctx, i); err != nil || v != i {
						t.Fatalf("Get = %d, %v", v, err)
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		elapsed := time.Since(start)
		if aCalls.n() != 10 || bCalls.n() != 10 {
			t.Fatalf("loads: a %d, b %d, want 10 each: a warm function must keep its hits", aCalls.n(), bCalls.n())
		}
		if cCalls.n() != 200 {
			t.Fatalf("c loaded %d times, want 200: without a generation it goes to its loader", cCalls.n())
		}
		// One read per retry interval (at least 50ms), not one per call.
		if max := int64(elapsed/(50*time.Millisecond)) + 2; genReads.Load() > max {
			t.Fatalf("%d generation reads in %v, want at most %d", genReads.Load(), elapsed, max)
		}
	})
}
