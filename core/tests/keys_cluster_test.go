package tests_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// TestArgumentHashTagsOnRedis stores values whose arguments hold {…}
// through each driver: every value reads back under its own key, and on a
// cluster the keys spread over slots instead of piling into the slot of
// the argument's "tag"; a tag in the prefix still groups them.
func TestArgumentHashTagsOnRedis(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		for _, tc := range []struct {
			name, prefix string
			oneSlot      bool
		}{
			{"plain prefix", uniquePrefix(t), false},
			{"tagged prefix", "{" + uniquePrefix(t) + "}", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m := core.New(core.WithPrefix(tc.prefix), core.WithDriver(d), core.WithTimeout(testTimeout))
				memo := core.Memoize(m, "f", func(_ context.Context, s string) (string, error) { return "loaded " + s, nil })
				slots := map[int64]bool{}
				const n = 32
				for i := 0; i < n; i++ {
					arg := fmt.Sprintf("{tag}%d", i)
					if err := memo.Set(ctx, arg, "set "+arg); err != nil {
						t.Fatal(err)
					}
					key, err := memo.Key(arg)
					if err != nil {
						t.Fatal(err)
					}
					if strings.ContainsAny(key[len(tc.prefix):], "{}") {
						t.Fatalf("key %q: a brace from the argument", key)
					}
					t.Cleanup(func() { _, _ = d.Del(context.Background(), key) })
					slot, err := d.Do(ctx, "CLUSTER", "KEYSLOT", key)
					if err != nil {
						continue // standalone: no cluster commands
					}
					s, ok := slot.(int64)
					if !ok || s != int64(conn.Slot(key)) {
						t.Fatalf("CLUSTER KEYSLOT %q = %v, want %d", key, slot, conn.Slot(key))
					}
					slots[s] = true
				}
				for i := 0; i < n; i++ {
					arg := fmt.Sprintf("{tag}%d", i)
					v, found, err := memo.Peek(ctx, arg)
					if err != nil || !found || v != "set "+arg {
						t.Fatalf("Peek(%q) = %q, %v, %v; want %q", arg, v, found, err, "set "+arg)
					}
				}
				if len(slots) == 0 {
					if strings.Contains(t.Name(), "/cluster/") {
						t.Fatal("CLUSTER KEYSLOT failed on a cluster")
					}
					return
				}
				if tc.oneSlot && len(slots) != 1 {
					t.Errorf("a tagged prefix spread %d keys over %d slots, want 1", n, len(slots))
				}
				if !tc.oneSlot && len(slots) < n/2 {
					t.Errorf("%d keys with {tag} in their argument share %d slots", n, len(slots))
				}
			})
		}
	})
}
