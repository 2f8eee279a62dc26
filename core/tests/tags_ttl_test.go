package tests_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// A tag's generation key expires (WithTagKeyTTL, 30 days by default):
// it has a TTL from its first read and again after each bump, and a key
// that is lost, as an expiry loses it, never makes a value written before
// (nor one invalidated before) a hit again.
func TestTagKeyTTL(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		tagKey := prefix + "::tag:t"
		var loads atomic.Int32
		load := func(_ context.Context, id int) (int32, error) { return loads.Add(1), nil }
		newFunc := func(opts ...core.ManagerOption) *core.Memo[int, int32] {
			m := core.New(append([]core.ManagerOption{core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix)}, opts...)...)
			t.Cleanup(func() { m.Close() })
			return core.Memoize(m, "f", load, core.WithTags("t"))
		}
		get := func(f *core.Memo[int, int32], id int) int32 {
			t.Helper()
			v, err := f.Get(ctx, id)
			if err != nil {
				t.Fatalf("Get(%d): %v", id, err)
			}
			return v
		}
		inRange := func(what string, want time.Duration) {
			t.Helper()
			if ms := pttl(t, ctx, d, tagKey); ms <= 0 || ms > want {
				t.Fatalf("%s: PTTL %s = %v; want in (0, %v]", what, tagKey, ms, want)
			}
		}

		// The default: 30 days, from the first read.
		f := newFunc()
		if v := get(f, 1); v != 1 {
			t.Fatalf("first Get = %d; want 1 (a load)", v)
		}
		inRange("default, after the first read", 30*24*time.Hour)
		if ms := pttl(t, ctx, d, tagKey); ms < 29*24*time.Hour {
			t.Fatalf("default TTL is %v; want about 30 days", ms)
		}

		// A key lost as an expiry loses it: a value written before is a
		// miss, in a process that reads the key again.
		if _, err := d.Del(ctx, tagKey); err != nil {
			t.Fatal(err)
		}
		f = newFunc(core.WithTagKeyTTL(time.Hour))
		if v := get(f, 1); v != 2 {
			t.Fatalf("Get after the tag key was lost = %d; want 2 (a load, not the value written before)", v)
		}
		inRange("recreated after loss", time.Hour)
		if v := get(f, 1); v != 2 {
			t.Fatalf("Get again = %d; want 2 (a hit)", v)
		}

		// A bump renews the TTL, even of a key that lost it.
		if v := get(f, 2); v != 3 {
			t.Fatalf("Get(2) = %d; want 3 (a load)", v)
		}
		if _, err := d.Do(ctx, "PERSIST", tagKey); err != nil {
			t.Fatal(err)
		}
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithTagKeyTTL(time.Hour))
		t.Cleanup(func() { m.Close() })
		if err := m.InvalidateTag(ctx, "t"); err != nil {
			t.Fatal(err)
		}
		inRange("after a bump", time.Hour)

		// A value written before the InvalidateTag stays a miss once the
		// bumped key is lost.
		if _, err := d.Del(ctx, tagKey); err != nil {
			t.Fatal(err)
		}
		f = newFunc(core.WithTagKeyTTL(time.Hour))
		if v := get(f, 2); v != 4 {
			t.Fatalf("Get(2) after invalidation and loss = %d; want 4 (a load)", v)
		}
		inRange("recreated after a bumped key was lost", time.Hour)

		// 0: no TTL, as function generation keys have none.
		if _, err := d.Del(ctx, tagKey); err != nil {
			t.Fatal(err)
		}
		f = newFunc(core.WithTagKeyTTL(0))
		if v := get(f, 1); v != 5 {
			t.Fatalf("Get(1) with no tag key TTL = %d; want 5 (a load)", v)
		}
		if ms := pttl(t, ctx, d, tagKey); ms != -time.Millisecond {
			t.Fatalf("WithTagKeyTTL(0): PTTL = %v; want -1ms (none)", ms)
		}
	})
}
