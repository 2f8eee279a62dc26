package tests_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// tagIdle is the idle period of the tests' tag records: long enough that
// a call on a loaded machine never outlives it, short for a test.
const tagIdle = 300 * time.Millisecond

// newIdleManager is a Manager whose tag records are dropped after
// tagIdle, and whose generations are otherwise trusted for an hour: a
// tag generation is read from Redis only on a record's first use.
func newIdleManager(t *testing.T, d conn.Driver, prefix string) *core.Manager {
	t.Helper()
	m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
		core.WithGenerationRefresh(time.Hour), core.WithTagIdle(tagIdle))
	t.Cleanup(func() { m.Close() })
	return m
}

// idleGet is a tagged Get that fails the test on error.
func idleGet(t *testing.T, f *core.Memo[int, int32], k int, tag string) int32 {
	t.Helper()
	v, err := f.Get(testCtx(t), k, core.Tags(tag))
	if err != nil {
		t.Fatalf("Get(%d, %s): %v", k, tag, err)
	}
	return v
}

// dropIdleTags waits for the tag records to be idle and makes the
// Manager sweep them, by a call with a tag it never met (a new record is
// what starts a sweep).
func dropIdleTags(t *testing.T, f *core.Memo[int, int32], k int) {
	t.Helper()
	time.Sleep(tagIdle + tagIdle/2)
	idleGet(t, f, k, "fresh-"+t.Name())
}

// TestTagRecordDroppedRefusesOld: a tag whose record the Manager dropped
// is read again from Redis, and a value written before the tag's
// invalidation stays a miss: the function's kept tag set, which holds the
// dropped record, is not used again after an InvalidateTag made with the
// new record.
func TestTagRecordDroppedRefusesOld(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		m := newIdleManager(t, d, uniquePrefix(t))
		var loads atomic.Int32
		f := core.Memoize(m, "f", func(context.Context, int) (int32, error) { return loads.Add(1), nil })
		if v := idleGet(t, f, 1, "t"); v != 1 {
			t.Fatalf("first Get = %d; want 1", v)
		}
		if v := idleGet(t, f, 1, "t"); v != 1 {
			t.Fatalf("second Get = %d; want the cached 1", v)
		}
		dropIdleTags(t, f, 2) // load 2
		if err := m.InvalidateTag(testCtx(t), "t"); err != nil {
			t.Fatal(err)
		}
		if v := idleGet(t, f, 1, "t"); v != 3 {
			t.Fatalf("Get after InvalidateTag = %d; want 3, a new load (1 was written before the invalidation)", v)
		}
		if v := idleGet(t, f, 1, "t"); v != 3 {
			t.Fatalf("Get after the reload = %d; want the cached 3", v)
		}
	})
}

// TestTagRecordDroppedIsReadAgain: the Manager does not keep a tag it no
// longer uses. Another process invalidates a tag; this one, which trusts
// its generations for an hour and has no near cache to be told, still
// serves the old value while it keeps the tag's record. Once the record
// was idle and dropped, the next call reads the generation from Redis
// again and loads.
func TestTagRecordDroppedIsReadAgain(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		prefix := uniquePrefix(t)
		m := newIdleManager(t, d, prefix)
		other := newIdleManager(t, d, prefix)
		var loads atomic.Int32
		f := core.Memoize(m, "f", func(context.Context, int) (int32, error) { return loads.Add(1), nil })
		if v := idleGet(t, f, 1, "t"); v != 1 {
			t.Fatalf("first Get = %d; want 1", v)
		}
		if err := other.InvalidateTag(testCtx(t), "t"); err != nil {
			t.Fatal(err)
		}
		if v := idleGet(t, f, 1, "t"); v != 1 {
			t.Fatalf("Get within the refresh interval = %d; want 1, the record not yet re-read", v)
		}
		dropIdleTags(t, f, 2) // load 2
		if v := idleGet(t, f, 1, "t"); v != 3 {
			t.Fatalf("Get once the record was dropped = %d; want 3, a load after the generation was read again", v)
		}
	})
}
