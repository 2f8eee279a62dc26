package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core/format"
)

// The read path: a call reads the cache (and the generation) before it
// knows whether the loader must run. The whole read phase, generation
// included, shares one deadline: a miss with a slow Redis costs at most
// one timeout before the loader runs.

// status is what a lookup found.
type status int

const (
	statusMiss        status = iota // no usable entry: load and store
	statusHit                       // a fresh value
	statusStale                     // a stale value: serve it, refresh in the background
	statusNegative                  // a cached error
	statusUnavailable               // Redis failed or is skipped: load, do not store
	statusNewer                     // an entry of a newer format: load, leave it in place
	statusEager                     // a fresh value past the eager-refresh point: serve it, refresh in the background (refresh.go)
	statusExpired                   // a value past its expiry, kept for fail-safe: load, serve it if the load fails (failsafe.go)
)

// pending is what a call has left to do once the cache was read: run
// the loader (and store its result), or refresh a stale value in the
// background.
type pending struct {
	cc callConfig
	d  conn.Driver
	b  *breaker
	st *genState // the function's state on d: generation and flights
	// tags are the tags of the value (tags.go); gen is the sum of the
	// function's generation and theirs.
	tags *tagSet
	gen  uint64
	// seen is what the lookup found under the key (nil: nothing), and
	// obs when it looked: the store is fenced by them (see store).
	seen       []byte
	obs        time.Time
	size       int  // the payload's length of what store wrote (the near cache's bytes)
	load       bool // the loader must run for the caller
	store      bool // write what the loader returns
	stale      bool // the value served is stale: reload it in the background
	background bool // a stale-while-revalidate reload, with no caller
	fallback   bool // the value read is expired, within the fail-safe window: served if the load fails (failsafe.go)
	outcome    Outcome
	// octx is the context the observer's GetStart returned (nil: not
	// observed); finish goes on in it.
	octx context.Context
}

// read is the first half of a memoized call: the cache. The loader is
// not needed yet, so a hit builds no closure for it.
func (e *engine[V]) read(ctx context.Context, key string, opts []CallOption) (V, pending, error) {
	if o := e.cfg.hooks.observer; o != nil {
		return e.readObserved(ctx, o, key, opts)
	}
	return e.readCache(ctx, key, opts)
}

func (e *engine[V]) readCache(ctx context.Context, key string, opts []CallOption) (v V, p pending, err error) {
	if len(opts) > 0 {
		p.cc = callOptions(opts)
	}
	if err := ctx.Err(); err != nil {
		return v, p, err
	}
	if p.cc.skip || e.cfg.skipCache || e.m.isClosed() {
		p.load, p.outcome = true, OutcomeBypass
		return v, p, nil
	}
	d, err := conn.Resolve(ctx, e.cfg.driver)
	if err != nil {
		p.obs = time.Now()
		p.cc.since = p.obs.UnixNano()
		count(&e.m.stats.bypassed, &e.stats.bypassed)
		e.m.report(ctx, &e.cfg, nil, OpResolve, e.name, "", err)
		p.load, p.outcome = true, OutcomeBypass
		return v, p, nil
	}
	p.d, p.st, p.tags = d, e.gens.of(d), e.tagsFor(&p.cc)
	if e.near != nil {
		if !p.cc.refresh && e.m.near.serves(d) {
			if v, ok := e.near.get(key, knownGeneration(d, p.st, p.tags), nearNow()); ok {
				e.countNearHit()
				p.outcome = OutcomeNearHit
				return v, p, nil
			}
		}
		e.m.startNear(d, e.cfg.prefix)
	}
	// The wall clock is read once the near cache missed: a near hit
	// reads only its own clock (nearNow).
	p.obs = time.Now()
	now := p.obs.UnixNano()
	p.cc.since = now
	p.b = e.m.breakerForKey(&e.cfg, d, key)
	if !p.b.allow(now) {
		count(&e.m.stats.bypassed, &e.stats.bypassed)
		p.load, p.outcome = true, OutcomeBypass
		return v, p, nil
	}
	rctx, cancel := e.deadlines.bound(ctx, now)
	defer cancel()
	if p.cc.refresh {
		gen, err := e.fullGeneration(ctx, rctx, d, p.b, p.st, p.tags, now, false)
		p.gen, p.load, p.store = gen, true, err == nil
		p.outcome = OutcomeRefresh
		return v, p, nil
	}
	v, st, err := e.lookup(ctx, rctx, &p, key, now, false)
	switch st {
	case statusHit:
		count(&e.m.stats.hits, &e.stats.hits)
		p.outcome = OutcomeHit
		return v, p, nil
	case statusStale:
		count(&e.m.stats.hits, &e.stats.hits)
		count(&e.m.stats.stale, &e.stats.stale)
		p.stale, p.outcome = true, OutcomeStaleHit
		return v, p, nil
	case statusNegative:
		count(&e.m.stats.negative, &e.stats.negative)
		p.outcome = OutcomeNegativeHit
		return v, p, err
	case statusUnavailable:
		p.outcome = OutcomeError
		if errors.Is(err, errGenerationDown) {
			count(&e.m.stats.bypassed, &e.stats.bypassed)
			p.outcome = OutcomeBypass
		}
		p.load = true
		return v, p, nil
	case statusNewer:
		count(&e.m.stats.misses, &e.stats.misses)
		p.load = true
		return v, p, nil
	case statusEager, statusExpired:
		return e.readAged(v, p, st) // refresh.go, failsafe.go
	}
	count(&e.m.stats.misses, &e.stats.misses)
	p.load, p.store = true, true
	return v, p, nil
}

