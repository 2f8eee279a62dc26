package core

import (
	"context"
	"errors"
	"hash/maphash"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The flight: concurrent misses of one key on one Redis share one loader
// call, whose result is stored once.
//
// A flight belongs to the driver its leader resolved (it lives in that
// driver's genState), so two tenants missing the same key at the same
// moment never share a load, and to what its leader saw under the key
// (see flightKey). Its loader runs in a context that keeps the
// leader's values and deadline but not its cancellation; it is cancelled
// when every caller waiting for it has left (unless it is a background
// refresh, which has no caller) and by Manager.Close. Waiters get the
// value as soon as the loader returns; the write to Redis comes after.

// flightGroup holds the flights of one function on one driver.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flightCall
}

type flightCall struct {
	done    chan struct{} // closed once val and err are set
	written chan struct{} // closed once the write phase ended
	val     any
	err     error
	waiters int                // callers waiting for done
	loaded  bool               // val and err are set: leaving cancels nothing
	keep    bool               // a background refresh: runs on without waiters
	cancel  context.CancelFunc // cancels the loader's context
}

func newFlightCall(waiters int, keep bool) *flightCall {
	return &flightCall{done: make(chan struct{}), written: make(chan struct{}), waiters: waiters, keep: keep}
}

// join returns the flight under key, joined as one more waiter, or a new
// one that the caller leads.
func (g *flightGroup) join(key string) (c *flightCall, leader bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.m[key]; ok {
		c.waiters++
		return c, false
	}
	if g.m == nil {
		g.m = make(map[string]*flightCall)
	}
	c = newFlightCall(1, false)
	g.m[key] = c
	return c, true
}

// startKeep returns a new background flight under key, or nil when a
// flight is already under way.
func (g *flightGroup) startKeep(key string) *flightCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.m[key]; ok {
		return nil
	}
	if g.m == nil {
		g.m = make(map[string]*flightCall)
	}
	c := newFlightCall(0, true)
	g.m[key] = c
	return c
}

func (g *flightGroup) setCancel(c *flightCall, cancel context.CancelFunc) {
	g.mu.Lock()
	c.cancel = cancel
	g.mu.Unlock()
}

// loaded hands the loader's result to every waiter.
func (g *flightGroup) loaded(c *flightCall, val any, err error) {
	g.mu.Lock()
	c.val, c.err, c.loaded = val, err, true
	g.mu.Unlock()
	close(c.done)
}

// finish ends the flight: later callers read the cache again.
func (g *flightGroup) finish(key string, c *flightCall) {
	g.mu.Lock()
	if g.m[key] == c {
		delete(g.m, key)
	}
	g.mu.Unlock()
	close(c.written)
}

