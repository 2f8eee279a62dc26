package core

import (
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
