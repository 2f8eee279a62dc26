package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/redcache/redcache/conn"
)

// The distributed single flight. A flight shares one load between the
// callers of one process; with WithDistributedLock, the flights of every
// process share one load too. Before a flight runs its loader, it takes a
// lock in Redis (SET NX PX, with a random token) next to the key; the
// process that gets it loads, stores, then releases the lock and
// announces the release, in one script that deletes the lock only while
// it still holds its token. Its lease is extended (by a script that
// checks the token) every third of the lease while the loader runs, so a
// slow loader keeps it and a dead process loses it after one lease.
//
// A process that does not get the lock waits: it is woken by the
// announcement on the lock channel of its prefix (one subscription per
// Manager and driver, shared by every waiting flight), or at the latest
// when the lock's lease ends, or by a slow poll should an announcement be
// lost. Awake, it reads the key again, as a call does: a value there is
// returned (it is what a fresh lookup finds, so never a value from before
// a write this process could see); nothing there means the holder
// failed or died, and the waiter tries to take the lock itself. A flight
// that takes the lock reads the key once more before it loads, since the
// last holder may have stored and released in between.
//
// The order that makes a wait safe: the waiter registers with the
// subscription, then reads the key, then waits. A store made before the
// subscription listened is seen by that read; one made after is
// announced.
//
// Redis trouble never blocks a load: when the lock cannot be asked for,
// the lookup fails, or the breaker is open, the process loads on its own
// (fail-open), and counts it in Stats.LockFailOpen. The store of a load
// under the lock is fenced like any other (by what its last lookup saw),
// so a holder whose lease ran out while another process took over cannot
// overwrite the newer value.

// LockChannel is the start of the pub/sub channels on which a process
// that held a distributed lock ([WithDistributedLock]) announces its
// release: the channel of a function is LockChannel + ":" + its key
// prefix, and the message is the cache key.
const LockChannel = "redcache:lock"

// OpLock is the step of an [*Error] about a distributed lock
// ([WithDistributedLock]): taking, extending or releasing it, or the
// lease lost while the loader ran ([ErrLockLost]).
const OpLock Op = "lock"

// ErrLockLost reports that a process held a distributed lock
// ([WithDistributedLock]) for longer than its lease without renewing it
// (Redis did not answer, or the process stalled): another process may
// have taken over the load. The value is still returned to the callers;
// its store is fenced, so it never replaces a newer one.
var ErrLockLost = errors.New("redcache: distributed lock lost: the lease ended while the loader ran")

// WithDistributedLock makes the processes that miss a key at the same
// time share one load: before its loader runs, a call takes a lock in
// Redis next to the key, and the calls of other processes wait for the
// value it stores instead of loading it again. lease is how long the
// lock outlives a process that died holding it; while the loader runs,
// the lease is extended every lease/3, so it need not cover the loader's
// duration (a second or a few is a sound choice). lease <= 0 turns the
// lock off, the default.
//
// A waiting call is woken by a message on the lock channel of its prefix
// ([LockChannel]), or when the lease ends, and reads the key again: it
// returns what that read finds, or takes the lock and loads when the
// holder stored nothing (its loader failed, or its process died). It
// waits within its own context. When Redis cannot be asked (it is down,
// the breaker is open, a lock command fails) every process loads on its
// own; the trouble is reported and counted in [Stats] (LockFailOpen).
//
// An explicit Refresh takes no lock: it is a write. A
// stale-while-revalidate reload does, so that one process refreshes a
// key. Given to [New], it is every function's default; given to
// [Memoize], that function's.
func WithDistributedLock(lease time.Duration) Option {
	return option(func(c *config) { c.lockLease = max(lease, 0) })
}

const (
	// lockPoll is the slow poll of a waiter whose subscription is up: it
	// only matters when an announcement was lost.
	lockPoll = time.Second
	// lockPollDown is the poll of a waiter while the subscription is not
	// (yet) listening.
	lockPollDown = 100 * time.Millisecond
	// lockHubIdle is how long a lock subscription outlives its last
	// waiter.
	lockHubIdle = 30 * time.Second
	// minLease keeps the extension ticker sane.
	minLease = 10 * time.Millisecond
)

