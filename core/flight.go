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
	// created is when the flight was registered: its load begins later.
	// A call that began after it joins it only on evidence (see join).
	// Zero while the flight is queued.
	created time.Time
	// A queued flight (after != nil) starts once the flight before it
	// was written: it is for the calls that began after that one's load
	// did and have nothing to tell them it is still current. next is the
	// flight queued behind this one, prev the one this one waits for.
	after <-chan struct{}
	next  *flightCall
	prev  *flightCall
}

// joinRule is what a call knows that lets it join a load that began
// before the call did, and so may predate a write the call must see.
type joinRule uint8

const (
	// joinSeen: the call saw bytes under the key, the very bytes the
	// load's leader saw in the same generation (every write changes
	// them: a tombstone carries a nonce), so no write came in between.
	joinSeen joinRule = iota
	// joinVerify: the call saw nothing under the key, and reads the
	// generation again before it joins a load that began before it: only
	// while that read finds the generation its lookup used did Redis keep
	// its data (a restart loses the generation key with the tombstones).
	// The join tells the caller to verify (see join and
	// verifyGeneration). A batch does, with one read for all its ids; a
	// single call would pay a read per late call, so it joins by
	// joinFresh instead (see fill). It is proof on one Redis: on a
	// cluster a node that restarts alone keeps the generation keys of
	// the other nodes (see docs/failure.md).
	joinVerify
	// joinFresh: the call saw nothing under the key, which is no proof:
	// a Redis that restarted, failed over or evicted lost the tombstone
	// of a write that returned before the call began; or it could not
	// look (Redis failed or is skipped); or it is an explicit Refresh. It
	// joins only a load that begins after it began: the one under way if
	// it was registered since, else one queued behind it, which starts
	// when it ends. When the one under way stored a value, the queued one
	// looks again before it loads (see runFlight), so a stampede still
	// costs one load.
	joinFresh
)

func newFlightCall(waiters int, keep bool) *flightCall {
	return &flightCall{done: make(chan struct{}), written: make(chan struct{}), waiters: waiters, keep: keep}
}

// join returns the flight under key, joined as one more waiter, or a new
// one that the caller leads. begin is when the call began: a flight
// registered before it is joined only under rule joinSeen (see
// joinRule); under joinVerify, join joins nothing and reports verify.
// A leader of a queued flight (c.after != nil) runs its load once
// c.after is closed.
func (g *flightGroup) join(key string, begin time.Time, rule joinRule) (c *flightCall, leader, verify bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur, ok := g.m[key]; ok {
		if rule == joinSeen || !cur.created.Before(begin) {
			cur.waiters++
			return cur, false, false
		}
		if rule == joinVerify {
			return nil, false, true
		}
		if n := cur.next; n != nil {
			n.waiters++
			return n, false, false
		}
		n := newFlightCall(1, false)
		n.after, n.prev, cur.next = cur.written, cur, n
		return n, true, false
	}
	if g.m == nil {
		g.m = make(map[string]*flightCall)
	}
	c = newFlightCall(1, false)
	c.created = time.Now()
	g.m[key] = c
	return c, true, false
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
	c.created = time.Now()
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

// finish ends the flight: later callers read the cache again, or join
// the flight queued behind it, which starts now.
func (g *flightGroup) finish(key string, c *flightCall) {
	g.mu.Lock()
	n := c.next
	if g.m[key] == c {
		if n != nil {
			g.m[key] = n
		} else {
			delete(g.m, key)
		}
	}
	if n != nil {
		n.created, n.prev, c.next = time.Now(), nil, nil
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
		if c.prev != nil && c.prev.next == c {
			c.prev.next = nil // a queued flight no one waits for
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

// flightKey is the flight a call joins, and the rule it joins it by: the
// key, the generation the call read, and what its lookup saw there. A
// caller joins a load that began before it only when it saw there what
// that load's leader saw, in the same generation, so a caller that saw a
// write (a tombstone, a new value, a new generation after InvalidateAll)
// never gets the value of a load that began before that write, in
// whatever process the write was made. A caller that saw nothing, or
// could not look, has no such proof: it joins only a load that begins
// after it did (see joinRule). A forced refresh has a flight of its own.
func (e *engine[V]) flightKey(key string, p *pending) (string, joinRule) {
	switch {
	case p.cc.refresh && !p.background:
		return refreshFlight(key), joinFresh
	case p.seen != nil:
		return key + "\x00b" + strconv.FormatUint(p.gen, 36) + "." + strconv.FormatUint(maphash.Bytes(e.seed, p.seen), 36), joinSeen
	case p.store:
		// Saw nothing: a batch verifies the generation once for all its
		// ids; a single call does not, and queues (see fill).
		return key + "\x00n" + strconv.FormatUint(p.gen, 36), joinVerify
	}
	// Could not look (Redis unavailable or skipped): the generation this
	// process knows still keeps a call made after its own InvalidateAll
	// out of a load that began before it.
	gen := p.gen
	if p.st != nil {
		gen = max(gen, knownGeneration(p.d, p.st, p.tags)) // the lookup may not have read it
	}
	return key + "\x00u" + strconv.FormatUint(gen, 36), joinFresh
}

// verifyGeneration reads the call's generation from Redis again, for
// calls that saw nothing under their keys and found older loads of them
// under way (joinVerify). It sets p.gen to what it read and reports
// whether it could read it.
func (e *engine[V]) verifyGeneration(ctx context.Context, p *pending) bool {
	now := time.Now().UnixNano()
	rctx, cancel := e.deadlines.bound(ctx, now)
	defer cancel()
	gen, err := e.readGenerations(ctx, rctx, p.d, p.b, p.st, p.tags, now)
	if err != nil {
		return false
	}
	p.gen = gen
	return true
}

// fill runs the loader once for every concurrent caller of key on p.d
// and, when p.store is set, writes what it returns (or a cacheable error)
// in generation p.gen, fenced by what the lookup saw (see store).
//
// A caller whose own context ends returns ctx.Err() at once; the load
// goes on for the callers still waiting, and is cancelled when none is
// left.
func (e *engine[V]) fill(ctx context.Context, key string, p pending, load func(context.Context) (V, error)) (V, error) {
	if err := ctx.Err(); err != nil {
		// The caller gave up during the lookup (its read failed for it):
		// no load starts on its behalf, and the call returns its
		// context's error, not whichever of the two the select below
		// would pick.
		var zero V
		return zero, err
	}
	if p.st.solo {
		// Drivers that cannot be told apart share no flight.
		c := newFlightCall(1, false)
		e.runFlight(ctx, nil, "", c, key, p, load)
		v, _ := c.val.(V)
		return v, c.err
	}
	fk, rule := e.flightKey(key, &p)
	g := &p.st.flights
	if rule == joinVerify {
		// A read of the generation per late call would cost a stampede
		// as many reads as callers: queue instead.
		rule = joinFresh
	}
	c, leader, _ := g.join(fk, p.obs, rule)
	if leader {
		if ctx.Done() == nil {
			// A caller that cannot give up leads the load on its own
			// goroutine: no goroutine, timer or context to set up.
			if c.after != nil {
				<-c.after
			}
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
			if c.after != nil {
				select {
				case <-c.after:
				case <-lctx.Done():
					// Every waiter left (or Close) before its turn.
					g.loaded(c, nil, lctx.Err())
					g.finish(fk, c)
					return
				}
			}
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
	fk, _ := e.flightKey(key, &p)
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
