package core

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlines hands out contexts that bound a Redis call to the Manager's
// timeout.
//
// context.WithTimeout costs four allocations and a timer per call, more
// than the rest of a cache hit put together. Most calls, though, come with
// a context that can never be cancelled (context.Background and values
// on top of it); for those, one deadline context per time slice is shared
// by every call that starts in the slice. The shared deadline is the
// timeout from the slice's start, so each call gets a deadline between
// the timeout less a slice (an eighth of the timeout) and the timeout
// from its own start, at no allocation: the timeout stays a bound that no
// call overruns. A context that can be cancelled still gets its own
// WithTimeout, so that its cancellation reaches the call.
type deadlines struct {
	timeout time.Duration
	slice   int64 // nanoseconds
	cur     atomic.Pointer[sharedDeadline]
}

type sharedDeadline struct {
	ctx   context.Context
	until int64 // unix nanoseconds: calls starting before this may share ctx
	// cancel is never called: calls that started in the slice may still
	// be using ctx when the next slice begins. The context's own timer
	// releases it at the deadline.
	cancel context.CancelFunc
}

func newDeadlines(timeout time.Duration) *deadlines {
	if timeout <= 0 {
		return nil
	}
	return &deadlines{timeout: timeout, slice: max(int64(timeout/8), int64(time.Millisecond))}
}

func noop() {}

// bound returns ctx bounded by the timeout and the function that releases
// it. now is the caller's clock reading, in unix nanoseconds.
func (d *deadlines) bound(ctx context.Context, now int64) (context.Context, context.CancelFunc) {
	if d == nil {
		return ctx, noop
	}
	if dl, ok := ctx.Deadline(); ok && dl.UnixNano() <= now+int64(d.timeout) {
		return ctx, noop // the caller's deadline is the tighter bound
	}
	if ctx.Done() != nil {
		return context.WithTimeout(ctx, d.timeout)
	}
	shared := d.shared(now)
	if ctx == context.Background() || ctx == context.TODO() {
		return shared, noop
	}
	return valuesFrom{shared, ctx}, noop
}

func (d *deadlines) shared(now int64) context.Context {
	for {
		cur := d.cur.Load()
		if cur != nil && now < cur.until {
			return cur.ctx
		}
		next := &sharedDeadline{until: now + d.slice}
		next.ctx, next.cancel = context.WithDeadline(context.Background(), time.Unix(0, now+int64(d.timeout)))
		if d.cur.CompareAndSwap(cur, next) {
			return next.ctx
		}
		next.cancel() // another caller installed a slice first

	}
}

// valuesFrom is a shared deadline context that keeps the values of the
// caller's context (tracing hooks in a driver may read them). The caller's
// context cannot be cancelled, so Done and Err come from the deadline.
type valuesFrom struct {
	context.Context // the shared deadline
	values          context.Context
}

func (v valuesFrom) Value(key any) any { return v.values.Value(key) }
