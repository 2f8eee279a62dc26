package core

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/conn"
)

// Manager is the original's cache manager: the settings shared by the
// functions memoized with it (key prefix, ttl, codec, driver, the four
// extension steps, error handling) and the state they share (stats,
// circuit breaker, background refreshes). It is safe for concurrent use.
// Create one with [New], or use [Default].
type Manager struct {
	cfg       config
	deadlines *deadlines
	stats     counters

	near     *nearHub
	tags     tagRegistry // tag generation key -> *tagRef (tagregistry.go)
	breaker  *breaker    // for the Manager's own fixed driver, on a single node
	breakers breakerSet  // per resolved driver, node and breaker settings
	locks    lockHubs    // the distributed lock's subscriptions (dlock.go)

	mu       sync.Mutex
	engines  map[string][]generationHolder // memoized functions by "<prefix>:<name>", for InvalidateAll
	funcs    map[string][]memoized         // memoized functions by name alone, for InvalidateAll
	closed   bool
	closing  atomic.Bool // closed, readable on the hot path without the lock
	bg       sync.WaitGroup
	closeCtx context.Context
	closeFn  context.CancelFunc
}

// Default is the original's default_cache: prefix "cache", the Gob codec,
// no ttl (values are kept until invalidated or evicted), and the
// connection resolved on every call from the context and the connection
// stack (conn.With, conn.Use).
var Default = New()

// New returns a Manager configured by opts. Without options it behaves as
// [Default].
func New(opts ...ManagerOption) *Manager {
	m := &Manager{cfg: defaultConfig(), near: newNearHub()}
	applyOptions(&m.cfg, opts)
	m.deadlines = newDeadlines(m.cfg.timeout)
	m.breaker = m.newBreaker(m.cfg)
	m.breakers.forget = m.forgetDriver
	m.breakers.observer = m.cfg.hooks.observer
	m.closeCtx, m.closeFn = context.WithCancel(context.Background())
	return m
}

func (m *Manager) newBreaker(cfg config) *breaker {
	if cfg.breakerFail <= 0 {
		return nil
	}
	b := newBreaker(cfg.breakerFail, cfg.breakerWait, 2*cfg.timeout)
	b.notify = breakerNotifier(cfg.hooks.observer, cfg.driver, "")
	return b
}

// breakerFor returns the breaker that watches d as a whole; see
// breakerForKey for the one that watches the node serving a key.
func (m *Manager) breakerFor(cfg *config, d conn.Driver) *breaker {
	return m.breakerAt(cfg, d, "")
}

// breakerForKey returns the breaker that watches the Redis node that
// serves key on d. Each driver, and on a cluster each node, has its own,
// so that one failing Redis (or one failed primary) does not stop the use
// of the others. A function memoized with breaker settings of its own
// ([WithBreaker], [WithTimeout]) has breakers of its own.
func (m *Manager) breakerForKey(cfg *config, d conn.Driver, key string) *breaker {
	if cfg.breakerFail <= 0 {
		return nil
	}
	return m.breakerAt(cfg, d, conn.NodeOf(d, key))
}

func (m *Manager) breakerAt(cfg *config, d conn.Driver, node string) *breaker {
	if cfg.breakerFail <= 0 {
		return nil
	}
	t := reflect.TypeOf(d)
	same := cfg.breakerFail == m.cfg.breakerFail && cfg.breakerWait == m.cfg.breakerWait && cfg.timeout == m.cfg.timeout
	// Comparing or hashing a driver whose type is not comparable would
	// panic: such drivers are told apart by their type only.
	comparable := t != nil && t.Comparable()
	if node == "" && same && comparable && m.cfg.driver != nil && d == m.cfg.driver {
		return m.breaker
	}
	k := breakerKey{typ: t, node: node, fails: cfg.breakerFail, wait: cfg.breakerWait, span: 2 * cfg.timeout}
	if comparable {
		k.d = d
	}
	return m.breakers.get(k, time.Now().UnixNano())
}

// forgetDriver releases the per-driver state the memoized functions keep
// for d (their generations), once the breakers found d unused.
func (m *Manager) forgetDriver(d conn.Driver) {
	m.mu.Lock()
	var hs []generationHolder
	for _, list := range m.engines {
		hs = append(hs, list...)
	}
	m.mu.Unlock()
	for _, h := range hs {
		if f, ok := h.(interface{ forgetDriver(conn.Driver) }); ok {
			f.forgetDriver(d)
		}
	}
	m.releaseTags(d)
}