// nearHit is read's near cache lookup for a call without options, on
// the fast path of a Get: key is built in the caller's buffer and made a
// string only when this misses. It reports whether it stored the value
// in *v; when it did not, the call goes on with read, which decides
// everything again (an observed function, a skipped or closed cache, an
// ended context, no driver, a near cache that does not serve the
// driver, a miss). The value is written through v rather than returned,
// as it is copied once instead of at every return.
func (e *engine[V]) nearHit(ctx context.Context, key []byte, v *V) bool {
	if e.near == nil || e.cfg.hooks.observer != nil || e.cfg.skipCache || e.m.isClosed() || ctx.Err() != nil {
		return false
	}
	d, err := conn.Resolve(ctx, e.cfg.driver)
	if err != nil || !e.m.near.serves(d) {
		return false
	}
	if !e.near.getBytes(key, knownGeneration(d, e.gens.of(d), e.tags), nearNow(), v) {
		return false
	}
	e.countNearHit()
	return true
}

// countNearHit counts a hit served by the near cache (Stats' Hits adds
// them: see counters).
func (e *engine[V]) countNearHit() { count(&e.m.stats.near, &e.stats.near) }

// finish is the second half of a memoized call, when read left work.
func (e *engine[V]) finish(ctx context.Context, key string, v V, p pending, load func(context.Context) (V, error)) (V, error) {
	if p.octx != nil {
		return e.finishObserved(key, v, p, load)
	}
	return e.finishCache(ctx, key, v, &p, load)
}

