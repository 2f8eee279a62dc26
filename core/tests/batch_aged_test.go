package tests_test

import (
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// With WithFailSafe, Redis keeps an entry past its expiry as the fallback
// of a failed load; a batch never serves it as a hit: past its TTL, an id
// is loaded again, as a Get loads it.
func TestBatchNeverServesExpiredAsHit(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		src := newBatchSource(3)
		m := newBatchManager(t, d, uniquePrefix(t), core.WithTTL(100*time.Millisecond), core.WithFailSafe(time.Minute, time.Second))
		b := core.MemoizeBatch(m, "aged", src.load)
		if got, err := b.GetMany(ctx, []int{1, 2, 3}); err != nil || got[1] != "v1" {
			t.Fatalf("GetMany = %v, %v", got, err)
		}
		src.set(1, "new")
		time.Sleep(200 * time.Millisecond) // past the TTL, within the fail-safe window
		got, err := b.GetMany(ctx, []int{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		if got[1] != "new" {
			t.Fatalf("id 1 past its TTL = %q, want the reloaded %q: an entry kept for fail-safe was served as a hit", got[1], "new")
		}
		if n := len(src.calls()); n != 2 {
			t.Fatalf("%d loader calls, want 2", n)
		}
	})
}
