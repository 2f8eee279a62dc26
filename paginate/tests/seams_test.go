package tests_test

import (
	"testing"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/core/format"
	"github.com/redcache/redcache/paginate"
)

// A memoized list follows its core function: with a Manager that fixes
// its driver and its codec, and no driver in the call's context, the list
// is written to that driver (so the second page is served from Redis,
// not loaded again) and its items are encoded with that codec.
func TestMemoizeFollowsTheFunctionsDriverAndCodec(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t) // no conn.With: only the Manager knows the driver
		cat := &catalogue{size: 12}
		m := newManager(t, core.WithDriver(d), core.WithCodec(codec.JSON))
		memo := paginate.Memoize(m, "fixed", cat.load, paginate.WithTTL(time.Minute))
		for _, n := range []int{1, 2, 1} {
			p, err := memo.Get(ctx, "tools", n, 5)
			if err != nil {
				t.Fatalf("page %d: %v", n, err)
			}
			if len(p.Items) != 5 || p.Total != 12 {
				t.Fatalf("page %d: %d items of %d, want 5 of 12", n, len(p.Items), p.Total)
			}
		}
		if n := cat.calls.Load(); n != 1 {
			t.Errorf("loader ran %d times for three pages, want once: the list was not written to the Manager's driver", n)
		}

		key, err := memo.Key("tools")
		if err != nil {
			t.Fatal(err)
		}
		jsonID, _ := codec.ID(codec.JSON)
		items := 0
		for _, k := range keysUnder(ctx, t, d, "paginate:{"+key+"}") {
			if typ, err := d.Do(ctx, "TYPE", k); err != nil || typ != "hash" {
				continue
			}
			r, err := d.Do(ctx, "HVALS", k)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range r.([]any) {
				var b []byte
				switch v := v.(type) {
				case string:
					b = []byte(v)
				case []byte:
					b = v
				}
				e, err := format.Parse(b)
				if err != nil {
					t.Fatalf("item in %s: %v", k, err)
				}
				if e.Codec != jsonID {
					t.Errorf("item in %s has codec %d, want JSON's %d (the function's codec)", k, e.Codec, jsonID)
				}
				items++
			}
		}
		if items != 12 {
			t.Errorf("found %d items in Redis under the list's keys, want 12", items)
		}
	})
}