func (e *engine[V]) finishCache(ctx context.Context, key string, v V, p *pending, load func(context.Context) (V, error)) (V, error) {
	load = e.settable(p, load) // SetTTL, DontCache (loaderopts.go)
	switch {
	case p.stale:
		e.refreshInBackground(ctx, key, *p, load)
		return v, nil
	case p.fallback || e.cfg.hardTimeout > 0:
		return e.finishGuarded(ctx, key, v, p, load) // failsafe.go
	case p.st == nil:
		// No Redis: skipped, closed, or no driver.
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
	return e.fill(ctx, key, *p, load)
}

// callOptions applies opts; its own frame keeps the config off the heap
// for calls without options.
func callOptions(opts []CallOption) callConfig {
	var cc callConfig
	for _, o := range opts {
		if o != nil {
			o.applyCall(&cc)
		}
	}
	return cc
}

// lookup reads and decodes the entry under key on p.d, and records in p
// the generation and what it saw (for the fence). rctx bounds its Redis
// calls. quiet is for a second look at an entry (see runFlight): its
// trouble was reported, counted and fed to the breaker by the first.
func (e *engine[V]) lookup(ctx, rctx context.Context, p *pending, key string, now int64, quiet bool) (v V, st status, err error) {
	report := func(op Op, key string, err error) {
		if !quiet {
			e.m.report(ctx, &e.cfg, p.d, op, e.name, key, err)
		}
	}
	var epoch uint64
	if e.near != nil {
		epoch = e.near.epoch(key) // before the read: see nearCache.put
	}
	gen, err := e.fullGeneration(ctx, rctx, p.d, p.b, p.st, p.tags, now, false)
	if err != nil {
		return v, statusUnavailable, err
	}
	p.gen = gen
	sctx, step := e.redisStart(rctx, OpLoad, key)
	data, err := e.cfg.store.Load(sctx, p.d, key)
	step.end(err)
	if err != nil {
		if errors.Is(err, conn.ErrMiss) {
			p.b.success()
			p.seen = nil
			return v, statusMiss, nil
		}
		if !quiet {
			e.m.redisResult(ctx, &e.cfg, p.d, p.b, OpLoad, e.name, key, err)
		}
		if !conn.IsReplyError(err, "") {
			// The connection broke: Redis may have restarted and lost
			// the generation key. Read it again before the next store.
			p.st.stale()
		}
		return v, statusUnavailable, &Error{Op: OpLoad, Name: e.name, Key: key, Err: err}
	}
	p.b.success()
	p.seen = data
	ent, err := format.Parse(data)
	if errors.Is(err, ErrNewerEntry) {
		return v, statusNewer, nil // a newer release's: not ours to judge or replace
	}
	if err == nil && !ent.Tombstone && ent.Codec != e.codecID {
		err = fmt.Errorf("%w: written with codec ID %#02x, read with %#02x", ErrCorruptEntry, ent.Codec, e.codecID)
	}
	if err != nil {
		report(OpDecode, key, err)
		return v, statusMiss, nil
	}
	if ent.Tombstone {
		return v, statusMiss, nil // invalidated
	}
	if ent.Generation != gen {
		if ent.Generation < gen && p.tags == nil {
			return v, statusMiss, nil // invalidated (a tagged value's generation is a hash: no order)
		}
		// Written in a newer generation than this process knows: another
		// process invalidated. Learn the generation now.
		if gen, err = e.fullGeneration(ctx, rctx, p.d, p.b, p.st, p.tags, now, true); err != nil {
			return v, statusUnavailable, err
		}
		p.gen = gen
		if ent.Generation != gen {
			return v, statusMiss, nil
		}
	}
	if ent.Negative {
		if e.cfg.negTTL <= 0 {
			return v, statusMiss, nil // written by a function that caches errors; this one does not
		}
		ce, err := decodeNegative(ent, e.cfg.negErrs)
		if err != nil {
			report(OpDecode, key, err)
			return v, statusMiss, nil
		}
		return v, statusNegative, ce
	}
	if err := e.decode(ctx, key, ent.Payload, &v); err != nil {
		report(OpDecode, key, fmt.Errorf("%w: %w", ErrCorruptEntry, err))
		var zero V
		return zero, statusMiss, nil
	}
	if st := e.aged(ent, now); st != statusHit {
		return v, st, nil // stale, due for an eager refresh, or expired (refresh.go)
	}
	if e.near != nil && e.m.near.serves(p.d) {
		e.near.putSized(key, v, len(ent.Payload), gen, epoch, now, nearUntil(ent))
	}
	return v, statusHit, nil
}

// nearUntil is when a near copy of ent must be gone: its soft expiry, or
// else its expiry (0: neither).
func nearUntil(ent format.Entry) int64 {
	var until int64
	for _, t := range []time.Time{ent.SoftExpiry, ent.Expiry} {
		if !t.IsZero() && (until == 0 || t.UnixNano() < until) {
			until = t.UnixNano()
		}
	}
	return until
}

func (e *engine[V]) decode(ctx context.Context, key string, payload []byte, v *V) error {
	if e.cfg.afterLoad != nil {
		return e.cfg.afterLoad(ctx, key, payload, v)
	}
	return e.cfg.codec.Unmarshal(payload, v)
}

// peek reads the entry under key without loading, with the tags of opts
// added to the function's, as a Get with opts would read it. A Redis
// failure is returned, not only reported.
func (e *engine[V]) peek(ctx context.Context, key string, opts []CallOption) (V, bool, error) {
	var zero V
	now := time.Now().UnixNano()
	d, err := conn.Resolve(ctx, e.cfg.driver)
	if err != nil {
		return zero, false, &Error{Op: OpResolve, Name: e.name, Key: key, Err: err}
	}
	p := pending{d: d, st: e.gens.of(d), b: e.m.breakerForKey(&e.cfg, d, key)}
	if len(opts) > 0 {
		p.cc = callOptions(opts)
	}
	p.cc.since = now
	p.tags = e.tagsFor(&p.cc)
	if !p.b.allow(now) {
		return zero, false, &Error{Op: OpLoad, Name: e.name, Key: key, Err: ErrCircuitOpen}
	}
	rctx, cancel := e.deadlines.bound(ctx, now)
	defer cancel()
	v, st, err := e.lookup(ctx, rctx, &p, key, now, false)
	switch st {
	case statusHit, statusStale, statusEager:
		return v, true, nil
	case statusNegative:
		return zero, true, err
	case statusUnavailable:
		if errors.Is(err, errGenerationDown) {
			err = &Error{Op: OpGeneration, Name: e.name, Key: e.genKey, Err: err}
		}
		return zero, false, err
	}
	return zero, false, nil
}
