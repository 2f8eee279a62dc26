package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redcache/redcache/conn"
)

// The read path: a call reads the cache (and the generation) before it
// knows whether the loader must run.

// status is what a lookup found.
type status int

const (
	statusMiss        status = iota // no usable entry: load and store
	statusHit                       // a fresh value
	statusStale                     // a stale value: serve it, refresh in the background
	statusNegative                  // a cached error
	statusUnavailable               // Redis failed or is skipped: load, do not store
)

// pending is what a call has left to do once the cache was read: run
// the loader (and store its result), or refresh a stale value in the
// background.
type pending struct {
	cc    callConfig
	d     conn.Driver
	b     *breaker
	gen   uint64
	load  bool // the loader must run for the caller
	store bool // write what the loader returns
	stale bool // the value served is stale: reload it in the background
}

// read is the first half of a memoized call: the cache. The loader is
// not needed yet, so a hit builds no closure for it.
func (e *engine[V]) read(ctx context.Context, key string, opts []CallOption) (v V, p pending, err error) {
	if len(opts) > 0 {
		p.cc = callOptions(opts)
	}
	if err := ctx.Err(); err != nil {
		return v, p, err
	}
	if p.cc.skip || e.cfg.skipCache || e.m.isClosed() {
		p.load = true
		return v, p, nil
	}
	now := time.Now().UnixNano()
	p.cc.since = now
	d, err := conn.Resolve(ctx, e.cfg.driver)
	if err != nil {
		e.m.stats.bypassed.Add(1)
		e.m.report(ctx, &e.cfg, OpResolve, e.name, "", err)
		p.load = true
		return v, p, nil
	}
	if e.near != nil {
		if !p.cc.refresh && e.m.near.serves(d) {
			if v, ok := e.near.get(key, e.gens.of(d).gen.Load(), now); ok {
				e.m.stats.hits.Add(1)
				e.m.stats.near.Add(1)
				return v, p, nil
			}
		}
		e.m.startNear(d)
	}
	b := e.m.breakerFor(&e.cfg, d)
	if !b.allow(now) {
		e.m.stats.bypassed.Add(1)
		p.load = true
		return v, p, nil
	}
	if p.cc.refresh {
		gen, err := e.generation(ctx, d, b, now, false)
		p.d, p.b, p.gen, p.load, p.store = d, b, gen, true, err == nil
		return v, p, nil
	}
	v, gen, st, err := e.lookup(ctx, d, b, key, now, false)
	switch st {
	case statusHit:
		e.m.stats.hits.Add(1)
		return v, p, nil
	case statusStale:
		e.m.stats.hits.Add(1)
		e.m.stats.stale.Add(1)
		p.d, p.b, p.gen, p.stale = d, b, gen, true
		return v, p, nil
	case statusNegative:
		e.m.stats.negative.Add(1)
		return v, p, err
	case statusUnavailable:
		p.load = true
		return v, p, nil
	}
	e.m.stats.misses.Add(1)
	p.d, p.b, p.gen, p.load, p.store = d, b, gen, true, true
	return v, p, nil
}

// finish is the second half of a memoized call, when read left work.
func (e *engine[V]) finish(ctx context.Context, key string, v V, p pending, load func(context.Context) (V, error)) (V, error) {
	switch {
	case p.stale:
		e.refreshInBackground(ctx, p.d, p.b, key, p.gen, load, p.cc)
		return v, nil
	case p.cc.skip || e.cfg.skipCache || e.m.isClosed():
		v, err := load(ctx)
		e.m.stats.loads.Add(1)
		if err != nil {
			e.m.stats.loadErrors.Add(1)
		}
		return v, err
	}
	return e.fill(ctx, p.d, p.b, key, p.gen, p.store, load, p.cc)
}

// callOptions applies opts; its own frame keeps the config off the heap
// for calls without options.
func callOptions(opts []CallOption) callConfig {
	var cc callConfig
	for _, o := range opts {
		if o != nil {
			o(&cc)
		}
	}
	return cc
}

