package tests_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// Peek with Tags reads the entry a Get with the same tags stored, in
// Memo, Memo0 and Memo2, and no longer once one of the tags is
// invalidated; without the call's tags the entry is not the one Peek
// expects, and it is a miss.
func TestPeekCallTags(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		t.Cleanup(func() { m.Close() })
		var loads atomic.Int32
		one := core.Memoize(m, "one", func(_ context.Context, id int) (int32, error) { return loads.Add(1), nil }, core.WithTags("fn"))
		zero := core.Memoize0(m, "zero", func(context.Context) (int32, error) { return loads.Add(1), nil })
		two := core.Memoize2(m, "two", func(_ context.Context, a, b int) (int32, error) { return loads.Add(1), nil })

		type peeker struct {
			name string
			get  func(opts ...core.CallOption) (int32, error)
			peek func(opts ...core.CallOption) (int32, bool, error)
		}
		peekers := []peeker{
			{"Memo",
				func(opts ...core.CallOption) (int32, error) { return one.Get(ctx, 1, opts...) },
				func(opts ...core.CallOption) (int32, bool, error) { return one.Peek(ctx, 1, opts...) }},
			{"Memo0",
				func(opts ...core.CallOption) (int32, error) { return zero.Get(ctx, opts...) },
				func(opts ...core.CallOption) (int32, bool, error) { return zero.Peek(ctx, opts...) }},
			{"Memo2",
				func(opts ...core.CallOption) (int32, error) { return two.Get(ctx, 1, 2, opts...) },
				func(opts ...core.CallOption) (int32, bool, error) { return two.Peek(ctx, 1, 2, opts...) }},
		}
		tags := core.Tags("page:/a", "site")
		for _, p := range peekers {
			want, err := p.get(tags)
			if err != nil {
				t.Fatalf("%s: Get: %v", p.name, err)
			}
			if v, found, err := p.peek(tags); err != nil || !found || v != want {
				t.Fatalf("%s: Peek with the Get's tags = %d, %v, %v; want %d, true, nil", p.name, v, found, err, want)
			}
			if v, found, err := p.peek(core.Tags("site", "page:/a", "site")); err != nil || !found || v != want {
				t.Fatalf("%s: Peek with the same tags reordered = %d, %v, %v; want %d, true, nil", p.name, v, found, err, want)
			}
			if _, found, err := p.peek(); err != nil || found {
				t.Fatalf("%s: Peek without the call's tags = found %v, %v; want a miss", p.name, found, err)
			}
		}
		if err := m.InvalidateTag(ctx, "page:/a"); err != nil {
			t.Fatal(err)
		}
		for _, p := range peekers {
			if _, found, err := p.peek(tags); err != nil || found {
				t.Fatalf("%s: Peek after InvalidateTag = found %v, %v; want a miss", p.name, found, err)
			}
		}
		// The function's own tags still count without call options.
		v, err := one.Get(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		if got, found, err := one.Peek(ctx, 3); err != nil || !found || got != v {
			t.Fatalf("Peek(3) = %d, %v, %v; want %d, true, nil", got, found, err, v)
		}
		if err := m.InvalidateTag(ctx, "fn"); err != nil {
			t.Fatal(err)
		}
		if _, found, err := one.Peek(ctx, 3); err != nil || found {
			t.Fatalf("Peek(3) after the function's tag was invalidated = found %v, %v; want a miss", found, err)
		}
	})
}