// leave is called by a waiter whose context ended before the load did.
// The last one to leave cancels the load, unless it runs for the cache.
func (g *flightGroup) leave(key string, c *flightCall) {
	g.mu.Lock()
	c.waiters--
	var cancel context.CancelFunc
	if c.waiters == 0 && !c.keep && !c.loaded {
		cancel = c.cancel
		if g.m[key] == c {
			delete(g.m, key) // a later caller starts a load of its own
		}
	}
	g.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// forget makes the flights under key unreachable for later callers: an
// explicit write must not let a caller that comes after it join a load
// that started before it. The forgotten flights still serve their own
// waiters, and their writes are fenced.
func (g *flightGroup) forget(key string) {
	g.mu.Lock()
	prefix := key + "\x00"
	for fk := range g.m {
		if strings.HasPrefix(fk, prefix) {
			delete(g.m, fk)
		}
	}
	delete(g.m, refreshFlight(key))
	g.mu.Unlock()
}

func refreshFlight(key string) string { return "\x00refresh:" + key }

// flightKey is the flight a call joins: the key, the generation the call
// read, and what its lookup saw there. A caller joins only a load that
// saw what it saw in the same generation, so a caller that saw a write
// (a tombstone, a new value, a new generation after InvalidateAll) never
// gets the value of a load that began before that write, in whatever
// process the write was made. A forced refresh has a flight of its own.
func (e *engine[V]) flightKey(key string, p *pending) string {
	switch {
	case p.cc.refresh && !p.background:
		return refreshFlight(key)
	case p.seen != nil:
		return key + "\x00b" + strconv.FormatUint(p.gen, 36) + "." + strconv.FormatUint(maphash.Bytes(e.seed, p.seen), 36)
	case p.store:
		return key + "\x00n" + strconv.FormatUint(p.gen, 36) // saw nothing
	}
	// Could not look (Redis unavailable or skipped): the generation this
	// process knows still keeps a call made after its own InvalidateAll
	// out of a load that began before it.
	gen := p.gen
	if p.st != nil {
		gen = max(gen, knownGeneration(p.d, p.st, p.tags)) // the lookup may not have read it
	}
	return key + "\x00u" + strconv.FormatUint(gen, 36)
}

// fill runs the loader once for every concurrent caller of key on p.d
// and, when p.store is set, writes what it returns (or a cacheable error)
// in generation p.gen, fenced by what the lookup saw (see store).
//
// A caller whose own context ends returns ctx.Err() at once; the load
// goes on for the callers still waiting, and is cancelled when none is
// left.
func (e *engine[V]) fill(ctx context.Context, key string, p pending, load func(context.Context) (V, error)) (V, error) {
	if p.st.solo {
		// Drivers that cannot be told apart share no flight.
		c := newFlightCall(1, false)
		e.runFlight(ctx, nil, "", c, key, p, load)
		v, _ := c.val.(V)
		return v, c.err
	}
	fk := e.flightKey(key, &p)
	g := &p.st.flights
	c, leader := g.join(fk)
	if leader {
		if ctx.Done() == nil {
			// A caller that cannot give up leads the load on its own
			// goroutine: no goroutine, timer or context to set up.
			e.runFlight(ctx, g, fk, c, key, p, load)
			v, _ := c.val.(V)
			return v, c.err
		}
		lctx, cancel, ok := e.m.loadContext(ctx, true, 0)
		if !ok {
			// Closed: the loader runs for this caller, the cache is left
			// alone.
			p.store = false
			e.runFlight(ctx, g, fk, c, key, p, load)
			v, _ := c.val.(V)
			return v, c.err
		}
		g.setCancel(c, cancel)
		go func() {
			defer e.m.bg.Done()
			defer cancel()
			e.runFlight(lctx, g, fk, c, key, p, load)
		}()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		g.leave(fk, c)
		var zero V
		return zero, ctx.Err()
	}
	if leader {
		// The caller that started the load also sees it stored, so that
		// its next call hits; the others do not wait for the write.
		select {
		case <-c.written:
		case <-ctx.Done():
		}
	}
	v, _ := c.val.(V)
	return v, c.err
}

// loadContext returns the context a load runs in: ctx's values, with
// ctx's deadline when keepDeadline is set (else limit, when not 0), and
// cancelled by Manager.Close. ok is false once the Manager is closed; the
// caller must call m.bg.Done() when the load is over.
func (m *Manager) loadContext(ctx context.Context, keepDeadline bool, limit time.Duration) (lctx context.Context, cancel context.CancelFunc, ok bool) {
	if !m.enter() {
		return nil, nil, false
	}
	lctx = context.WithoutCancel(ctx)
	var c context.CancelFunc
	if dl, has := ctx.Deadline(); has && keepDeadline {
		lctx, c = context.WithDeadline(lctx, dl)
	} else if limit > 0 {
		lctx, c = context.WithTimeout(lctx, limit)
	} else {
		lctx, c = context.WithCancel(lctx)
	}
	stop := context.AfterFunc(m.closeCtx, c)
	return lctx, func() { stop(); c() }, true
}

// runFlight is a flight's work: look again when a load just stored, run
// the loader, hand its result to the waiters, then write it.
func (e *engine[V]) runFlight(ctx context.Context, g *flightGroup, fk string, c *flightCall, key string, p pending, load func(context.Context) (V, error)) {
	delivered, ended := false, false
	end := func() {
		ended = true
		if g != nil {
			g.finish(fk, c)
		} else {
			close(c.written)
		}
	}
	deliver := func(val any, err error) {
		delivered = true
		if g != nil {
			g.loaded(c, val, err)
		} else {
			c.val, c.err, c.loaded = val, err, true
			close(c.done)
		}
	}
	defer func() {
		// User callbacks and the loader recover on their own; this is for
		// a panic in a driver or a Store's Redis calls. On the flight's
		// own goroutine nothing above could recover it, and a flight left
		// registered would hand its waiters nothing forever: end it, and
		// report the panic as a step of the cache.
		r := recover()
		if r == nil {
			return
		}
		perr := &PanicError{Value: r, Stack: debug.Stack(), Callback: "Driver"}
		op := OpLoad
		if delivered {
			op = OpSave
		} else {
			deliver(nil, perr)
		}
		if !ended {
			end()
		}
		e.m.report(ctx, &e.cfg, p.d, op, e.name, key, perr)
	}()
	if p.store && !p.cc.refresh && e.storedSlot(key).Load() >= p.cc.since {
		// A caller that missed just before another caller's load stored
		// its value can reach the flight after that load ended: when a
		// load stored into this key's slot since the caller read, look
		// again, so that it does not load a second time. What this look
		// sees is what the store is fenced by.
		now := time.Now()
		rctx, cancel := e.deadlines.bound(ctx, now.UnixNano())
		p.obs = now
		v, st, _ := e.lookup(ctx, rctx, &p, key, now.UnixNano(), true)
		cancel()
		switch st {
		case statusHit:
			deliver(v, nil)
			end()
			return
		case statusUnavailable, statusNewer:
			p.store = false
		}
	}
	if p.store && p.cc.refresh && !p.background && e.fenced() {
		// An explicit refresh first invalidates: loads in flight from
		// before it cannot store, and it stores only over its own
		// tombstone.
		p.obs = time.Now()
		seen, err := e.writeTombstone(ctx, p.d, p.st, key)
		if err != nil {
			e.m.redisResult(ctx, &e.cfg, p.d, p.b, OpSave, e.name, key, err)
			p.store = false
		}
		p.seen = seen
		if e.near != nil {
			e.near.drop(key)
		}
	}
	var epoch uint64
	if e.near != nil {
		epoch = e.near.epoch(key)
	}
	lk, v, err := e.loadUnderLock(ctx, key, &p, load) // dlock.go
	defer lk.release()
	if lk.fromCache() {
		deliver(v, err)
		end()
		return
	}
	count(&e.m.stats.loads, &e.stats.loads)
	if err != nil {
		count(&e.m.stats.loadErrors, &e.stats.loadErrors)
		if errors.Is(err, ErrPanic) {
			count(&e.m.stats.loadPanics, &e.stats.loadPanics)
		}
		deliver(nil, err)
		if p.store && !errors.Is(err, ErrPanic) {
			e.storeNegative(ctx, &p, key, err)
		}
		end()
		return
	}
	deliver(v, nil)
	if p.store {
		stored, until := e.store(ctx, &p, key, v)
		e.storedSlot(key).Store(time.Now().UnixNano())
		if stored {
			if e.near != nil && e.m.near.serves(p.d) {
				e.near.putSized(key, v, p.size, p.gen, epoch, time.Now().UnixNano(), until)
			}
			if p.cc.refresh && !p.background {
				// An explicit refresh is a write: other processes' near
				// copies must go.
				e.m.publish(context.WithoutCancel(ctx), &e.cfg, p.d, keyMessage(e.m.near.id, key))
			}
		}
	}
	end()
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
// see it stale, without making any of them wait. It stores only over the
// stale entry it saw, and gives up storing after the fence window.
func (e *engine[V]) refreshInBackground(ctx context.Context, key string, p pending, load func(context.Context) (V, error)) {
	if p.st.solo {
		return // no flight to share the refresh: the value is served stale until it expires
	}
	lctx, cancel, ok := e.m.loadContext(ctx, false, e.cfg.fenceWindow)
	if !ok {
		return
	}
	p.cc.refresh, p.background, p.store = true, true, true
	fk := e.flightKey(key, &p)
	g := &p.st.flights
	c := g.startKeep(fk)
	if c == nil {
		cancel()
		e.m.bg.Done()
		return
	}
	g.setCancel(c, cancel)
	go func() {
		defer e.m.bg.Done()
		defer cancel()
		e.runFlight(lctx, g, fk, c, key, p, load)
	}()
}
