package core

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlines hands out contexts that bound a Redis call to the Manager's
// timeout, at no allocation on a hit.
//
// context.WithTimeout costs four or five allocations and a timer per call,
// more than the rest of a cache hit put together. bound avoids it in each
// of the three cases a call can be in:
//
//   - The caller's deadline comes no later than the timeout: the caller's
//     context is the bound, as it is.
//   - The caller's context can never be cancelled (context.Background and
//     values on top of it): one deadline context per time slice is shared
//     by every call that starts in the slice. The shared deadline is the
//     timeout from the slice's start, so each call gets a deadline between
//     the timeout less a slice (an eighth of the timeout) and the timeout
//     from its own start: the timeout stays a bound that no call overruns.
//   - The caller's context can be cancelled (an HTTP handler's): a pooled
//     [boundCtx] with the call's own deadline, the timeout from its start.
//     Its timer, made once per pooled context, closes its Done channel at
//     the deadline. Being told of the caller's cancellation at once would
//     take an allocation (context.AfterFunc) or a goroutine per call, so
//     the same timer looks at the caller's context every slice instead:
//     its cancellation reaches a Redis call that is still waiting within
//     a slice, and reaches at once anything that asks the context's Err.
//     A Redis call of a hit takes well under a slice, so on a hit the
//     timer never fires: arming and stopping it is the whole cost.
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
//
// The release function must be called exactly once, when the bounded
// calls have returned, and the context must not be used after it: it may
// be a pooled context, handed to another call once released. Calling it
// twice panics when the second call is noticed.
func (d *deadlines) bound(ctx context.Context, now int64) (context.Context, context.CancelFunc) {
	if d == nil {
		return ctx, noop
	}
	if dl, ok := ctx.Deadline(); ok && dl.UnixNano() <= now+int64(d.timeout) {
		return ctx, noop // the caller's deadline is the tighter bound
	}
	if ctx.Done() != nil {
		b := acquireBound(ctx, now, int64(d.timeout), d.slice)
		return b, b.release
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

// Value asks the shared deadline first: it answers only the context
// package's own key for its cancellation state, with which a context
// derived from this one (context.AfterFunc, WithTimeout: radix's stall
// watch) registers with the deadline's Done channel instead of starting a
// goroutine to wait for it. Every other key is the caller's.
func (v valuesFrom) Value(key any) any {
	if x := v.Context.Value(key); x != nil {
		return x
	}
	return v.values.Value(key)
}

// boundCtx is the context of one bounded Redis call whose caller's
// context can be cancelled: the caller's values, its cancellation, and
// the call's own deadline (see [deadlines]). It is pooled: a context that
// ended (deadline or cancellation) is never reused, so a context's Done
// channel, once closed, stays closed; one released before it ended goes
// back to the pool with its timer, its Done channel and its registry of
// derived contexts.
type boundCtx struct {
	// inner provides the Done channel and the registry of contexts
	// derived from this one: the context package registers them with it
	// (see Value) rather than starting a goroutine each. It is never
	// cancelled while the boundCtx is pooled.
	inner  context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer // fires fire; stopped while pooled
	// release is b.releaseOnce as a func value, made once so that bound
	// does not allocate a closure per call.
	release context.CancelFunc

	// mu guards active and parent. A driver's goroutine may ask a
	// context's Err or Value a moment after the call that used it
	// returned (radix's connection writer does), when it may already
	// serve the next call: parent is only read under mu, so such a late
	// look gets an answer (the next call's) and never a torn interface.
	mu     sync.Mutex
	active bool   // between acquireBound and release
	use    uint64 // counts the calls b served, so that a late look is told apart
	parent context.Context
	dl     atomic.Int64 // deadline, unix nanoseconds
	poll   int64        // how often the timer looks at parent, nanoseconds; under mu
	// ended is why the context ended: 0 not yet, endDeadline, endParent
	// (Err is then the parent's).
	ended atomic.Uint32
}

const (
	endDeadline = 1 + iota
	endParent
)

var boundPool sync.Pool // of *boundCtx

func newBound() *boundCtx {
	b := &boundCtx{}
	b.inner, b.cancel = context.WithCancelCause(context.Background())
	b.timer = time.AfterFunc(time.Hour, b.fire)
	b.timer.Stop()
	b.release = b.releaseOnce
	return b
}

// acquireBound returns a context of parent that ends timeout nanoseconds
// after now (unix nanoseconds, the caller's clock reading: reading the
// clock again costs a hit more than the rest of this) at the latest,
// looking at parent every poll nanoseconds.
func acquireBound(parent context.Context, now, timeout, poll int64) *boundCtx {
	b, _ := boundPool.Get().(*boundCtx)
	if b == nil {
		b = newBound()
	}
	b.mu.Lock()
	b.active = true
	b.use++
	b.parent, b.poll = parent, poll
	b.dl.Store(now + timeout)
	if parent.Err() != nil {
		b.endLocked(endParent) // over already: a driver sends nothing
	} else {
		b.timer.Reset(time.Duration(min(poll, timeout)))
	}
	b.mu.Unlock()
	return b
}

// releaseOnce ends the call's use of b. b goes back to the pool unless it
// ended, or its timer is firing and may still look at it.
func (b *boundCtx) releaseOnce() {
	b.mu.Lock()
	if !b.active {
		b.mu.Unlock()
		panic("redcache: a bounded context was released twice")
	}
	b.active = false
	reusable := b.timer.Stop() && b.ended.Load() == 0
	if reusable {
		// The caller's values are not kept alive in the pool. A driver's
		// goroutine may still hold the context for a moment after the
		// call returned (radix's writer asks a written command's Err):
		// it finds a parent that never ends, never a nil one. A context
		// that ended keeps its parent.
		b.parent = context.Background()
	}
	b.mu.Unlock()
	if reusable {
		boundPool.Put(b)
	}
}

// fire is the timer: it ends b at its deadline or when its parent ended,
// or else looks again a poll later.
func (b *boundCtx) fire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.active || b.ended.Load() != 0 {
		return
	}
	if b.parent.Err() != nil {
		b.endLocked(endParent)
		return
	}
	now, dl := time.Now().UnixNano(), b.dl.Load()
	if now >= dl {
		b.endLocked(endDeadline)
		return
	}
	b.timer.Reset(time.Duration(min(b.poll, dl-now)))
}

func (b *boundCtx) endLocked(why uint32) {
	b.ended.Store(why)
	if why == endParent {
		b.cancel(context.Cause(b.parent))
	} else {
		b.cancel(context.DeadlineExceeded)
	}
}

// Deadline is the call's deadline, earlier than the parent's if it has
// one (bound hands the parent itself out otherwise).
func (b *boundCtx) Deadline() (time.Time, bool) { return time.Unix(0, b.dl.Load()), true }

// Done is closed when the deadline passes or the parent's cancellation
// has been seen (by the timer or by Err).
func (b *boundCtx) Done() <-chan struct{} { return b.inner.Done() }

// Err reports context.DeadlineExceeded after the deadline, the parent's
// error once the parent ended, or nil. Asking it learns of the parent's
// cancellation at once, and closes Done with it.
func (b *boundCtx) Err() error {
	if b.ended.Load() == endDeadline {
		return context.DeadlineExceeded
	}
	p, use := b.parentNow()
	err := p.Err()
	if err == nil {
		return nil
	}
	b.mu.Lock()
	if b.active && b.use == use && b.ended.Load() == 0 {
		b.endLocked(endParent)
	}
	b.mu.Unlock()
	return err
}

// parentNow is the parent of the call b serves (see mu), and that call.
func (b *boundCtx) parentNow() (context.Context, uint64) {
	b.mu.Lock()
	p, use := b.parent, b.use
	b.mu.Unlock()
	return p, use
}

// Value answers the context package's own key with inner (see inner),
// and every other key from the parent.
func (b *boundCtx) Value(key any) any {
	if x := b.inner.Value(key); x != nil {
		return x
	}
	p, _ := b.parentNow()
	return p.Value(key)
}

// String names the context, as the context package's own do.
func (b *boundCtx) String() string { return "redcache.boundCtx" }
