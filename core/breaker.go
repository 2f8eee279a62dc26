package core

import (
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/conn"
)

// BreakerState is the state of the circuit breaker in [Stats].
type BreakerState int32

// The breaker's states.
const (
	BreakerClosed   BreakerState = iota // Redis is used
	BreakerOpen                         // Redis is skipped until the cooldown ends
	BreakerHalfOpen                     // one probe call is finding out whether Redis is back
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "unknown"
}

// MarshalText makes the state read as its name in JSON and other text
// formats.
func (s BreakerState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// breaker counts consecutive Redis failures. Closed, every call goes to
// Redis; after threshold failures it opens and calls skip Redis, so a
// dead Redis costs an atomic load per call; after the cooldown one call
// is let through as a probe (half-open), and its outcome closes or
// reopens the breaker.
//
// Timeouts are judged more slowly than refusals. A burst of callers larger
// than the connection pool makes calls time out while they wait for a
// connection, with Redis healthy; opening then would skip Redis exactly
// when the load is highest. So consecutive timeouts open the breaker only
// once they also span minSpan (twice the call timeout): a Redis that is
// really gone keeps timing out for that long, a burst does not.
//
// A probe must report, but some calls end without a Redis call to judge
// (a Refresh whose loader fails, a lookup that stops at an unreadable
// generation on another node). So a probe that has not reported within
// probeBound (the cooldown, or twice the call timeout when that is
// longer) is replaced by the next call: the breaker never stays
// half-open for good.
type breaker struct {
	threshold  int32
	cooldown   int64 // nanoseconds
	minSpan    int64 // nanoseconds that consecutive timeouts must span
	probeBound int64 // nanoseconds after which a silent probe is replaced
	state      atomic.Int32
	fails      atomic.Int32
	firstFail  atomic.Int64 // unix nanoseconds of the first of the consecutive failures
	openedAt   atomic.Int64 // unix nanoseconds
	probeAt    atomic.Int64 // unix nanoseconds the current probe was let through
	used       atomic.Int64 // unix nanoseconds of a recent allow, to the second (see breakerSet.sweep)

	// notify is the observer's, or nil; set before the breaker is shared.
	notify func(from, to BreakerState)
}

// changed tells the observer, if any, of a change of state.
func (b *breaker) changed(from, to BreakerState) {
	if b.notify != nil && from != to {
		b.notify(from, to)
	}
}

func newBreaker(threshold int, cooldown, minSpan time.Duration) *breaker {
	return &breaker{threshold: int32(threshold), cooldown: int64(cooldown), minSpan: int64(minSpan),
		probeBound: max(int64(cooldown), int64(minSpan), int64(time.Millisecond))}
}

// allow reports whether a call may use Redis. A true return must be
// followed by exactly one of success, failure or abandon.
func (b *breaker) allow(now int64) bool {
	if b == nil {
		return true
	}
	if now-b.used.Load() >= int64(time.Second) {
		b.used.Store(now)
	}
	switch BreakerState(b.state.Load()) {
	case BreakerClosed:
		return true
	case BreakerOpen:
		if now-b.openedAt.Load() >= b.cooldown {
			// The probe's start is stored first, so that no caller sees
			// the half-open state with an old start and replaces the
			// probe at once.
			b.probeAt.Store(now)
			if !b.state.CompareAndSwap(int32(BreakerOpen), int32(BreakerHalfOpen)) {
				return false
			}
			b.changed(BreakerOpen, BreakerHalfOpen)
			return true
		}
	case BreakerHalfOpen:
		// A probe that never reported is replaced.
		if p := b.probeAt.Load(); now-p >= b.probeBound {
			return b.probeAt.CompareAndSwap(p, now)
		}
	}
	return false
}

// success records a healthy Redis call and closes the breaker.
func (b *breaker) success() {
	if b == nil {
		return
	}
	if b.fails.Load() != 0 {
		b.fails.Store(0)
	}
	if b.state.Load() != int32(BreakerClosed) {
		b.changed(BreakerState(b.state.Swap(int32(BreakerClosed))), BreakerClosed)
	}
}

// failure records a failed Redis call and reports whether it opened the
// breaker. timeout tells a call that ran out of time from one that was
// refused.
func (b *breaker) failure(now int64, timeout bool) bool {
	if b == nil {
		return false
	}
	switch BreakerState(b.state.Load()) {
	case BreakerHalfOpen:
		// The probe failed: open again for a whole cooldown. The time is
		// stored first so that no reader sees the new state with the old
		// time and probes at once.
		b.openedAt.Store(now)
		if b.state.CompareAndSwap(int32(BreakerHalfOpen), int32(BreakerOpen)) {
			b.changed(BreakerHalfOpen, BreakerOpen)
		}
		return false
	case BreakerClosed:
		n := b.fails.Add(1)
		if n == 1 {
			b.firstFail.Store(now)
		}
		if n < b.threshold || (timeout && now-b.firstFail.Load() < b.minSpan) {
			return false
		}
		b.openedAt.Store(now)
		if b.state.CompareAndSwap(int32(BreakerClosed), int32(BreakerOpen)) {
			b.fails.Store(0)
			b.changed(BreakerClosed, BreakerOpen)
			return true
		}
	}
	return false
}

// abandon records a call that ended without telling anything about Redis
// (the caller's context ended): a probe gives its turn back.
func (b *breaker) abandon() {
	if b == nil {
		return
	}
	if b.state.CompareAndSwap(int32(BreakerHalfOpen), int32(BreakerOpen)) {
		b.changed(BreakerHalfOpen, BreakerOpen)
	}
}

// State returns the current state.
func (b *breaker) State() BreakerState {
	if b == nil {
		return BreakerClosed
	}
	return BreakerState(b.state.Load())
}

// breakerKey names one breaker of a Manager: one per Redis node of each
// resolved driver, and per breaker settings, so that a function memoized
// with its own [WithBreaker] (or [WithTimeout], which sets how long
// timeouts must last) is judged by its own.
type breakerKey struct {
	d     conn.Driver  // nil for a driver whose type is not comparable
	typ   reflect.Type // the driver's type
	node  string       // conn.NodeOf: "" for a single node
	fails int
	wait  time.Duration
	span  time.Duration
}

// breakerSet holds a Manager's breakers. Breakers of drivers no longer
// used (a Redis per tenant, opened on demand and dropped) are released
// by a sweep that runs, at most once per idle period, when a new breaker
// is made.
type breakerSet struct {
	m         sync.Map // breakerKey -> *breaker
	idle      time.Duration
	lastSweep atomic.Int64 // unix nanoseconds
	// forget is told about every driver whose last breaker was released,
	// so that its other per-driver state (generations) goes too.
	forget func(d conn.Driver)
	// observer, if any, is told of every breaker's changes of state.
	observer Observer
}

// defaultBreakerIdle is how long a breaker unused is kept.
const defaultBreakerIdle = 10 * time.Minute

func (s *breakerSet) get(k breakerKey, now int64) *breaker {
	if b, ok := s.m.Load(k); ok {
		return b.(*breaker)
	}
	s.sweep(now)
	nb := newBreaker(k.fails, k.wait, k.span)
	nb.notify = breakerNotifier(s.observer, k.d, k.node)
	nb.used.Store(now)
	b, _ := s.m.LoadOrStore(k, nb)
	return b.(*breaker)
}

// sweep releases the breakers not used for the idle period, and then the
// other state of the drivers that have none left.
func (s *breakerSet) sweep(now int64) {
	idle := int64(s.idle)
	if idle <= 0 {
		idle = int64(defaultBreakerIdle)
	}
	last := s.lastSweep.Load()
	if now-last < idle || !s.lastSweep.CompareAndSwap(last, now) {
		return
	}
	dropped := map[breakerKey]bool{}
	live := map[conn.Driver]bool{}
	s.m.Range(func(k, b any) bool {
		bk := k.(breakerKey)
		if now-b.(*breaker).used.Load() >= idle {
			s.m.CompareAndDelete(k, b)
			dropped[bk] = true
		} else if bk.d != nil {
			live[bk.d] = true
		}
		return true
	})
	if s.forget == nil {
		return
	}
	told := map[conn.Driver]bool{}
	for k := range dropped {
		if k.d != nil && !live[k.d] && !told[k.d] {
			told[k.d] = true
			s.forget(k.d)
		}
	}
}

// each calls fn for every breaker.
func (s *breakerSet) each(fn func(*breaker)) {
	s.m.Range(func(_, b any) bool {
		fn(b.(*breaker))
		return true
	})
}

// forgetDriver releases what a memoized function keeps for d (its
// generation and its flights there) once the Manager found d unused: a
// driver per tenant, opened on demand and dropped, must not leave state
// behind for good.
func (w weakEngine[V]) forgetDriver(d conn.Driver) {
	if e := w.p.Value(); e != nil {
		e.gens.release(d)
	}
}

// release drops the state kept for d. A call that resolves d again starts
// afresh: it reads the generation from Redis, which only moves forward.
func (g *genStates) release(d conn.Driver) {
	if f := g.first.Load(); f != nil && f.d == d {
		g.first.CompareAndSwap(f, nil)
	}
	if t := reflect.TypeOf(d); t != nil && t.Comparable() {
		g.others.Delete(d)
	}
}
