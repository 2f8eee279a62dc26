package core

import (
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/redcache/redcache/conn"
)

// genState is what a process knows of one function's generation on one
// Redis: the value and when it was last read.
type genState struct {
	gen  atomic.Uint64
	seen atomic.Int64 // unix nanoseconds of the last read; 0: never
}

// adopt makes gen the current generation, read or written just now.
func (s *genState) adopt(gen uint64, now int64) {
	s.gen.Store(gen)
	s.seen.Store(now)
}

// stale makes the next call re-read the generation.
func (s *genState) stale() { s.seen.Store(1) }

// genStates keeps a genState per Redis, so that a function whose calls
// resolve different drivers (a Redis per tenant) never judges one
// server's entries by another's generation. The first driver seen takes
// the fast path; others go through a map.
type genStates struct {
	first  atomic.Pointer[driverGen]
	others sync.Map // conn.Driver -> *genState
}

type driverGen struct {
	d  conn.Driver
	st genState
}

func (g *genStates) of(d conn.Driver) *genState {
	f := g.first.Load()
	if f != nil && sameDriver(f.d, d) {
		return &f.st
	}
	if f == nil {
		g.first.CompareAndSwap(nil, &driverGen{d: d})
		if f = g.first.Load(); sameDriver(f.d, d) {
			return &f.st
		}
	}
	if !reflect.TypeOf(d).Comparable() {
		return &f.st // cannot be told apart: share the first state
	}
	if st, ok := g.others.Load(d); ok {
		return st.(*genState)
	}
	st, _ := g.others.LoadOrStore(d, new(genState))
	return st.(*genState)
}

// each calls fn for every state, for messages that do not say which
// Redis they came from.
func (g *genStates) each(fn func(*genState)) {
	if f := g.first.Load(); f != nil {
		fn(&f.st)
	}
	g.others.Range(func(_, st any) bool {
		fn(st.(*genState))
		return true
	})
}

// sameDriver compares drivers without panicking on types that are not
// comparable (those are never the same, unless identical in type, when
// they are treated as one).
func sameDriver(a, b conn.Driver) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb {
		return false
	}
	if !ta.Comparable() {
		return true
	}
	return a == b
}