// lockKey is the key of the lock of a cache key. No encoded argument
// starts with '~' (see keys.go), so it is no function's cache key.
func lockKey(key string) string { return key + ":~lock" }

func lockChannelFor(prefix string) string { return LockChannel + ":" + prefix }

// acquireScript sets KEYS[1] to ARGV[1] for ARGV[2] ms unless it exists,
// and returns {1, 0} when it did, or {0, the lock's PTTL} when it did not.
var acquireScript = conn.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 0} end
return {0, redis.call('PTTL', KEYS[1])}
`)

// extendScript renews the lease of KEYS[1] to ARGV[2] ms while it holds
// the token ARGV[1]; it returns 1, or 0 when the lock is not ours.
var extendScript = conn.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// releaseScript deletes KEYS[1] while it holds the token ARGV[1], and
// announces ARGV[3] on the channel ARGV[2] in any case: the waiters look
// at the key again. It returns 1 when the lock was still ours.
var releaseScript = conn.NewScript(`
local held = redis.call('GET', KEYS[1]) == ARGV[1]
if held then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
if held then return 1 end
return 0
`)

// dlock is a flight's distributed lock: held (to be released once the
// value is stored), or not held because another process's load answered
// the flight (answered).
type dlock struct {
	m     *Manager
	cfg   *config
	d     conn.Driver
	b     *breaker
	name  string
	key   string // the cache key
	lkey  string // the lock key
	token string
	lease time.Duration

	// answered: the flight's result came from the cache, after another
	// process's load; the loader did not run.
	answered bool
	held     bool
	// ctx is the flight's context without its cancellation: the lock is
	// extended and released even when the callers left.
	ctx  context.Context
	stop chan struct{} // closed by release: the extension stops
	done chan struct{} // closed once the extension stopped
}

// answeredLock is what loadUnderLock returns when the flight's result
// came from the cache.
var answeredLock = &dlock{answered: true}

// fromCache reports whether the flight's result came from the cache
// after another process's load, with no loader call of its own.
func (l *dlock) fromCache() bool { return l != nil && l.answered }

// loadUnderLock runs a flight's loader. With the distributed lock on
// (and a store to make), it first takes the lock, or waits for the
// process that holds it and returns what that process stored; see the
// top of this file. The caller must call release on the returned lock
// (nil when none was taken) once the value is stored; when fromCache
// reports true, v and err are the cache's answer and the loader did not
// run.
func (e *engine[V]) loadUnderLock(ctx context.Context, key string, p *pending, load func(context.Context) (V, error)) (*dlock, V, error) {
	lease := e.cfg.lockLease
	if lease <= 0 || (p.cc.refresh && !p.background) {
		v, err := e.runLoader(ctx, key, load)
		return nil, v, err
	}
	if !p.store {
		if p.outcome == OutcomeError || p.outcome == OutcomeBypass {
			// Redis failed or the breaker is open: the lock cannot be
			// asked for either. The trouble was reported by the read.
			count(&e.m.stats.lockFailOpen, &e.stats.lockFailOpen)
		}
		v, err := e.runLoader(ctx, key, load)
		return nil, v, err
	}
	lease = max(lease, minLease)
	lkey := lockKey(key)
	l := &dlock{
		m: e.m, cfg: &e.cfg, d: p.d, b: e.m.breakerForKey(&e.cfg, p.d, lkey), name: e.name,
		key: key, lkey: lkey, token: newLockToken(), lease: lease, ctx: context.WithoutCancel(ctx),
	}
	failOpen := func(err error) (*dlock, V, error) {
		count(&e.m.stats.lockFailOpen, &e.stats.lockFailOpen)
		if err != nil {
			e.m.redisResult(ctx, &e.cfg, p.d, l.b, OpLock, e.name, lkey, err)
		}
		v, lerr := e.runLoader(ctx, key, load)
		return nil, v, lerr
	}
	var w *lockWaiter
	defer func() { w.leave() }()
	woke := false
	for {
		if woke {
			// Woken: most often the holder just stored the value.
			v, st, err := e.lookAgain(ctx, p, key)
			switch {
			case answers(st, p):
				count(&e.m.stats.lockWaits, &e.stats.lockWaits)
				return answeredLock, v, err
			case st == statusUnavailable:
				return failOpen(nil)
			}
		}
		held, pttl, err := l.acquire(ctx)
		if err != nil {
			return failOpen(err)
		}
		if held {
			// The last holder may have stored and released since this
			// flight looked: look once more, under the lock.
			v, st, err := e.lookAgain(ctx, p, key)
			switch {
			case answers(st, p):
				l.release()
				count(&e.m.stats.lockWaits, &e.stats.lockWaits)
				return answeredLock, v, err
			case st == statusUnavailable:
				count(&e.m.stats.lockFailOpen, &e.stats.lockFailOpen)
				p.store = false
			case st == statusNewer:
				p.store = false
			}
			l.keep()
			v, err = e.runLoader(ctx, key, load)
			return l, v, err
		}
		if w == nil {
			// Listen before looking, so that a store this look misses is
			// announced to this flight.
			w = e.m.lockWaiterFor(p.d, lockChannelFor(e.cfg.prefix), key)
			v, st, err := e.lookAgain(ctx, p, key)
			switch {
			case answers(st, p):
				count(&e.m.stats.lockWaits, &e.stats.lockWaits)
				return answeredLock, v, err
			case st == statusUnavailable:
				return failOpen(nil)
			}
		}
		if err := w.wait(ctx, e.m.closeCtx.Done(), pttl); err != nil {
			if ctx.Err() != nil {
				var zero V
				return answeredLock, zero, ctx.Err()
			}
			// The Manager closed: its calls go to their loader, and
			// store nothing.
			p.store = false
			v, err := e.runLoader(ctx, key, load)
			return nil, v, err
		}
		woke = true
	}
}

// answers reports whether what a lookup found answers a flight that
// waits for or holds the lock: a value (or a cached error) its callers
// may have. A value past its eager-refresh point answers a call, but not
// the refresh itself, which is there to replace it; a stale or expired
// value answers neither.
func answers(st status, p *pending) bool {
	switch st {
	case statusHit, statusNegative:
		return true
	case statusEager:
		return !p.background
	}
	return false
}

// lookAgain reads the key as a call does, for a flight waiting on or
// holding the lock; its store is fenced by what this read saw.
func (e *engine[V]) lookAgain(ctx context.Context, p *pending, key string) (V, status, error) {
	now := time.Now()
	rctx, cancel := e.deadlines.bound(ctx, now.UnixNano())
	defer cancel()
	p.obs = now
	return e.lookup(ctx, rctx, p, key, now.UnixNano(), false)
}

func newLockToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// call runs one lock command, bounded by the Redis timeout and told to
// the observer.
func (l *dlock) call(ctx context.Context, s *conn.Script, args ...any) (any, error) {
	bctx, cancel := l.m.deadlinesOf(l.cfg).bound(ctx, time.Now().UnixNano())
	defer cancel()
	bctx, step := startRedis(bctx, l.cfg, OpLock, l.name, l.lkey)
	r, err := l.d.Eval(bctx, s, []string{l.lkey}, args...)
	step.end(err)
	return r, err
}

// acquire tries to take the lock; when another holds it, pttl is what is
// left of its lease (< 0: unknown).
func (l *dlock) acquire(ctx context.Context) (held bool, pttl time.Duration, err error) {
	r, err := l.call(ctx, acquireScript, l.token, l.lease.Milliseconds())
	if err != nil {
		return false, 0, err
	}
	a, ok := r.([]any)
	if !ok || len(a) != 2 {
		return false, 0, fmt.Errorf("redcache: unexpected reply to the lock script: %v", r)
	}
	got, _ := a[0].(int64)
	ms, _ := a[1].(int64)
	l.b.success()
	if got == 1 {
		l.held = true
		return true, 0, nil
	}
	if ms < 0 {
		return false, -1, nil
	}
	return false, time.Duration(ms) * time.Millisecond, nil
}

// keep extends the lease every third of it until release.
func (l *dlock) keep() {
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
			}
			r, err := l.call(l.ctx, extendScript, l.token, l.lease.Milliseconds())
			if err != nil {
				// The lease may still hold: try again at the next tick.
				l.m.redisResult(l.ctx, l.cfg, l.d, l.b, OpLock, l.name, l.lkey, err)
				continue
			}
			if r != int64(1) {
				// Another process may be loading now: this load still
				// returns its value, and its store is fenced.
				count(&l.m.stats.lockLost, &l.cfg.hooks.stats.lockLost)
				l.m.report(l.ctx, l.cfg, l.d, OpLock, l.name, l.lkey, ErrLockLost)
				return
			}
		}
	}()
}

// release stops the extension, deletes the lock while it is this
// flight's and announces it to the waiters. It does nothing on a nil or
// answered lock.
func (l *dlock) release() {
	if l == nil || !l.held {
		return
	}
	l.held = false
	if l.stop != nil {
		close(l.stop)
		<-l.done
	}
	ch := lockChannelFor(l.cfg.prefix)
	if _, err := l.call(l.ctx, releaseScript, l.token, ch, l.key); err != nil {
		l.m.redisResult(l.ctx, l.cfg, l.d, l.b, OpLock, l.name, l.lkey, err)
	}
}

// lockHubs holds a Manager's lock subscriptions, one per driver: the
// waiters of every function share it.
type lockHubs struct {
	mu   sync.Mutex
	hubs map[conn.Driver]*lockHub
}

// lockHub is one subscription to the lock channels, and the flights that
// wait for a message on it. Its fields are guarded by lockHubs.mu.
type lockHub struct {
	d       conn.Driver
	chans   map[string]bool // the channels to listen to
	subbed  map[string]bool // the channels the live subscription listens to; nil while down
	waiters map[string]map[*lockWaiter]struct{}
	n       int       // waiters
	idle    time.Time // when n fell to 0
	running bool
	renew   chan struct{} // a new channel: subscribe again
}

// lockWaiter is a flight waiting for another process's lock.
type lockWaiter struct {
	m       *Manager
	hub     *lockHub // nil for a driver that cannot key a map: it polls
	channel string
	key     string
	wake    chan struct{}
}

// lockWaiterFor registers a waiter for key's lock announcements on
// channel, starting the subscription of d when none runs.
func (m *Manager) lockWaiterFor(d conn.Driver, channel, key string) *lockWaiter {
	w := &lockWaiter{m: m, channel: channel, key: key, wake: make(chan struct{}, 1)}
	if t := reflect.TypeOf(d); t == nil || !t.Comparable() {
		return w
	}
	ls := &m.locks
	ls.mu.Lock()
	defer ls.mu.Unlock()
	h := ls.hubs[d]
	if h == nil {
		if ls.hubs == nil {
			ls.hubs = map[conn.Driver]*lockHub{}
		}
		h = &lockHub{d: d, chans: map[string]bool{}, waiters: map[string]map[*lockWaiter]struct{}{}, renew: make(chan struct{}, 1)}
		ls.hubs[d] = h
	}
	w.hub = h
	if h.waiters[key] == nil {
		h.waiters[key] = map[*lockWaiter]struct{}{}
	}
	h.waiters[key][w] = struct{}{}
	h.n++
	if !h.chans[channel] {
		h.chans[channel] = true
		select {
		case h.renew <- struct{}{}:
		default:
		}
	}
	if !h.running && m.enter() {
		h.running = true
		go m.runLockHub(h)
	}
	return w
}

// leave unregisters w; nil does nothing.
func (w *lockWaiter) leave() {
	if w == nil || w.hub == nil {
		return
	}
	ls := &w.m.locks
	ls.mu.Lock()
	defer ls.mu.Unlock()
	h := w.hub
	if ws := h.waiters[w.key]; ws != nil {
		delete(ws, w)
		if len(ws) == 0 {
			delete(h.waiters, w.key)
		}
	}
	h.n--
	if h.n == 0 {
		h.idle = time.Now()
	}
	w.hub = nil
}

// listening reports whether the subscription listens to w's channel now.
func (w *lockWaiter) listening() bool {
	if w.hub == nil {
		return false
	}
	w.m.locks.mu.Lock()
	defer w.m.locks.mu.Unlock()
	return w.hub.subbed[w.channel]
}

// wait returns when w is woken (an announcement of its key, or the
// subscription coming up or going down), when the holder's lease of pttl
// should have ended, or at the next poll. It returns ctx.Err() when ctx
// ends, and errClosedWait when closed is.
func (w *lockWaiter) wait(ctx context.Context, closed <-chan struct{}, pttl time.Duration) error {
	d := lockPollDown
	if w.listening() {
		d = lockPoll
	}
	if pttl >= 0 {
		d = min(d, pttl+time.Millisecond)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.wake:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-closed:
		return errClosedWait
	}
}

var errClosedWait = errors.New("redcache: the Manager closed during a lock wait")

// wakeLocked wakes the waiters of key, or every waiter when all is set.
// ls.mu must be held.
func (h *lockHub) wakeLocked(key string, all bool) {
	signal := func(ws map[*lockWaiter]struct{}) {
		for w := range ws {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
	if !all {
		signal(h.waiters[key])
		return
	}
	for _, ws := range h.waiters {
		signal(ws)
	}
}

// runLockHub keeps h subscribed while it has waiters (and lockHubIdle
// after the last), until the Manager closes.
func (m *Manager) runLockHub(h *lockHub) {
	defer m.bg.Done()
	ls := &m.locks
	ctx := m.closeCtx
	backoff := 50 * time.Millisecond
	stop := func() bool {
		ls.mu.Lock()
		defer ls.mu.Unlock()
		if ctx.Err() != nil || (h.n == 0 && time.Since(h.idle) >= lockHubIdle) {
			h.running = false
			if h.n == 0 && ls.hubs[h.d] == h {
				delete(ls.hubs, h.d) // a tenant's driver is not kept for ever
			}
			return true
		}
		return false
	}
	for !stop() {
		ls.mu.Lock()
		select {
		case <-h.renew: // the channels below include every one known now
		default:
		}
		chs := make([]string, 0, len(h.chans))
		for c := range h.chans {
			chs = append(chs, c)
		}
		ls.mu.Unlock()
		sctx, cancel := context.WithTimeout(ctx, max(m.cfg.timeout, time.Second))
		sub, err := h.d.Subscribe(sctx, chs...)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				m.report(ctx, &m.cfg, h.d, OpSubscribe, "", strings.Join(chs, " "), err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, lockPoll)
			continue
		}
		backoff = 50 * time.Millisecond
		ls.mu.Lock()
		h.subbed = make(map[string]bool, len(chs))
		for _, c := range chs {
			h.subbed[c] = true
		}
		h.wakeLocked("", true) // look again: announcements may have been missed before
		ls.mu.Unlock()
		err = m.receiveLocks(ctx, h, sub)
		ls.mu.Lock()
		h.subbed = nil
		h.wakeLocked("", true) // poll until it is back
		ls.mu.Unlock()
		_ = sub.Close()
		if err != nil && ctx.Err() == nil && !errors.Is(err, conn.ErrClosed) {
			m.report(ctx, &m.cfg, h.d, OpSubscribe, "", strings.Join(chs, " "), err)
		}
	}
}

// receiveLocks wakes the waiters of each key announced, until the
// subscription fails, a new channel needs a new one, or h is idle (nil).
func (m *Manager) receiveLocks(ctx context.Context, h *lockHub, sub conn.Subscription) error {
	ls := &m.locks
	for {
		ls.mu.Lock()
		idle := h.n == 0 && time.Since(h.idle) >= lockHubIdle
		ls.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-h.renew:
			return nil
		default:
		}
		rctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		msg, err := sub.Receive(rctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			return err
		}
		ls.mu.Lock()
		h.wakeLocked(string(msg.Payload), false)
		ls.mu.Unlock()
	}
}
