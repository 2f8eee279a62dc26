package ginadapter

import (
	"reflect"
	"sync"

	"github.com/redcache/redcache/conn"
)

// The adapter's own flight: concurrent GETs of one key on one Redis wait
// for the first, which runs the lookup (and on a miss the handler) on its
// own request's goroutine, where gin expects its handlers to run. A
// waiter gets the first one's response when it could be shared (it was
// cached, or read from the cache), and runs the handler itself otherwise,
// or when the forget timeout passed first.

type flightKey struct {
	d   conn.Driver
	key string
}

type flight struct {
	done chan struct{}
	resp *response // nil: nothing to share
}

type flights struct {
	mu sync.Mutex
	m  map[flightKey]*flight
}

// join returns the flight of key on d, and whether the caller leads it.
// A driver whose type cannot be a map key shares no flight.
func (g *flights) join(d conn.Driver, key string) (*flight, bool) {
	if !reflect.TypeOf(d).Comparable() {
		return &flight{done: make(chan struct{})}, true
	}
	k := flightKey{d, key}
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[k]; ok {
		return f, false
	}
	if g.m == nil {
		g.m = make(map[flightKey]*flight)
	}
	f := &flight{done: make(chan struct{})}
	g.m[k] = f
	return f, true
}

// finish hands resp to the flight's waiters and ends it.
func (g *flights) finish(d conn.Driver, key string, f *flight, resp *response) {
	f.resp = resp
	if reflect.TypeOf(d).Comparable() {
		k := flightKey{d, key}
		g.mu.Lock()
		if g.m[k] == f {
			delete(g.m, k)
		}
		g.mu.Unlock()
	}
	close(f.done)
}
