package core

import (
	"context"
	"errors"
	"runtime/debug"
	"time"

	"github.com/redcache/redcache/conn"
)

// The flight: concurrent misses of one key share one loader call, whose
// result is stored once.

// fill runs the loader once for every concurrent caller of key and, when
// store is set, writes what it returns (or a cacheable error) in
// generation gen.
//
// The loader runs in a context that keeps the first caller's values but
// not its cancellation, since other callers may be waiting for the same
// result; it is cancelled by Manager.Close. A caller whose own context
// ends returns ctx.Err() at once and leaves the load running for the
// others, and for the cache.
func (e *engine[V]) fill(ctx context.Context, d conn.Driver, b *breaker, key string, gen uint64, store bool, load func(context.Context) (V, error), cc callConfig) (V, error) {
	flightKey := key
	if cc.refresh {
		// A forced refresh must not join a load that started before it.
		flightKey = "\x00refresh:" + key
	}
	if ctx.Done() == nil {
		// A caller that cannot give up leads the load on its own
		// goroutine: no goroutine, timer or context to set up.
		r, err, _ := e.flight.Do(flightKey, func() (any, error) {
			return e.loadAndStore(ctx, d, b, key, gen, store, load, cc)
		})
		v, _ := r.(V)
		return v, err
	}
	ch := e.flight.DoChan(flightKey, func() (any, error) {
		return e.m.detached(ctx, func(lctx context.Context) (any, error) {
			return e.loadAndStore(lctx, d, b, key, gen, store, load, cc)
		})
	})
	select {
	case r := <-ch:
		v, _ := r.Val.(V)
		return v, r.Err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

var errClosed = errors.New("redcache: manager closed")

// detached runs f as background work of the Manager, in a context that
// keeps ctx's values but not its cancellation and that Close cancels.
func (m *Manager) detached(ctx context.Context, f func(context.Context) (any, error)) (any, error) {
	if !m.enter() {
		return nil, errClosed
	}
	defer m.bg.Done()
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(m.closeCtx, cancel)
	defer stop()
	defer cancel()
	return f(lctx)
}

func (e *engine[V]) loadAndStore(ctx context.Context, d conn.Driver, b *breaker, key string, gen uint64, store bool, load func(context.Context) (V, error), cc callConfig) (any, error) {
	if store && !cc.refresh && e.storedSlot(key).Load() >= cc.since {
		// A caller that missed just before another caller's load stored
		// its value can reach the flight after that load ended: when a
		// load stored into this key's slot since the caller read, look
		// again, so that it does not load a second time.
		if v, _, st, _ := e.lookup(ctx, d, b, key, time.Now().UnixNano(), true); st == statusHit {
			return v, nil
		}
	}
	var epoch uint64
	if e.near != nil {
		epoch = e.near.epoch(key)
	}
	v, err := callLoader(ctx, load)
	e.m.stats.loads.Add(1)
	if err != nil {
		e.m.stats.loadErrors.Add(1)
		if errors.Is(err, ErrPanic) {
			e.m.stats.loadPanics.Add(1)
		} else if store {
			e.storeNegative(ctx, d, b, key, gen, err)
		}
		return nil, err
	}
	if store {
		soft := e.store(ctx, d, b, key, gen, v, cc)
		e.storedSlot(key).Store(time.Now().UnixNano())
		if e.near != nil {
			e.m.publish(ctx, &e.cfg, d, keyMessage(e.m.near.id, key))
			if e.m.near.serves(d) {
				e.near.put(key, v, gen, epoch, time.Now().UnixNano(), soft)
			}
		}
	}
	return v, nil
}

// callLoader runs load and turns a panic into a *PanicError.
func callLoader[V any](ctx context.Context, load func(context.Context) (V, error)) (v V, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return load(ctx)
}

// refreshInBackground reloads a stale value once, however many readers
// see it stale, without making any of them wait.
func (e *engine[V]) refreshInBackground(ctx context.Context, d conn.Driver, b *breaker, key string, gen uint64, load func(context.Context) (V, error), cc callConfig) {
	e.flight.DoChan(key, func() (any, error) {
		cc := cc
		cc.refresh = true // reload the stale value, do not read it again
		return e.m.detached(ctx, func(lctx context.Context) (any, error) {
			return e.loadAndStore(lctx, d, b, key, gen, true, load, cc)
		})
	})
}
