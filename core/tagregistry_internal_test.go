package core

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// A sweep drops the records not used for the idle period, and only
// those: a dropped record refuses to be stamped, the tag gets a new
// record that knows nothing, and a function's own tags are never dropped.
func TestTagRegistrySweep(t *testing.T) {
	m := New(WithTagIdle(time.Minute))
	e := newEngine[int](m, "f", []Option{WithTags("own")})
	idle, grain := m.tagTiming()
	d := &struct{ conn.Driver }{}
	t0 := int64(1_000_000_000_000)

	old := m.tagRef("cache", "old", t0, false)
	old.gens.of(d).adopt(42, t0)
	recent := m.tagRef("cache", "recent", t0+idle/2, false)
	m.tagRef("cache", "new", t0+idle, false) // creates a record: sweeps

	if old.touch(t0+idle, grain) {
		t.Fatal("the record idle for the idle period was not dropped")
	}
	if !recent.touch(t0+idle, grain) {
		t.Fatal("a record used half an idle period ago was dropped")
	}
	if r := m.liveTagRef(old.key); r != nil {
		t.Fatal("the dropped record is still in the registry")
	}
	again := m.tagRef("cache", "old", t0+idle, false)
	if again == old || again.gens.of(d).gen.Load() != 0 {
		t.Fatal("the dropped tag did not get a new record that reads its generation again")
	}
	own := e.tags.refs[0]
	m.tagRef("cache", "later", t0+3*idle, false) // sweeps again
	if !own.touch(t0+3*idle, grain) || m.liveTagRef(own.key) != own {
		t.Fatal("a function's own tag was dropped")
	}
}

// A tag set a function kept from an earlier call is resolved again when
// one of its records was dropped: a call never reads a record that an
// InvalidateTag made since cannot reach.
func TestTagSetResolvedAfterDrop(t *testing.T) {
	m := New(WithTagIdle(time.Minute))
	e := newEngine[int](m, "f", nil)
	idle, _ := m.tagTiming()
	t0 := int64(1_000_000_000_000)
	cc := callOptions([]CallOption{Tags("t")})
	cc.since = t0
	first := e.tagsFor(&cc)
	if again := e.tagsFor(&cc); again != first {
		t.Fatal("the same tags did not reuse the kept tag set")
	}
	m.tagRef("cache", "other", t0+idle, false) // sweeps: drops t's record
	cc.since = t0 + idle
	next := e.tagsFor(&cc)
	if next == first || next.refs[0] == first.refs[0] {
		t.Fatal("a kept tag set with a dropped record was used again")
	}
	if m.liveTagRef(next.refs[0].key) != next.refs[0] {
		t.Fatal("the tag set resolved again does not hold the registry's record")
	}
}

// Calls that resolve tags while sweeps drop them never get a dropped
// record, and never leave two live records of one tag.
func TestTagRegistryConcurrent(t *testing.T) {
	m := New(WithTagIdle(time.Minute))
	e := newEngine[int](m, "f", nil)
	idle, _ := m.tagTiming()
	var clock atomic.Int64
	clock.Store(1_000_000_000_000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				now := clock.Add(idle / 64) // a few idle periods over the run
				tag := "t" + strconv.Itoa((g*7+i)%40)
				cc := callOptions([]CallOption{Tags(tag)})
				cc.since = now
				ts := e.tagsFor(&cc)
				if ts.refs[0].used.Load() == tagDropped && clock.Load()-now < idle/2 {
					t.Errorf("tagsFor returned a record dropped by a sweep of the same moment")
					return
				}
				if i%5 == 0 {
					m.tagRef("cache", "new"+strconv.Itoa(g)+"-"+strconv.Itoa(i), now, false) // starts sweeps
				}
			}
		}()
	}
	wg.Wait()
	m.tags.m.Range(func(k, v any) bool {
		if r := v.(*tagRef); r.key != k.(string) || r.used.Load() == tagDropped {
			t.Errorf("the registry holds %q under %q, used %d", r.key, k, r.used.Load())
		}
		return true
	})
}