// lookup reads and decodes the entry under key. quiet is for a second
// look at an entry (see loadAndStore): its trouble was reported, counted
// and fed to the breaker by the first.
func (e *engine[V]) lookup(ctx context.Context, d conn.Driver, b *breaker, key string, now int64, quiet bool) (v V, gen uint64, st status, err error) {
	report := func(op Op, key string, err error) {
		if !quiet {
			e.m.report(ctx, &e.cfg, op, e.name, key, err)
		}
	}
	var epoch uint64
	if e.near != nil {
		epoch = e.near.epoch(key) // before the read: see nearCache.put
	}
	gen, err = e.generation(ctx, d, b, now, false)
	if err != nil {
		return v, 0, statusUnavailable, err
	}
	bctx, cancel := e.deadlines.bound(ctx, now)
	data, err := e.cfg.store.Load(bctx, d, key)
	cancel()
	if err != nil {
		if errors.Is(err, conn.ErrMiss) {
			b.success()
			return v, gen, statusMiss, nil
		}
		if !quiet {
			e.m.redisResult(ctx, &e.cfg, b, OpLoad, e.name, key, err)
		}
		return v, 0, statusUnavailable, &Error{Op: OpLoad, Name: e.name, Key: key, Err: err}
	}
	b.success()
	ent, err := ParseEntry(data)
	if err == nil && ent.Codec != e.codecID {
		err = fmt.Errorf("%w: written with codec ID %#02x, read with %#02x", ErrCorruptEntry, ent.Codec, e.codecID)
	}
	if err != nil {
		report(OpDecode, key, err)
		return v, gen, statusMiss, nil
	}
	if ent.Generation != gen {
		if ent.Generation < gen {
			return v, gen, statusMiss, nil // invalidated
		}
		// Written in a newer generation than this process knows: another
		// process invalidated. Learn the generation now.
		if gen, err = e.generation(ctx, d, b, now, true); err != nil {
			return v, 0, statusUnavailable, err
		}
		if ent.Generation != gen {
			return v, gen, statusMiss, nil
		}
	}
	if ent.Negative {
		ce, err := decodeNegative(ent.Payload, e.cfg.negErrs)
		if err != nil {
			report(OpDecode, key, err)
			return v, gen, statusMiss, nil
		}
		return v, gen, statusNegative, ce
	}
	if err := e.decode(ctx, key, ent.Payload, &v); err != nil {
		report(OpDecode, key, fmt.Errorf("%w: %w", ErrCorruptEntry, err))
		var zero V
		return zero, gen, statusMiss, nil
	}
	if !ent.SoftExpiry.IsZero() && now >= ent.SoftExpiry.UnixNano() {
		return v, gen, statusStale, nil
	}
	if e.near != nil && e.m.near.serves(d) {
		var soft int64
		if !ent.SoftExpiry.IsZero() {
			soft = ent.SoftExpiry.UnixNano()
		}
		e.near.put(key, v, gen, epoch, now, soft)
	}
	return v, gen, statusHit, nil
}

func (e *engine[V]) decode(ctx context.Context, key string, payload []byte, v *V) error {
	if e.cfg.afterLoad != nil {
		return e.cfg.afterLoad(ctx, key, payload, v)
	}
	return e.cfg.codec.Unmarshal(payload, v)
}

// generation returns the function's generation on d as this process
// knows it, re-reading it from Redis when the last read is older than the
// refresh interval (or force is set). Only one caller re-reads; the others
// go on with the value they have.
func (e *engine[V]) generation(ctx context.Context, d conn.Driver, b *breaker, now int64, force bool) (uint64, error) {
	st := e.gens.of(d)
	seen := st.seen.Load()
	if !force && seen != 0 && now-seen < int64(e.cfg.genRefresh) {
		return st.gen.Load(), nil
	}
	if !force && seen != 0 && !st.seen.CompareAndSwap(seen, now) {
		return st.gen.Load(), nil // another caller is re-reading it
	}
	bctx, cancel := e.deadlines.bound(ctx, now)
	data, err := d.Get(bctx, e.genKey)
	cancel()
	var gen uint64
	switch {
	case errors.Is(err, conn.ErrMiss):
		b.success()
	case err != nil:
		e.m.redisResult(ctx, &e.cfg, b, OpGeneration, e.name, e.genKey, err)
		if seen != 0 {
			st.seen.CompareAndSwap(now, seen) // let the next caller retry
		}
		return 0, &Error{Op: OpGeneration, Name: e.name, Key: e.genKey, Err: err}
	default:
		b.success()
		if gen, err = strconv.ParseUint(string(data), 10, 64); err != nil {
			// Not ours: go on in generation 0 and say so. The next
			// InvalidateAll replaces the value (see bumpGeneration).
			e.m.report(ctx, &e.cfg, OpGeneration, e.name, e.genKey,
				fmt.Errorf("%w: generation %q is not a number", ErrCorruptEntry, data))
			gen = 0
		}
	}
	st.adopt(gen, now)
	return gen, nil
}

// peek reads the entry under key without loading. A Redis failure is
// returned, not only reported.
func (e *engine[V]) peek(ctx context.Context, key string) (V, bool, error) {
	var zero V
	now := time.Now().UnixNano()
	d, err := conn.Resolve(ctx, e.cfg.driver)
	if err != nil {
		return zero, false, &Error{Op: OpResolve, Name: e.name, Key: key, Err: err}
	}
	b := e.m.breakerFor(&e.cfg, d)
	if !b.allow(now) {
		return zero, false, &Error{Op: OpLoad, Name: e.name, Key: key, Err: ErrCircuitOpen}
	}
	v, _, st, err := e.lookup(ctx, d, b, key, now, false)
	switch st {
	case statusHit, statusStale:
		return v, true, nil
	case statusNegative:
		return zero, true, err
	case statusUnavailable:
		return zero, false, err
	}
	return zero, false, nil
}
