package core

import (
	"context"
	"sync"
	"time"
)

// A Redis in trouble is reported on every call: a full Redis (OOM) under
// load produced 100,000 reports in 4 seconds. ThrottleErrors and
// SampleErrors pass on a bounded part of them and say, in the next one
// they pass, how many they dropped; Stats still counts every one.

// ThrottleErrors returns a handler that passes on to h at most burst
// reports per period per, for each kind of report (the same Op and
// function Name: a flood of one kind does not hide another). A report it
// drops is counted, and the next one of its kind that passes carries the
// count in [Error.Suppressed]. A count is passed on only with a later
// report of its kind: when the trouble stops, the last count stays in
// [Stats] alone.
//
// per <= 0 or burst <= 0 passes everything; a nil h gives nil.
func ThrottleErrors(h ErrorHandler, per time.Duration, burst int) ErrorHandler {
	if h == nil || per <= 0 || burst <= 0 {
		return h
	}
	var limits reportKinds
	return func(ctx context.Context, err *Error) {
		k := limits.of(err)
		now := time.Now().UnixNano()
		k.mu.Lock()
		if now-k.start >= int64(per) {
			k.start, k.passed = now, 0
		}
		pass := k.passed < burst
		var dropped uint64
		if pass {
			k.passed++
			dropped, k.dropped = k.dropped, 0
		} else {
			k.dropped++
		}
		k.mu.Unlock()
		if pass {
			passOn(ctx, h, err, dropped)
		}
	}
}

// SampleErrors returns a handler that passes on to h one report in every
// n of each kind (the same Op and function Name): the first, the n+1th,
// and so on. Each report it passes carries in [Error.Suppressed] how many
// of its kind it dropped since the last. n <= 1 passes everything; a nil
// h gives nil.
func SampleErrors(h ErrorHandler, n int) ErrorHandler {
	if h == nil || n <= 1 {
		return h
	}
	var kinds reportKinds
	return func(ctx context.Context, err *Error) {
		k := kinds.of(err)
		k.mu.Lock()
		pass := k.seen%uint64(n) == 0
		k.seen++
		var dropped uint64
		if pass {
			dropped, k.dropped = k.dropped, 0
		} else {
			k.dropped++
		}
		k.mu.Unlock()
		if pass {
			passOn(ctx, h, err, dropped)
		}
	}
}

// passOn calls h with a copy of err that carries dropped more suppressed
// reports, so that a report shared with other handlers is not changed.
func passOn(ctx context.Context, h ErrorHandler, err *Error, dropped uint64) {
	if dropped == 0 {
		h(ctx, err)
		return
	}
	e := *err
	e.Suppressed += dropped
	h(ctx, &e)
}

// reportKind is the state of one kind of report in a throttling or
// sampling handler.
type reportKind struct {
	mu      sync.Mutex
	start   int64 // unix nanoseconds the current period began (ThrottleErrors)
	passed  int   // reports passed in the current period (ThrottleErrors)
	seen    uint64
	dropped uint64 // since the last report passed
}

type kindKey struct {
	op   Op
	name string
}

// reportKinds holds the kinds seen: a few per memoized function, so it
// stays small.
type reportKinds struct{ m sync.Map } // kindKey -> *reportKind

func (r *reportKinds) of(err *Error) *reportKind {
	k := kindKey{err.Op, err.Name}
	if v, ok := r.m.Load(k); ok {
		return v.(*reportKind)
	}
	v, _ := r.m.LoadOrStore(k, new(reportKind))
	return v.(*reportKind)
}
