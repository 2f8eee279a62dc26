package core

import (
	"sync/atomic"
	"time"
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
type breaker struct {
	threshold int32
	cooldown  int64 // nanoseconds
	minSpan   int64 // nanoseconds that consecutive timeouts must span
	state     atomic.Int32
	fails     atomic.Int32
	firstFail atomic.Int64 // unix nanoseconds of the first of the consecutive failures
	openedAt  atomic.Int64 // unix nanoseconds
}

func newBreaker(threshold int, cooldown, minSpan time.Duration) *breaker {
	return &breaker{threshold: int32(threshold), cooldown: int64(cooldown), minSpan: int64(minSpan)}
}

// allow reports whether a call may use Redis. A true return must be
// followed by exactly one of success, failure or abandon.
func (b *breaker) allow(now int64) bool {
	if b == nil {
		return true
	}
	switch BreakerState(b.state.Load()) {
	case BreakerClosed:
		return true
	case BreakerOpen:
		if now-b.openedAt.Load() >= b.cooldown {
			return b.state.CompareAndSwap(int32(BreakerOpen), int32(BreakerHalfOpen))
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
		b.state.Store(int32(BreakerClosed))
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
		b.state.CompareAndSwap(int32(BreakerHalfOpen), int32(BreakerOpen))
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
	b.state.CompareAndSwap(int32(BreakerHalfOpen), int32(BreakerOpen))
}

// State returns the current state.
func (b *breaker) State() BreakerState {
	if b == nil {
		return BreakerClosed
	}
	return BreakerState(b.state.Load())
}
