package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Fail-safe and loader timeouts. With WithFailSafe, an entry stays in
// Redis for a window past its expiry (refresh.go). A read that finds it
// there treats it as a miss, and keeps the value as a fallback: when the
// load fails, or is slower than the soft timeout, or reaches the hard
// timeout, the call returns the fallback instead, and the loader's error
// goes to the error handler. Only an entry expired by time is a fallback:
// a tombstone, an entry of another generation (InvalidateAll, a tag
// invalidation) or a corrupt one is a plain miss (see lookup), so no
// invalidated value is ever served.
//
// After a load with a fallback failed, the key's next load waits for the
// throttle interval: the calls in between get the fallback at once, and
// the loader is not hammered while its source is down.

var (
	// ErrLoaderTimeout is returned by a call whose loader ran past the
	// hard timeout of [WithLoaderTimeouts] when no fail-safe value could
	// be served instead. The loader's context is cancelled at that
	// moment, unless other calls still wait for the same load.
	ErrLoaderTimeout = errors.New("redcache: loader timed out")

	// errSoftTimeout tells finishGuarded that the soft timeout passed.
	errSoftTimeout = errors.New("redcache: soft loader timeout")
)

// OpLoader is the step of an [*Error] that reports a loader's error (or
// its hard timeout) that the caller did not see, because a fail-safe
// value was served instead ([WithFailSafe]). It is counted in
// Stats.LoadErrors, not RedisErrors.
const OpLoader Op = "loader"

// WithFailSafe keeps each value in Redis for window past its expiry (its
// TTL, plus the [WithStaleWhileRevalidate] window): when a later load of
// the key fails, or times out ([WithLoaderTimeouts]), the expired value
// is returned instead of the error, which goes to the error handler
// ([OpLoader]), and Stats.FailSafeHits and the [OutcomeFailSafe] outcome
// tell it from a fresh value. An error that negative caching caches
// ([WithNegativeCaching]) is an answer, not a failure: it is returned.
//
// After such a failure, the key is loaded again at most once per
// throttle: the calls in between get the expired value at once, without
// calling the loader (throttle <= 0 retries on every call).
//
// Only values that expired by time are served: a value that was
// invalidated (Invalidate, InvalidateAll, a tag), replaced by Set, or
// lost by Redis never is, and a near cache ([WithNearCache]) never keeps
// an expired value. It needs a TTL; window <= 0 turns it off, the
// default.
func WithFailSafe(window, throttle time.Duration) Option {
	return option(func(c *config) {
		c.failSafe, c.retryAfter = max(window, 0), max(throttle, 0)
	})
}

// WithLoaderTimeouts bounds how long a call waits for its loader.
//
// soft applies when the call has a fail-safe value ([WithFailSafe]): once
// the loader has run for soft, the call returns that value, and the
// loader goes on in the background; what it returns is stored (fenced as
// any load) when it arrives, for the next calls.
//
// hard applies to every load: once the loader has run for hard, the call
// returns the fail-safe value when it has one, and [ErrLoaderTimeout]
// otherwise; the loader's context is cancelled then (unless other calls
// still wait for it), and what it returns afterwards is not stored. A
// loader that ignores its context keeps its goroutine until it returns.
//
// 0 turns either off, the default; a negative duration is 0.
func WithLoaderTimeouts(soft, hard time.Duration) Option {
	return option(func(c *config) { c.softTimeout, c.hardTimeout = max(soft, 0), max(hard, 0) })
}

// finishGuarded is finish for a call that has a fail-safe value or a
// hard timeout: it loads (or not, while the key's retries are
// throttled), within the timeouts, and serves the fallback when the load
// fails or is slow.
func (e *engine[V]) finishGuarded(ctx context.Context, key string, fallback V, p *pending, load func(context.Context) (V, error)) (V, error) {
	if p.fallback && e.retries.throttled(p, key, time.Now().UnixNano()) {
		return e.serveFailSafe(p, fallback), nil
	}
	v, err := e.loadWithin(ctx, key, p, load)
	switch {
	case err == nil:
		return v, nil
	case !p.fallback || ctx.Err() != nil || e.isAnswer(err):
		return v, err
	case !errors.Is(err, errSoftTimeout):
		e.m.report(ctx, &e.cfg, p.d, OpLoader, e.name, key, err)
	}
	return e.serveFailSafe(p, fallback), nil
}

// serveFailSafe counts a fail-safe value served and makes it the
// call's outcome.
func (e *engine[V]) serveFailSafe(p *pending, v V) V {
	count(&e.m.stats.failSafe, &e.stats.failSafe)
	p.outcome = OutcomeFailSafe
	return v
}