// Close stops the Manager's background work: it cancels the context of
// loaders still running for callers that stopped waiting and of
// stale-while-revalidate refreshes, and waits for them to return. Calls
// after Close go straight to their loader. Close does not close any
// driver. It is safe to call more than once.
//
// A loader that ignores its context cannot be stopped, so Close waits
// for it at most the fence window ([WithFenceWindow], 30 s by default):
// past it a load stores nothing, so waiting longer would protect no
// entry. Close then returns an error wrapping [ErrCloseTimeout]; the
// loads still running finish on their own.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	m.closing.Store(true)
	m.mu.Unlock()
	m.closeFn()
	done := make(chan struct{})
	go func() {
		m.bg.Wait()
		close(done)
	}()
	t := time.NewTimer(m.cfg.fenceWindow)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("%w after %v", ErrCloseTimeout, m.cfg.fenceWindow)
	}
}

// enter registers one piece of background work; it reports false once
// the Manager is closed.
func (m *Manager) enter() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.bg.Add(1)
	return true
}

func (m *Manager) isClosed() bool { return m.closing.Load() }

// InvalidateAll drops every entry of the function memoized under name, in
// one O(1) command that is safe on a cluster: it increments the
// function's generation, which every entry records, so that older entries
// read as misses and are overwritten. Processes other than the caller see
// it within their generation refresh interval ([WithGenerationRefresh]).
//
// It reaches the function under the Manager's prefix and driver, and
// every live function memoized with this Manager under name with a
// prefix or a driver of its own. The error joins those of every
// generation that could not be moved on.
func (m *Manager) InvalidateAll(ctx context.Context, name string) error {
	type target struct {
		prefix string
		d      conn.Driver
	}
	seen := map[target]bool{}
	var cfgs []*config
	add := func(c *config) {
		if c.driver != nil && !reflect.TypeOf(c.driver).Comparable() {
			cfgs = append(cfgs, c) // cannot be told apart: bump it anyway
			return
		}
		if t := (target{c.prefix, c.driver}); !seen[t] {
			seen[t] = true
			cfgs = append(cfgs, c)
		}
	}
	add(&m.cfg)
	for _, f := range m.named(name) {
		add(f.cfg)
	}
	var errs []error
	for _, c := range cfgs {
		if _, err := m.bumpGeneration(ctx, c, name); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// memoized is what the Manager keeps of a memoized function for
// InvalidateAll: where its generation lives.
type memoized struct {
	cfg    *config // a copy of the function's settings (its prefix, driver, error handler)
	holder generationHolder
}

// track records a function memoized under name, with its own settings.
func (m *Manager) track(name string, cfg config, h generationHolder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.funcs == nil {
		m.funcs = map[string][]memoized{}
	}
	m.funcs[name] = append(liveFuncs(m.funcs[name]), memoized{cfg: &cfg, holder: h})
}

// named returns the live functions memoized under name, whatever their
// prefix.
func (m *Manager) named(name string) []memoized {
	m.mu.Lock()
	defer m.mu.Unlock()
	live := liveFuncs(m.funcs[name])
	if len(live) == 0 {
		delete(m.funcs, name)
	} else {
		m.funcs[name] = live
	}
	return append([]memoized(nil), live...)
}

func liveFuncs(fs []memoized) []memoized {
	live := fs[:0]
	for _, f := range fs {
		if f.holder.alive() {
			live = append(live, f)
		}
	}
	clear(fs[len(live):])
	return live
}

// claim panics when a live function is memoized under prefix and name
// already: both would read and write the same keys, each with its own
// loader, type and settings. A function the program dropped does not
// count, even before the garbage collector noticed: the check collects
// once before it refuses.
func (m *Manager) claim(prefix, name string) {
	if len(m.holders(prefix+":"+name)) == 0 {
		return
	}
	runtime.GC()
	if len(m.holders(prefix+":"+name)) > 0 {
		panic(fmt.Errorf("redcache: Memoize(%q): %w (prefix %q)", name, ErrDuplicateName, prefix))
	}
}

// generationHolder is a memoized function's view of its generation.
type generationHolder interface {
	adoptGeneration(d conn.Driver, gen uint64) // this process bumped it to gen on d
	generationChanged()                        // another process bumped it
	alive() bool                               // false once the function was garbage collected
}

// register records h under name ("<prefix>:<name>"), so that
// InvalidateAll reaches it at once. Holders are weak: a memoized function
// the program dropped is forgotten here too.
func (m *Manager) register(name string, h generationHolder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.engines == nil {
		m.engines = map[string][]generationHolder{}
	}
	m.engines[name] = append(liveHolders(m.engines[name]), h)
}

// holders returns the live holders registered under name.
func (m *Manager) holders(name string) []generationHolder {
	m.mu.Lock()
	defer m.mu.Unlock()
	live := liveHolders(m.engines[name])
	if len(live) == 0 {
		delete(m.engines, name)
	} else {
		m.engines[name] = live
	}
	return append([]generationHolder(nil), live...)
}

func liveHolders(hs []generationHolder) []generationHolder {
	live := hs[:0]
	for _, h := range hs {
		if h.alive() {
			live = append(live, h)
		}
	}
	clear(hs[len(live):])
	return live
}

func (m *Manager) bumpGeneration(ctx context.Context, cfg *config, name string) (uint64, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	d, err := conn.Resolve(ctx, cfg.driver)
	if err != nil {
		return 0, &Error{Op: OpResolve, Name: name, Err: err}
	}
	key := generationKey(cfg.prefix, name)
	bctx, cancel := m.deadlinesOf(cfg).bound(ctx, time.Now().UnixNano())
	defer cancel()
	bctx, step := startRedis(bctx, cfg, OpGeneration, name, key)
	n, err := bumpGenerationKey(bctx, d, key, keepTTL) // INCR, or the clock when the key was lost
	step.end(err)
	if err != nil {
		return 0, &Error{Op: OpGeneration, Name: name, Key: key, Err: err}
	}
	// Functions of this Manager under the same prefix see it at once.
	for _, h := range m.holders(cfg.prefix + ":" + name) {
		h.adoptGeneration(d, n)
	}
	// Near caches in other processes drop the function's values now
	// rather than at their next generation refresh.
	m.publish(ctx, cfg, d, genMessage(m.near.id, cfg.prefix+":"+name))
	return n, nil
}

// deadlinesOf returns the deadlines of cfg's timeout: the Manager's, or
// those of a function's own WithTimeout, for the Manager's work on the
// function's behalf (InvalidateAll, announcements).
func (m *Manager) deadlinesOf(cfg *config) *deadlines {
	if cfg.timeout == m.cfg.timeout {
		return m.deadlines
	}
	return newDeadlines(cfg.timeout)
}

func generationKey(prefix, name string) string { return prefix + ":" + name + ":~gen" }

// report counts err and hands it to the error handler. d is the driver
// the trouble happened on, nil when none was resolved.
func (m *Manager) report(ctx context.Context, cfg *config, d conn.Driver, op Op, name, key string, err error) {
	m.countReport(cfg, op, err) // OpBreaker and OpResolve: counted as Bypassed by the call
	if cfg.onError != nil {
		e := &Error{Op: op, Name: name, Key: key, Driver: d, Err: err}
		if d != nil && key != "" && op != OpSubscribe && op != OpPublish {
			e.Node = conn.NodeOf(d, key) // a key's node; channels have none
		}
		m.handle(ctx, cfg.onError, e)
	}
}

// handle calls the error handler. A handler that panics has nowhere to
// report to: its panic is recovered and counted in Stats.Panics, so that
// it never takes a call (or the goroutine of a load) down with it.
func (m *Manager) handle(ctx context.Context, h ErrorHandler, err *Error) {
	defer func() {
		if r := recover(); r != nil {
			m.stats.panics.Add(1)
		}
	}()
	h(ctx, err)
}

// redisResult feeds the outcome of one Redis call to the breaker and the
// error handler. It returns err unchanged.
func (m *Manager) redisResult(ctx context.Context, cfg *config, d conn.Driver, b *breaker, op Op, name, key string, err error) error {
	switch {
	case err == nil, errors.Is(err, conn.ErrMiss):
		b.success()
	case errors.Is(err, ErrPanic):
		// A Store that panicked says nothing about Redis.
		b.abandon()
		m.report(ctx, cfg, d, op, name, key, err)
	case ctx.Err() != nil:
		// The caller gave up: that says nothing about Redis.
		b.abandon()
	case conn.IsReplyError(err, ""):
		// Redis answered, with a refusal (OOM when full, WRONGTYPE for a
		// key that is not ours): it is alive, so the breaker stays shut.
		b.success()
		m.report(ctx, cfg, d, op, name, key, err)
	default:
		if b.failure(time.Now().UnixNano(), errors.Is(err, context.DeadlineExceeded)) {
			m.report(ctx, cfg, d, OpBreaker, name, key, ErrCircuitOpen)
		}
		m.report(ctx, cfg, d, op, name, key, err)
	}
	return err
}

// Stats is a snapshot of a Manager's counters, summed over every function
// memoized with it.
type Stats struct {
	Hits           uint64       // values served from the cache (Redis or the near cache)
	NearHits       uint64       // values served from the near cache (included in Hits)
	StaleHits      uint64       // stale values served while a refresh ran (included in Hits)
	NegativeHits   uint64       // cached errors served (not in Hits)
	Misses         uint64       // lookups that found no usable entry
	Loads          uint64       // loader calls
	LoadErrors     uint64       // loader calls that returned an error or panicked
	LoadPanics     uint64       // loader calls that panicked (included in LoadErrors)
	RedisErrors    uint64       // failed Redis calls: timeouts, connection errors, refusals
	CorruptEntries uint64       // entries that were not ours or did not decode
	EncodeErrors   uint64       // values the codec (or BeforeSave) could not encode: returned, not cached
	Bypassed       uint64       // calls that skipped Redis: breaker open or no connection
	Panics         uint64       // user callbacks other than the loader that panicked: BeforeSave, AfterLoad, a Store, the error handler
	FencedStores   uint64       // loads not stored: the key was invalidated or written while they ran
	FailSafeHits   uint64       // expired values served because the loader failed or was slow (WithFailSafe); not in Hits: the lookup counted a miss
	LockWaits      uint64       // misses answered by another process's load, after waiting for its distributed lock: no loader call
	LockFailOpen   uint64       // loads run without the distributed lock because Redis could not be asked
	LockLost       uint64       // distributed locks whose lease ended while their loader ran
	NearActive     bool         // the near cache\'s invalidation subscription is up
	Breaker        BreakerState // the least healthy breaker, when calls resolve several drivers
}

type counters struct {
	// hits counts the hits Redis served and near those of the near
	// cache, one counter each on a near hit's hot path: Stats' Hits is
	// their sum.
	hits, near, stale, negative, misses atomic.Uint64
	loads, loadErrors, loadPanics       atomic.Uint64
	redisErrors, corrupt, bypassed      atomic.Uint64
	encodeErrors, panics                atomic.Uint64
	fenced                              atomic.Uint64
	failSafe                            atomic.Uint64 // failsafe.go
	lockWaits, lockFailOpen, lockLost   atomic.Uint64 // dlock.go
}

// Stats returns the Manager's counters. They are read one by one without
// a lock, so a snapshot taken under load may be off by the calls in
// flight.
func (m *Manager) Stats() Stats {
	s := &m.stats
	near := s.near.Load() // once: NearHits is part of Hits
	return Stats{
		Hits:           s.hits.Load() + near,
		NearHits:       near,
		StaleHits:      s.stale.Load(),
		NegativeHits:   s.negative.Load(),
		Misses:         s.misses.Load(),
		Loads:          s.loads.Load(),
		LoadErrors:     s.loadErrors.Load(),
		LoadPanics:     s.loadPanics.Load(),
		RedisErrors:    s.redisErrors.Load(),
		CorruptEntries: s.corrupt.Load(),
		EncodeErrors:   s.encodeErrors.Load(),
		Bypassed:       s.bypassed.Load(),
		Panics:         s.panics.Load(),
		FencedStores:   s.fenced.Load(),
		FailSafeHits:   s.failSafe.Load(),
		LockWaits:      s.lockWaits.Load(),
		LockFailOpen:   s.lockFailOpen.Load(),
		LockLost:       s.lockLost.Load(),
		NearActive:     m.near.active.Load(),
		Breaker:        m.breakerState(),
	}
}

// breakerState is the least healthy state among the Manager's breakers:
// open beats half-open beats closed.
func (m *Manager) breakerState() BreakerState {
	worst := m.breaker.State()
	rank := func(s BreakerState) int {
		return map[BreakerState]int{BreakerClosed: 0, BreakerHalfOpen: 1, BreakerOpen: 2}[s]
	}
	m.breakers.each(func(b *breaker) {
		if s := b.State(); rank(s) > rank(worst) {
			worst = s
		}
	})
	return worst
}
