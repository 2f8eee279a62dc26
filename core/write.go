package core

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/redcache/redcache/conn"
)

// The write path: entries built from values and errors, and the
// explicit writes (Set, Invalidate, InvalidateAll).

func (e *engine[V]) encode(ctx context.Context, key string, v V) ([]byte, error) {
	if e.cfg.beforeSave != nil {
		return e.cfg.beforeSave(ctx, key, v)
	}
	return e.cfg.codec.Marshal(v)
}

// entryFor encodes v as the entry to store under key in generation gen,
// with the ttl to store it for and the time a near copy must be gone by
// (its soft expiry, else its expiry; 0 for none).
func (e *engine[V]) entryFor(ctx context.Context, key string, gen uint64, v V, cc callConfig, now time.Time) (ent Entry, ttl time.Duration, until int64, err error) {
	payload, err := e.encode(ctx, key, v)
	if err != nil {
		return ent, 0, 0, err
	}
	ttl = e.cfg.ttl
	if cc.ttlSet {
		ttl = cc.ttl
	}
	if ttl > 0 && e.cfg.jitter > 0 {
		ttl -= time.Duration(rand.Float64() * e.cfg.jitter * float64(ttl))
		ttl = max(ttl, time.Millisecond)
	}
	ent = Entry{Codec: e.codecID, Compressed: e.compress, Generation: gen, Payload: payload}
	switch {
	case e.cfg.stale > 0 && ttl > 0:
		ent.SoftExpiry = now.Add(ttl)
		until = ent.SoftExpiry.UnixNano()
		ttl += e.cfg.stale
	case ttl > 0:
		until = now.Add(ttl).UnixNano()
	}
	return ent, ttl, until, nil
}

// store writes v under key and returns the time a near copy must be gone
// by (see entryFor). Trouble is reported, not returned.
func (e *engine[V]) store(ctx context.Context, d conn.Driver, b *breaker, key string, gen uint64, v V, cc callConfig) (until int64) {
	now := time.Now()
	ent, ttl, until, err := e.entryFor(ctx, key, gen, v, cc, now)
	if err != nil {
		e.m.report(ctx, &e.cfg, OpEncode, e.name, key, err)
		return 0
	}
	e.save(ctx, d, b, key, ent, ttl, now.UnixNano())
	return until
}

func (e *engine[V]) storeNegative(ctx context.Context, d conn.Driver, b *breaker, key string, gen uint64, err error) {
	// A context's end says nothing about the value: never cache it.
	if e.cfg.negTTL <= 0 || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	idx := 0
	if !e.cfg.negAll {
		for i, target := range e.cfg.negErrs {
			if errors.Is(err, target) {
				idx = i + 1
				break
			}
		}
		if idx == 0 {
			return
		}
	}
	ent := Entry{Negative: true, Codec: e.codecID, Compressed: e.compress, Generation: gen, Payload: encodeNegative(idx, err.Error())}
	e.save(ctx, d, b, key, ent, e.cfg.negTTL, time.Now().UnixNano())
}

func (e *engine[V]) save(ctx context.Context, d conn.Driver, b *breaker, key string, ent Entry, ttl time.Duration, now int64) {
	data := ent.Append(make([]byte, 0, headerSize+18+len(ent.Payload)))
	bctx, cancel := e.deadlines.bound(ctx, now)
	err := e.cfg.store.Save(bctx, d, key, data, ttl)
	cancel()
	e.m.redisResult(ctx, &e.cfg, b, OpSave, e.name, key, err)
}

// invalidate deletes the entry under key.
func (e *engine[V]) invalidate(ctx context.Context, key string) error {
	d, err := conn.Resolve(ctx, e.cfg.driver)
	if err != nil {
		return &Error{Op: OpResolve, Name: e.name, Key: key, Err: err}
	}
	if e.near != nil {
		e.near.drop(key)
	}
	bctx, cancel := e.deadlines.bound(ctx, time.Now().UnixNano())
	defer cancel()
	if err := e.cfg.store.Delete(bctx, d, key); err != nil {
		return &Error{Op: OpDelete, Name: e.name, Key: key, Err: err}
	}
	if e.near != nil {
		e.m.publish(ctx, &e.cfg, d, keyMessage(e.m.near.id, key))
	}
	return nil
}

// set stores v under key as if the loader had returned it: a write
// through the cache. Unlike a call, it returns what went wrong.
func (e *engine[V]) set(ctx context.Context, key string, v V, opts []CallOption) error {
	cc := callOptions(opts)
	now := time.Now().UnixNano()
	d, err := conn.Resolve(ctx, e.cfg.driver)
	if err != nil {
		return &Error{Op: OpResolve, Name: e.name, Key: key, Err: err}
	}
	gen, err := e.generation(ctx, d, nil, now, false)
	if err != nil {
		return err
	}
	ent, ttl, _, err := e.entryFor(ctx, key, gen, v, cc, time.Unix(0, now))
	if err != nil {
		return &Error{Op: OpEncode, Name: e.name, Key: key, Err: err}
	}
	if e.near != nil {
		e.near.drop(key)
	}
	bctx, cancel := e.deadlines.bound(ctx, now)
	defer cancel()
	if err := e.cfg.store.Save(bctx, d, key, ent.Append(nil), ttl); err != nil {
		return &Error{Op: OpSave, Name: e.name, Key: key, Err: err}
	}
	if e.near != nil {
		e.m.publish(ctx, &e.cfg, d, keyMessage(e.m.near.id, key))
	}
	return nil
}

// invalidateAll bumps the generation and adopts it at once in this process.
func (e *engine[V]) invalidateAll(ctx context.Context) error {
	_, err := e.m.bumpGeneration(ctx, &e.cfg, e.name)
	return err
}

// adoptGeneration makes gen, just written to d by this process, the
// current generation at once.
func (e *engine[V]) adoptGeneration(d conn.Driver, gen uint64) {
	e.gens.of(d).adopt(gen, time.Now().UnixNano())
	if e.near != nil {
		e.near.clear()
	}
}

// generationChanged is told by the near cache subscription that another
// process bumped the generation: re-read it on the next call, and drop
// the near values at once.
func (e *engine[V]) generationChanged() {
	e.gens.each((*genState).stale)
	if e.near != nil {
		e.near.clear()
	}
}