// isAnswer reports whether err is one negative caching keeps: the
// loader's answer, not its failure.
func (e *engine[V]) isAnswer(err error) bool {
	if e.cfg.negTTL <= 0 || errors.Is(err, ErrLoaderTimeout) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if e.cfg.negAll {
		return !errors.Is(err, ErrPanic)
	}
	for _, target := range e.cfg.negErrs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

type loadResult[V any] struct {
	v   V
	err error
}

// loadWithin runs the load of a call: the flight of the key (or the
// loader alone, without Redis), waited for at most the hard timeout, and
// the soft timeout when the call has a fallback (errSoftTimeout: the
// load goes on in the background). The load's outcome feeds the key's
// retry throttle, whether the caller waits for it or not.
func (e *engine[V]) loadWithin(ctx context.Context, key string, p *pending, load func(context.Context) (V, error)) (V, error) {
	soft, hard := e.cfg.softTimeout, e.cfg.hardTimeout
	if !p.fallback || (hard > 0 && soft >= hard) {
		soft = 0
	}
	if soft == 0 && p.st != nil {
		// The flight waits on the caller's goroutine: within hard, by
		// the context its loader also gets.
		lctx := ctx
		if hard > 0 {
			var cancel context.CancelFunc
			lctx, cancel = context.WithTimeout(ctx, hard)
			defer cancel()
		}
		v, err := e.fill(lctx, key, *p, load)
		err = e.timedOut(ctx, lctx, err)
		e.retries.note(p, key, ctx, err, e.isAnswer(err), time.Now().UnixNano()+int64(e.cfg.retryAfter))
		return v, err
	}
	// The load runs on a goroutine of its own, in a context that
	// outlives the caller's (bounded by hard, else by the fence window,
	// and by Close), so that the caller can leave at soft and the load
	// still stores its value.
	limit := hard
	if limit == 0 {
		limit = e.cfg.fenceWindow
	}
	lctx, cancel, ok := e.m.loadContext(ctx, false, limit)
	if !ok {
		return e.loadDirect(ctx, key, load) // closed: the loader runs for this caller only
	}
	done := make(chan loadResult[V], 1)
	pp := *p
	go func() {
		defer e.m.bg.Done()
		defer cancel()
		var r loadResult[V]
		if pp.st == nil {
			r.v, r.err = e.loadDirect(lctx, key, load)
		} else {
			r.v, r.err = e.fill(lctx, key, pp, load)
		}
		if hard > 0 {
			r.err = e.timedOut(context.Background(), lctx, r.err)
		}
		e.retries.note(&pp, key, lctx, r.err, e.isAnswer(r.err), time.Now().UnixNano()+int64(e.cfg.retryAfter))
		done <- r
	}()
	var softC, hardC <-chan time.Time
	if soft > 0 {
		t := time.NewTimer(soft)
		defer t.Stop()
		softC = t.C
	}
	if hard > 0 {
		// The caller leaves at hard even when the loader ignores its
		// context.
		t := time.NewTimer(hard)
		defer t.Stop()
		hardC = t.C
	}
	select {
	case r := <-done:
		return r.v, r.err
	case <-softC:
		var zero V
		return zero, errSoftTimeout
	case <-hardC:
		var zero V
		return zero, e.loaderTimeout()
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// timedOut turns the end of lctx at its hard deadline into
// ErrLoaderTimeout, when the caller's own ctx is still alive.
func (e *engine[V]) timedOut(ctx, lctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// The loader's context has lctx's deadline on a timer of its own:
	// lctx may not have seen its end yet.
	if dl, ok := lctx.Deadline(); !ok || time.Now().Before(dl) {
		return err
	}
	return e.loaderTimeout()
}

func (e *engine[V]) loaderTimeout() error {
	return fmt.Errorf("%w: %s ran past %v", ErrLoaderTimeout, e.name, e.cfg.hardTimeout)
}

// loadDirect runs the loader without Redis (skipped, closed, no driver).
func (e *engine[V]) loadDirect(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	v, err := e.runLoader(ctx, key, load)
	count(&e.m.stats.loads, &e.stats.loads)
	if err != nil {
		count(&e.m.stats.loadErrors, &e.stats.loadErrors)
		if errors.Is(err, ErrPanic) {
			count(&e.m.stats.loadPanics, &e.stats.loadPanics)
		}
	}
	return v, err
}

// retryThrottle holds, per driver and key, when the next load of a key
// whose load failed (while a fail-safe value was served) may run.
type retryThrottle struct {
	mu    sync.Mutex
	next  map[retryKey]int64 // unix nanoseconds
	sweep int64              // when expired records were last dropped
}

type retryKey struct {
	st  *genState // the driver's: tenants do not share a throttle
	key string
}

// throttled reports whether the key's loads are held back at now.
func (t *retryThrottle) throttled(p *pending, key string, now int64) bool {
	if p.st == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	next, ok := t.next[retryKey{p.st, key}]
	return ok && now < next
}

// note records how a load with a fallback ended: a failure holds the
// key's loads back until next, a success lets them run. A load the
// caller's ctx ended, or that returned an answer (isAnswer), changes
// nothing.
func (t *retryThrottle) note(p *pending, key string, ctx context.Context, err error, answer bool, next int64) {
	if p.st == nil || !p.fallback || ctx.Err() != nil && err != nil && !errors.Is(err, ErrLoaderTimeout) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k := retryKey{p.st, key}
	if err == nil || answer {
		delete(t.next, k)
		return
	}
	now := time.Now().UnixNano()
	if now >= next {
		return // no throttle
	}
	if t.next == nil {
		t.next = make(map[retryKey]int64)
	}
	t.next[k] = next
	if len(t.next) > 64 && now-t.sweep > int64(time.Second) {
		t.sweep = now
		for k, n := range t.next {
			if n <= now {
				delete(t.next, k)
			}
		}
	}
}
