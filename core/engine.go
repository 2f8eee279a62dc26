package core

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"
	"weak"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"golang.org/x/sync/singleflight"
)

// engine is the memoizer behind Memo, Memo0 and Memo2: everything but the
// encoding of the arguments.
type engine[V any] struct {
	m         *Manager
	cfg       config
	deadlines *deadlines
	name      string
	base      []byte // "<prefix>:<name>:"
	genKey    string
	codecID   byte
	compress  bool

	gens   genStates
	flight singleflight.Group
	near   *nearCache[V] // nil without WithNearCache
	// stored holds, per slot of keys, when a load last stored a value:
	// a flight leader looks at the cache again only if a load stored into
	// its slot after its caller read the cache (see loadAndStore).
	stored [storedSlots]atomic.Int64
	seed   maphash.Seed
}

const storedSlots = 64

func (e *engine[V]) storedSlot(key string) *atomic.Int64 {
	return &e.stored[maphash.String(e.seed, key)%storedSlots]
}

func newEngine[V any](m *Manager, name string, opts []Option) *engine[V] {
	if m == nil {
		panic("redcache: Memoize with a nil Manager")
	}
	if err := checkName(name); err != nil {
		panic(err)
	}
	e := &engine[V]{m: m, cfg: m.cfg, name: name, seed: maphash.MakeSeed()}
	e.cfg.apply(opts)
	e.deadlines = m.deadlines
	if e.cfg.timeout != m.cfg.timeout {
		e.deadlines = newDeadlines(e.cfg.timeout)
	}
	e.base = []byte(e.cfg.prefix + ":" + name + ":")
	e.genKey = generationKey(e.cfg.prefix, name)
	w := weakEngine[V]{weak.Make(e)}
	m.register(e.cfg.prefix+":"+name, w)
	if e.cfg.nearSize > 0 {
		e.near = newNearCache[V](e.cfg.nearSize, e.cfg.nearTTL)
		m.near.add(w)
	}
	if e.cfg.beforeSave == nil && e.cfg.afterLoad == nil {
		// The codec ID is recorded only when the codec does both steps,
		// so that entries of another codec read as foreign.
		e.codecID, _ = codec.ID(e.cfg.codec)
		e.compress = e.codecID&0x80 != 0
	}
	return e
}

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

func (e *engine[V]) encode(ctx context.Context, key string, v V) ([]byte, error) {
	if e.cfg.beforeSave != nil {
		return e.cfg.beforeSave(ctx, key, v)
	}
	return e.cfg.codec.Marshal(v)
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

// weakEngine is how the Manager reaches an engine, for invalidations,
// without keeping it alive after the program dropped its Memo.
type weakEngine[V any] struct{ p weak.Pointer[engine[V]] }

func (w weakEngine[V]) alive() bool { return w.p.Value() != nil }

func (w weakEngine[V]) adoptGeneration(d conn.Driver, gen uint64) {
	if e := w.p.Value(); e != nil {
		e.adoptGeneration(d, gen)
	}
}

func (w weakEngine[V]) generationChanged() {
	if e := w.p.Value(); e != nil {
		e.generationChanged()
	}
}

func (w weakEngine[V]) dropKey(key string) {
	if e := w.p.Value(); e != nil {
		e.dropKey(key)
	}
}

func (w weakEngine[V]) dropAll() {
	if e := w.p.Value(); e != nil {
		e.dropAll()
	}
}

func (e *engine[V]) dropKey(key string) {
	if e.near != nil {
		e.near.drop(key)
	}
}

func (e *engine[V]) dropAll() {
	if e.near != nil {
		e.near.clear()
	}
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
