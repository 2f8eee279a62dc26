package tests_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// nearWarm waits for m's subscription, then has get read key back from
// Redis into the near cache.
func nearWarm(t *testing.T, m *core.Manager, get func() error) {
	t.Helper()
	if err := get(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the subscription", func() bool { return m.Stats().NearActive })
	if err := get(); err != nil {
		t.Fatal(err)
	}
}

// A near hit is looked up with the key built on the stack: it must find
// what the Redis path stored under the key string, for every kind of
// argument, a hashed long key included, and drop it on Invalidate as
// before.
func TestNearHitKeys(t *testing.T) {
	long := strings.Repeat("long argument ", 40) // past the key length limit: hashed
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithNearCache(1000, time.Minute))
		t.Cleanup(func() { m.Close() })
		version := 1
		var calls counter
		one := core.Memoize(m, "one", func(_ context.Context, s string) (string, error) {
			calls.inc()
			return s + "/" + string(rune('0'+version)), nil
		})
		two := core.Memoize2(m, "two", func(_ context.Context, a int, b string) (string, error) {
			calls.inc()
			return b + "/" + string(rune('0'+version)), nil
		})
		for _, arg := range []string{"a", "", "a:b", long} {
			nearWarm(t, m, func() error { _, err := one.Get(ctx, arg); return err })
			nearWarm(t, m, func() error { _, err := two.Get(ctx, 7, arg); return err })
			key, _ := one.Key(arg)
			if strings.Contains(key, "long argument") {
				t.Fatalf("a long key is not hashed: %q", key)
			}
			before, loads := m.Stats().NearHits, calls.n()
			for range 3 {
				if v, err := one.Get(ctx, arg); err != nil || v != arg+"/1" {
					t.Fatalf("one(%.10q) = %q, %v", arg, v, err)
				}
				if v, err := two.Get(ctx, 7, arg); err != nil || v != arg+"/1" {
					t.Fatalf("two(7, %.10q) = %q, %v", arg, v, err)
				}
			}
			if got := m.Stats().NearHits - before; got != 6 || calls.n() != loads {
				t.Fatalf("arg %.10q: %d near hits and %d loads, want 6 and 0", arg, got, calls.n()-loads)
			}
		}
		// A near hit never outlives an invalidation of its key.
		version = 2
		for _, arg := range []string{"a", long} {
			if err := one.Invalidate(ctx, arg); err != nil {
				t.Fatal(err)
			}
			if err := two.Invalidate(ctx, 7, arg); err != nil {
				t.Fatal(err)
			}
			if v, _ := one.Get(ctx, arg); v != arg+"/2" {
				t.Fatalf("one(%.10q) after Invalidate = %q", arg, v)
			}
			if v, _ := two.Get(ctx, 7, arg); v != arg+"/2" {
				t.Fatalf("two(7, %.10q) after Invalidate = %q", arg, v)
			}
		}
	})
}

// A near copy is never served past the Redis entry's expiry, with a near
// ttl far longer: the near hit's clock must not lag behind the one the
// expiry was judged by.
func TestNearHitEntryExpiry(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		const ttl = 400 * time.Millisecond
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithNearCache(100, time.Hour))
		t.Cleanup(func() { m.Close() })
		var calls counter
		get := core.Memoize(m, "exp", func(context.Context, int) (time.Time, error) {
			calls.inc()
			return time.Now(), nil
		}, core.WithTTL(ttl))
		nearWarm(t, m, func() error { _, err := get.Get(ctx, 1); return err })
		for deadline := time.Now().Add(3 * ttl); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			v, err := get.Get(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			// The value was made by the loader just before it was
			// stored: its entry expired about ttl after it (the margin
			// is for a slow store on a busy machine).
			if age := time.Since(v); age > ttl+ttl/2 {
				t.Fatalf("served a value %v old, past its ttl of %v", age, ttl)
			}
		}
		if s := m.Stats(); s.NearHits == 0 || calls.n() < 3 {
			t.Fatalf("want near hits and reloads: %+v, %d loads", s, calls.n())
		}
	})
}
