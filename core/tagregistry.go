package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// The tag registry. A Manager keeps a record (a *tagRef: what the process
// knows of the tag's generation on each Redis) for every tag its calls
// use. Tags can be as many as the values they group (a tag per path, per
// row, per user), so records not used for [WithTagIdle] (10 minutes by
// default) are dropped, as idle breakers are: the registry holds the
// tags used in the last idle period or so, not every tag the process
// ever met.
//
// Dropping is safe because a record is only a cache of Redis: a tag whose
// record was dropped gets a new one, which knows nothing and reads the
// generation from Redis on its first use, as a process that just started
// does. That read never takes the process back: Redis holds the latest
// generation any process wrote (the bump script only moves it forward,
// and a lost key is created again from the clock, ahead of what was
// lost), and this process only ever adopted generations it read from
// Redis or wrote there itself, so what it reads is at least what the
// dropped record knew. An entry written before the tag's last
// invalidation still holds a generation mixed from older values, and
// stays a miss.
//
// What could take it back is a caller still holding the dropped record
// after a new one learned a newer generation (an InvalidateTag made
// since): the dropped record would keep the old generation, and the
// caller would call the old entry a hit. Two rules prevent it. A record
// is marked dropped (its used stamp set to tagDropped, by compare and
// swap) before it leaves the map, so a caller that stamps it either sees
// the mark and resolves the tag again, or stamps it first and makes the
// sweep's swap fail. And the tag sets a function keeps between calls
// (tagSetCache) are checked on every call: one with a dropped record is
// resolved again. A call stamps its records when it starts and reads
// them only during its lookup, which ends long before a record it
// stamped can be idle; after a load, the store check reads every
// generation from Redis, not from the records. The records of a
// function's own tags (WithTags) are pinned: they are used by every call
// of a function that lives as long as its Manager may.

// tagRegistry holds a Manager's tag records by generation key. Its zero
// value is empty and ready.
type tagRegistry struct {
	m         sync.Map     // tag generation key -> *tagRef
	lastSweep atomic.Int64 // unix nanoseconds of the last sweep
}

// The used stamps of a record that are not times.
const (
	tagDropped = -1 // dropped by a sweep: resolve the tag again
	tagPinned  = -2 // a function's own tag: never dropped
)

// defaultTagIdle is how long a tag record may go unused before a sweep
// drops it, without WithTagIdle.
const defaultTagIdle = 10 * time.Minute

// WithTagIdle sets how long the Manager keeps what it knows of a tag
// that no call used (10 minutes by default; 0 keeps the default): a
// record per tag, with the tag's generation on each Redis. Past it, the
// record is dropped, and the tag's generation is read from Redis again
// when a call next uses it, so that a process that meets a new tag on
// every request (a tag per path) does not keep every tag it ever met.
// Dropping a record never makes a value invalidated before reachable
// again. It is a [ManagerOption] only, given to [New]; the tags a
// function is memoized with ([WithTags]) are never dropped.
func WithTagIdle(d time.Duration) ManagerOption {
	return managerOption(func(c *config) { c.tagIdle = max(d, 0) })
}

// tagTiming returns the idle period after which a record is dropped, and
// the grain of its used stamp: a call stamps a record only when the
// stamp is older than the grain, so that the hot path of a popular tag
// reads the stamp without writing it.
func (m *Manager) tagTiming() (idle, grain int64) {
	idle = int64(m.cfg.tagIdle)
	if idle <= 0 {
		idle = int64(defaultTagIdle)
	}
	return idle, min(idle/8, int64(time.Second))
}

// touch stamps r as used at now; false when r was dropped, and the tag
// must be resolved again.
func (r *tagRef) touch(now, grain int64) bool {
	for {
		switch u := r.used.Load(); {
		case u == tagPinned:
			return true
		case u == tagDropped:
			return false
		case now-u < grain:
			return true
		case r.used.CompareAndSwap(u, now):
			return true
		}
	}
}

// pin marks r as never dropped; false when it was dropped already.
func (r *tagRef) pin() bool {
	for {
		switch u := r.used.Load(); {
		case u == tagPinned:
			return true
		case u == tagDropped:
			return false
		case r.used.CompareAndSwap(u, tagPinned):
			return true
		}
	}
}

// tagRef returns the Manager's live record of tag under prefix, stamped
// as used at now (pinned when pin is set): the existing one, or a new one
// that knows nothing yet. Creating a record may start a sweep.
func (m *Manager) tagRef(prefix, tag string, now int64, pin bool) *tagRef {
	key := tagKey(prefix, tag)
	idle, grain := m.tagTiming()
	for {
		if v, ok := m.tags.m.Load(key); ok {
			r := v.(*tagRef)
			if pin && r.pin() || !pin && r.touch(now, grain) {
				return r
			}
			m.tags.m.CompareAndDelete(key, r) // dropped: its sweep is deleting it
			continue
		}
		r := &tagRef{key: key}
		if pin {
			r.used.Store(tagPinned)
		} else {
			r.used.Store(now)
		}
		if _, loaded := m.tags.m.LoadOrStore(key, r); loaded {
			continue // another caller made it first: stamp that one
		}
		m.tags.sweep(now, idle)
		return r
	}
}

// liveTagRef returns the live record of the tag whose generation key is
// key, or nil when the registry holds none.
func (m *Manager) liveTagRef(key string) *tagRef {
	if v, ok := m.tags.m.Load(key); ok {
		if r := v.(*tagRef); r.used.Load() != tagDropped {
			return r
		}
	}
	return nil
}

// sweep drops the records not used for idle, at most once every quarter
// of idle: it runs when a record is created, so a registry that does not
// grow is not swept.
func (g *tagRegistry) sweep(now, idle int64) {
	last := g.lastSweep.Load()
	if now-last < idle/4 || !g.lastSweep.CompareAndSwap(last, now) {
		return
	}
	g.m.Range(func(k, v any) bool {
		r := v.(*tagRef)
		u := r.used.Load()
		if u >= 0 && now-u >= idle && r.used.CompareAndSwap(u, tagDropped) {
			g.m.CompareAndDelete(k, r)
		}
		return true
	})
}

// each calls fn for every live record.
func (g *tagRegistry) each(fn func(*tagRef)) {
	g.m.Range(func(_, v any) bool {
		if r := v.(*tagRef); r.used.Load() != tagDropped {
			fn(r)
		}
		return true
	})
}

// live reports whether no record of ts was dropped, stamping each as used
// at now.
func (ts *tagSet) live(now, grain int64) bool {
	for _, r := range ts.refs {
		if !r.touch(now, grain) {
			return false
		}
	}
	return true
}
