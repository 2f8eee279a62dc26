package ginadapter

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/core"
)

// outcomeKey carries, in the context of a lookup, where the observer
// writes what core found.
type outcomeKey struct{}

type outcomeHolder struct {
	v atomic.Int32 // core.Outcome + 1; 0 until told
}

func (h *outcomeHolder) get() (core.Outcome, bool) {
	v := h.v.Load()
	return core.Outcome(v - 1), v != 0
}

// recorder is the observer of the cache's memoized function: it records
// each lookup's outcome into the holder its context carries (so the
// response can say HIT, MISS or BYPASS), and passes every step on to the
// user's observer, if any.
type recorder struct{ next core.Observer }

func (r recorder) GetStart(ctx context.Context, call core.Call) context.Context {
	if r.next != nil {
		return r.next.GetStart(ctx, call)
	}
	return ctx
}

func (r recorder) GetEnd(ctx context.Context, call core.Call, o core.Outcome, err error) {
	if h, ok := ctx.Value(outcomeKey{}).(*outcomeHolder); ok {
		h.v.Store(int32(o) + 1)
	}
	if r.next != nil {
		r.next.GetEnd(ctx, call, o, err)
	}
}

func (r recorder) LoadStart(ctx context.Context, call core.Call) context.Context {
	if r.next != nil {
		return r.next.LoadStart(ctx, call)
	}
	return ctx
}

func (r recorder) LoadEnd(ctx context.Context, call core.Call, elapsed time.Duration, err error) {
	if r.next != nil {
		r.next.LoadEnd(ctx, call, elapsed, err)
	}
}

func (r recorder) RedisStart(ctx context.Context, call core.Call, op core.Op) context.Context {
	if r.next != nil {
		return r.next.RedisStart(ctx, call, op)
	}
	return ctx
}

func (r recorder) RedisEnd(ctx context.Context, call core.Call, op core.Op, err error) {
	if r.next != nil {
		r.next.RedisEnd(ctx, call, op, err)
	}
}

func (r recorder) BreakerChange(ch core.BreakerChange) {
	if r.next != nil {
		r.next.BreakerChange(ch)
	}
}

var _ core.Observer = recorder{}
