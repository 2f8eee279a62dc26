package tests_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core/format"
	"github.com/redcache/redcache/paginate"
)

// TestCorruptItemIsAMiss writes bad bytes in place of items: a page that
// holds one is a miss that names the item, never a wrong item, and the
// pages around it still read.
func TestCorruptItemIsAMiss(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		open := func(name string, cd codec.Codec) *paginate.List[product] {
			l, err := paginate.NewList(name, productID, paginate.WithDriver(d), paginate.WithPrefix(prefix), paginate.WithCodec(cd))
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		l, other := open("victim", codec.Gob), open("other", codec.Gob)
		for _, x := range []*paginate.List[product]{l, other} {
			if err := x.Replace(ctx, products(1, 30), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		hash := func(name string) string {
			v, err := d.Get(ctx, prefix+":{"+name+"}:ptr")
			if err != nil {
				t.Fatal(err)
			}
			return prefix + ":{" + name + "}:" + string(v[:16]) + ":h"
		}
		field := func(name, id string) string {
			r, err := d.Do(ctx, "HGET", hash(name), id)
			if err != nil {
				t.Fatal(err)
			}
			return r.(string)
		}
		valid := field("victim", itemID(1, 0))
		flipped := []byte(valid)
		flipped[len(flipped)-1] ^= 0x40
		for _, tc := range []struct {
			name  string
			bytes string
			cause error
		}{
			{"not an entry", "hello", format.ErrCorruptEntry},
			{"a bit flipped", string(flipped), format.ErrCorruptEntry},
			{"another list's item", field("other", itemID(1, 0)), format.ErrCorruptEntry},
			{"a newer format", "\xC5\x09" + valid[2:], format.ErrNewerEntry},
		} {
			if _, err := d.Do(ctx, "HSET", hash("victim"), itemID(1, 12), tc.bytes); err != nil {
				t.Fatal(err)
			}
			_, err := l.Page(ctx, 2, 10)
			if !errors.Is(err, paginate.ErrMiss) || !errors.Is(err, paginate.ErrCorruptItem) || !errors.Is(err, tc.cause) {
				t.Errorf("%s: %v, want ErrMiss, ErrCorruptItem and %v", tc.name, err, tc.cause)
			}
			for _, n := range []int{1, 3} {
				if _, err := l.Page(ctx, n, 10); err != nil {
					t.Errorf("%s: page %d, which does not hold it: %v", tc.name, n, err)
				}
			}
		}
		// An item missing from the hash (only its position is left).
		if _, err := d.Do(ctx, "HDEL", hash("victim"), itemID(1, 12)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Page(ctx, 2, 10); !errors.Is(err, paginate.ErrCorruptItem) {
			t.Errorf("missing item: %v, want ErrCorruptItem", err)
		}
		// The same list read with another codec: every item is foreign.
		if _, err := open("other", codec.JSON).Page(ctx, 1, 10); !errors.Is(err, paginate.ErrCorruptItem) {
			t.Errorf("read with another codec: %v, want ErrCorruptItem", err)
		}
	})
}
