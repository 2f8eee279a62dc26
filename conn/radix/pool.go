package radix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/mediocregopher/radix/v4/resp"
	"github.com/redcache/redcache/conn"
)

// pool is the radix Client that [Open] builds for each server (each node,
// on a cluster, through PoolConfig.CustomPool). Like radix's own pool it
// keeps a few connections that concurrent calls share (a radix Conn is safe
// for concurrent use and pipelines what it is given), and gives blocking
// commands connections of their own. It differs where radix v4.1.4's pool
// goes wrong under cancellations:
//
//   - radix discards a shared connection when a call on it is cancelled at
//     an unlucky moment, closing it under the other calls in flight on it,
//     which then fail; here a connection whose call was cancelled is set
//     aside and checked with a PING, and comes back if it answers;
//   - when radix's pool has lost all its connections (a server restart
//     does it), a waiting call is only woken by a reconnection, one per
//     reconnection, so that with more waiters than connections the rest
//     wait until their context ends (forever, without a deadline) even
//     though connections are back; here every reconnection wakes every
//     waiter;
//   - while the server cannot be reached, a call fails at once with the
//     dial error instead of waiting for its context to end, so that a dead
//     Redis costs no latency;
//   - a radix call whose context ended waits for the replies queued
//     before its own on the connection, past its deadline for as long as
//     the server stalls (CLIENT PAUSE, DEBUG SLEEP, a stopped process, a
//     partition) or is slow; here a call whose context can end returns
//     when it does, its command left to a goroutine that reads the reply
//     and drops it (see perform), and a connection whose server stays
//     silent for [connStall] with such a reply owed is closed and
//     redialled.
type pool struct {
	network, addr string
	dialer        rdx.Dialer
	ctx           context.Context // ends at Close: stops dials and checks
	cancel        context.CancelFunc

	slots []atomic.Pointer[pooled] // shared connections; nil while one is redialled or checked
	next  atomic.Uint32

	mu      sync.Mutex
	ready   chan struct{} // closed, and replaced, whenever a slot comes up or a dial fails
	dialErr error         // the last dial's error; nil once a dial succeeds
	kick    chan struct{} // closed, and replaced, to cut the redials' backoff short
	kicked  time.Time     // when kick was last closed
	idle    []rdx.Conn    // connections for blocking commands, not in use
	busy    map[rdx.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup

	excl chan struct{} // bounds the connections of blocking commands

	lane *lane // auto-pipelining; nil when off
}

// pooled is a shared connection in a slot.
type pooled struct {
	c    rdx.Conn
	nc   *countingConn // c's network connection; nil with a CustomConn dialer
	dead atomic.Bool   // closed as stalled (see watchLeft)

	inflight  atomic.Int32 // calls and batches on c awaiting their replies
	owedSince atomic.Int64 // UnixNano when inflight last rose from 0
}

// begin and end bracket a call or batch on pc, for [pool.watchReplies].
func (pc *pooled) begin() {
	if pc.inflight.Add(1) == 1 {
		pc.owedSince.Store(time.Now().UnixNano())
	}
}

func (pc *pooled) end() { pc.inflight.Add(-1) }

// owedTooLong reports whether pc has had a reply owed, and heard nothing
// from the server, for d or more at now. Without the network connection
// (a CustomConn dialer) it cannot tell, and says no.
func (pc *pooled) owedTooLong(d time.Duration, now int64) bool {
	if pc.nc == nil || pc.inflight.Load() == 0 {
		return false
	}
	since := max(pc.owedSince.Load(), pc.nc.lastRead.Load())
	return now-since >= int64(d) && pc.nc.pending() == 0 && pc.inflight.Load() > 0
}

// heardWithin reports whether the server talked on pc within d: bytes
// wait in the socket (which a reader starved of CPU has not read yet), or
// came in less than d ago. Without the network connection (a CustomConn
// dialer) it cannot tell, and says no.
func (pc *pooled) heardWithin(d time.Duration) bool {
	if pc.nc == nil {
		return false
	}
	if pc.nc.pending() > 0 {
		return true
	}
	return time.Duration(time.Now().UnixNano()-pc.nc.lastRead.Load()) < d
}

const (
	defaultPoolSize = 4
	dialTimeout     = 5 * time.Second
	checkTimeout    = time.Second
	minRedial       = 50 * time.Millisecond
	// maxRedial bounds the backoff between failed dials. A refused dial
	// costs microseconds, so a short bound is cheap, and it bounds how long
	// the pool stays away from a server that came back with no call
	// asking for it (calls kick the redial at once, see kickRedial).
	maxRedial = 500 * time.Millisecond

	// stallGrace is how long a call on a connection of its own (a
	// blocking command) or a health check may go on after its context
	// ended before its connection is closed (see watchStall).
	stallGrace = 10 * time.Millisecond

	// connStall is how long the server must have been silent on a shared
	// connection, with a reply owed to a caller that gave up, before the
	// connection is taken for stalled and closed (see watchLeft). A
	// loaded machine (a busy Redis, -race) is silent for a tenth of a
	// second now and then; closing the connection then would fail the
	// calls on it whose contexts are live. No caller waits for this: each
	// returns when its context ends.
	connStall = time.Second
	// stallCheck is how often a connection is looked at meanwhile.
	stallCheck = 100 * time.Millisecond

	// replyTimeout is how long the server may stay silent on a shared
	// connection while a reply is owed on it, callers still waiting or
	// not, before the connection is taken for dead and closed (see
	// watchReplies): a connection left half open (a partition, a peer or
	// NAT that lost it) is thus noticed by the calls on it, rather than
	// holding each to its own deadline. The calls on it then fail with
	// [ErrStalled], or go again on another connection when they may run
	// twice. Like go-redis's default ReadTimeout, it bounds a command the
	// server takes longer to answer, with every other client waiting too.
	replyTimeout = 3 * time.Second
	// replyCheck is how often watchReplies looks.
	replyCheck = 250 * time.Millisecond
)

// errPoolClosed is returned by calls on a closed pool.
var errPoolClosed = fmt.Errorf("radix pool: %w", conn.ErrClosed)

// newPool dials the first connection before it returns, to report a server
// that cannot be reached, and the others in the background.
func newPool(ctx context.Context, network, addr string, d rdx.Dialer, size, lanes int) (*pool, error) {
	if size <= 0 {
		size = defaultPoolSize
	}
	first, err := dialCounting(ctx, d, network, addr)
	if err != nil {
		return nil, err
	}
	p := &pool{
		network: network,
		addr:    addr,
		dialer:  d,
		slots:   make([]atomic.Pointer[pooled], size),
		ready:   make(chan struct{}),
		kick:    make(chan struct{}),
		busy:    make(map[rdx.Conn]struct{}),
		excl:    make(chan struct{}, size),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if lanes > 0 {
		p.lane = &lane{p: p, limit: lanes}
	}
	p.slots[0].Store(first)
	for i := 1; i < size; i++ {
		p.background(func() { p.redial(i) })
	}
	p.background(p.watchReplies)
	return p, nil
}

// watchReplies closes, until the pool closes, the shared connections on
// which the server has been silent for [replyTimeout] with a reply owed.
// Its slot is redialled.
func (p *pool) watchReplies() {
	t := time.NewTicker(replyCheck)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-p.ctx.Done():
			return
		}
		now := time.Now().UnixNano()
		for i := range p.slots {
			if pc := p.slots[i].Load(); pc != nil && !pc.dead.Load() && pc.owedTooLong(replyTimeout, now) {
				p.abandon(i, pc)
			}
		}
	}
}

// background runs fn in a goroutine that Close waits for, unless the pool
// is closed already.
func (p *pool) background(fn func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		fn()
	}()
	return true
}

// Addr implements rdx.Client.
func (p *pool) Addr() net.Addr { return netAddr{p.network, p.addr} }

type netAddr struct{ network, addr string }

func (a netAddr) Network() string { return a.network }
func (a netAddr) String() string  { return a.addr }

// Do implements rdx.Client.
func (p *pool) Do(ctx context.Context, a rdx.Action) error {
	if !a.Properties().CanShareConn {
		return p.doExclusive(ctx, a)
	}
	if p.lane != nil {
		if ra, ok := batchable(a); ok {
			return p.lane.do(ctx, ra)
		}
	}
	return p.doShared(ctx, a)
}

// doShared performs a on a shared connection.
func (p *pool) doShared(ctx context.Context, a rdx.Action) error {
	for {
		i, pc, wait, err := p.pick()
		if err != nil {
			return err
		}
		if pc != nil {
			err, left := p.perform(ctx, i, pc, a)
			if left || err == nil || connUsable(err) {
				return err
			}
			ctxErr := ctx.Err()
			if pc.dead.Load() {
				if ctxErr != nil {
					return fmt.Errorf("%w (%s stalled: connection closed)", ctxErr, p.addr)
				}
				// The connection was closed as stalled under this call.
				// A command that may safely run twice goes again on
				// another connection, until its own context ends: the
				// server may only have been slow.
				if idempotent(a) {
					continue
				}
				return fmt.Errorf("%w: %s: silent with a reply owed (%w)", ErrStalled, p.addr, err)
			}
			p.setAside(i, pc, ctxErr != nil && errors.Is(err, ctxErr))
			return err
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.ctx.Done():
			return errPoolClosed
		}
	}
}

// perform runs a on the shared connection pc, in slot i. A call whose
// context can end runs a in a goroutine of its own, on a context that
// does not end, and waits for it or for its own context, whichever comes
// first: when the context ends first the call returns at once (left is
// true) and the goroutine reads the reply when it comes and drops it. A
// caller that gives up thus neither waits for the replies queued before
// its own on the connection (radix's Conn does, when its context ends)
// nor needs the connection closed to be released, which would fail the
// other calls on it; and the connection stays in step. A connection whose
// server then stays silent for connStall with such a reply still owed is
// taken for stalled and closed (see watchLeft).
func (p *pool) perform(ctx context.Context, i int, pc *pooled, a rdx.Action) (err error, left bool) {
	if ctx.Done() == nil || !ownAction(a) {
		// radix's own actions (a cluster's topology query) read their
		// reply into the caller's memory: they cannot be left to a
		// goroutine, and wait for it, on a connection whose silence
		// watchReplies bounds.
		pc.begin()
		defer pc.end()
		return a.Perform(context.WithoutCancel(ctx), pc.c), false
	}
	if err := ctx.Err(); err != nil {
		return err, true
	}
	detach(a)
	c := &call{done: make(chan struct{})}
	pc.begin()
	go func() {
		c.err = a.Perform(context.WithoutCancel(ctx), pc.c)
		pc.end()
		close(c.done)
	}()
	select {
	case <-c.done:
		return c.err, false
	case <-ctx.Done():
	}
	select {
	case <-c.done: // the reply came in meanwhile
		return c.err, false
	default:
	}
	p.watchLeft(i, pc, c)
	return ctx.Err(), true
}

// ownAction reports whether a is one of the driver's actions, which own
// what they write and read (see detach).
func ownAction(a rdx.Action) bool {
	switch a.(type) {
	case *action, *pipe:
		return true
	}
	return false
}

// call is a command run by perform.
type call struct {
	done chan struct{}
	err  error // set before done is closed
}

// detach makes a own the bytes it sends, which are the caller's: a
// caller that gives up may reuse them while the command is still being
// written.
func detach(a rdx.Action) {
	switch a := a.(type) {
	case *action:
		// Once: an action sent again (see idempotent) may still be read by
		// the writer of the connection that failed it.
		if a.val != nil && !a.ownsVal {
			a.val, a.ownsVal = bytes.Clone(a.val), true
		}
	case *pipe:
		for _, sub := range a.acts {
			detach(sub)
		}
	}
}

// watchLeft watches pc after a caller gave up on c: when the server has
// been silent on pc for connStall while c is still owed its reply, the
// server stalls (a stopped process, a partition) and pc is closed, which
// ends c and the calls queued behind it and makes the slot dial again.
// Until then the connection serves the other calls as usual.
func (p *pool) watchLeft(i int, pc *pooled, c *call) {
	left := time.Now()
	var check func()
	check = func() {
		select {
		case <-c.done:
			return
		default:
		}
		if pc.dead.Load() || p.ctx.Err() != nil {
			return
		}
		if time.Since(left) < connStall || pc.heardWithin(connStall) {
			time.AfterFunc(stallCheck, check)
			return
		}
		p.abandon(i, pc)
	}
	time.AfterFunc(stallCheck, check)
}

// idempotent reports whether a is a command of the driver that may run
// twice with the same outcome: GET, MGET, SET without NX, PEXPIRE.
func idempotent(a rdx.Action) bool {
	ra, ok := a.(*action)
	if !ok {
		return false
	}
	switch ra.op {
	case opGet, opPExpire:
		return true
	case opSet:
		return !ra.nx
	case opKeys:
		return ra.name == "MGET"
	}
	return false
}

// connUsable reports an error after which the connection is known to be
// fine: an error reply, or radix's word that nothing was left half read.
func connUsable(err error) bool {
	return isReplyErr(err) || errors.As(err, new(resp.ErrConnUsable))
}

// pick returns a shared connection, round robin, or, when none is up, a
// channel that is closed when that may have changed.
func (p *pool) pick() (int, *pooled, <-chan struct{}, error) {
	n := uint32(len(p.slots))
	start := p.next.Add(1)
	for k := uint32(0); k < n; k++ {
		i := int((start + k) % n)
		if pc := p.slots[i].Load(); pc != nil {
			return i, pc, nil, nil
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return 0, nil, nil, errPoolClosed
	case p.dialErr != nil:
		p.kickRedial()
		return 0, nil, nil, fmt.Errorf("no connection to %s: %w", p.addr, p.dialErr)
	}
	for i := range p.slots { // one may have come up meanwhile
		if pc := p.slots[i].Load(); pc != nil {
			return i, pc, nil, nil
		}
	}
	return 0, nil, p.ready, nil
}

// watchStall arranges for onStall to run when ctx ends and the call has
// not returned [stallGrace] later, unless alive (optional) says that the
// server is still talking on the connection, in which case it looks again
// a grace later. The call runs the watch's done when it returns. A
// context that cannot end costs nothing; one that can costs one
// context.AfterFunc, cheaper than a timer of our own.
func watchStall(ctx context.Context, alive func() bool, onStall func()) *stallWatch {
	if ctx.Done() == nil {
		return nil
	}
	w := &stallWatch{alive: alive, onStall: onStall}
	w.stop = context.AfterFunc(ctx, w.expired)
	return w
}

// stallWatch is a call watched by [watchStall].
type stallWatch struct {
	finished atomic.Bool
	alive    func() bool
	onStall  func()
	stop     func() bool
}

// done tells the watch that the call returned. A nil watch is fine.
func (w *stallWatch) done() {
	if w != nil {
		w.finished.Store(true)
		w.stop()
	}
}

// expired runs when the call's context ends.
func (w *stallWatch) expired() { time.AfterFunc(stallGrace, w.fire) }

func (w *stallWatch) fire() {
	switch {
	case w.finished.Load():
	case w.alive != nil && w.alive():
		time.AfterFunc(stallGrace, w.fire)
	default:
		w.onStall()
	}
}

// abandon closes pc, on which the server stalls (see watchLeft): the
// calls queued on pc would wait for it. Its slot, if it is still there, is
// redialled.
func (p *pool) abandon(i int, pc *pooled) {
	pc.dead.Store(true)
	if p.slots[i].CompareAndSwap(pc, nil) {
		p.background(func() { p.redial(i) })
	}
	_ = pc.c.Close()
}

// setAside takes pc out of its slot after a failed call. When the call
// failed because its context ended, the connection is probably fine (radix
// drops the late reply): it is checked and put back. Otherwise, or when the
// check fails, it is closed and the slot redialled.
func (p *pool) setAside(i int, pc *pooled, check bool) {
	if !p.slots[i].CompareAndSwap(pc, nil) {
		return // another call did
	}
	started := p.background(func() {
		if check && p.check(pc.c) && !pc.dead.Load() {
			p.put(i, pc)
			return
		}
		_ = pc.c.Close()
		p.redial(i)
	})
	if !started {
		_ = pc.c.Close()
	}
}

// check sends a PING on c. A PING that outlives its timeout, or the
// pool's Close, closes c, which ends it.
func (p *pool) check(c rdx.Conn) bool {
	ctx, cancel := context.WithTimeout(p.ctx, checkTimeout)
	defer cancel()
	w := watchStall(ctx, nil, func() { _ = c.Close() })
	defer w.done()
	return c.Do(ctx, rdx.Cmd(nil, "PING")) == nil
}

// put puts pc in slot i and wakes the waiting calls.
func (p *pool) put(i int, pc *pooled) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = pc.c.Close()
		return
	}
	p.slots[i].Store(pc)
	p.dialErr = nil
	p.wake()
}

// kickRedial makes the redials waiting out a backoff dial again at once,
// at most once per minRedial, so that a call made once the server is back
// finds it within a dial or so, however long the server was away; the
// call itself fails at once with the last dial error, as before. p.mu
// must be held.
func (p *pool) kickRedial() {
	if now := time.Now(); now.Sub(p.kicked) >= minRedial {
		p.kicked = now
		close(p.kick)
		p.kick = make(chan struct{})
	}
}

// wake wakes every waiting call; p.mu must be held.
func (p *pool) wake() {
	close(p.ready)
	p.ready = make(chan struct{})
}

// redial dials slot i until it succeeds or the pool closes, backing off
// between failures.
func (p *pool) redial(i int) {
	wait := minRedial
	for {
		ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
		pc, err := dialCounting(ctx, p.dialer, p.network, p.addr)
		cancel()
		if err == nil {
			p.put(i, pc)
			return
		}
		p.mu.Lock()
		if p.ctx.Err() == nil {
			p.dialErr = err
		}
		p.wake() // the waiting calls fail now rather than at their deadline
		kick := p.kick
		p.mu.Unlock()

		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-kick:
			t.Stop()
		case <-p.ctx.Done():
			t.Stop()
			return
		}
		if wait *= 2; wait > maxRedial {
			wait = maxRedial
		}
	}
}

// doExclusive performs a on a connection no other call uses (a blocking
// command). A connection whose call failed otherwise than by an error reply
// is closed: a blocking command may still be running on it.
func (p *pool) doExclusive(ctx context.Context, a rdx.Action) error {
	select {
	case p.excl <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.ctx.Done():
		return errPoolClosed
	}
	defer func() { <-p.excl }()

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPoolClosed
	}
	var c rdx.Conn
	if n := len(p.idle); n > 0 {
		c = p.idle[n-1]
		p.idle = p.idle[:n-1]
	}
	p.mu.Unlock()
	if c == nil {
		var err error
		if c, err = p.dialer.Dial(ctx, p.network, p.addr); err != nil {
			return err
		}
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = c.Close()
		return errPoolClosed
	}
	p.busy[c] = struct{}{}
	p.mu.Unlock()

	w := watchStall(ctx, nil, func() { _ = c.Close() })
	err := a.Perform(ctx, c)
	w.done()
	if ctxErr := ctx.Err(); err != nil && ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w (%w)", ctxErr, err)
	}

	p.mu.Lock()
	delete(p.busy, c)
	keep := !p.closed && (err == nil || isReplyErr(err)) && len(p.idle) < cap(p.excl)
	if keep {
		p.idle = append(p.idle, c)
	}
	p.mu.Unlock()
	if !keep {
		_ = c.Close()
	}
	return err
}

// Close implements rdx.Client: it closes every connection, the ones in use
// included, and waits for the pool's goroutines to end.
func (p *pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPoolClosed
	}
	p.closed = true
	conns := append([]rdx.Conn(nil), p.idle...)
	for c := range p.busy {
		conns = append(conns, c)
	}
	p.idle, p.busy = nil, nil
	p.wake()
	p.mu.Unlock()

	p.cancel()
	for i := range p.slots {
		if pc := p.slots[i].Swap(nil); pc != nil {
			conns = append(conns, pc.c)
		}
	}
	for _, c := range conns {
		_ = c.Close()
	}
	p.wg.Wait()
	return nil
}

// dialCounting dials a shared connection with d, watching its network
// connection for signs of life (see [pooled.alive]).
func dialCounting(ctx context.Context, d rdx.Dialer, network, addr string) (*pooled, error) {
	if d.CustomConn != nil {
		c, err := d.Dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &pooled{c: c}, nil
	}
	cd := &countingDialer{inner: d.NetDialer}
	if cd.inner == nil {
		cd.inner = &net.Dialer{}
	}
	if td, ok := cd.inner.(tlsDialer); ok {
		// Under TLS, watch the TCP connection: its pending bytes can be
		// asked for, and a TLS record is a sign of life too.
		cd.inner = td.inner
		td.inner = cd
		d.NetDialer = td
	} else {
		d.NetDialer = cd
	}
	c, err := d.Dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &pooled{c: c, nc: cd.conn}, nil
}

// countingDialer dials with inner and keeps the connection it made.
type countingDialer struct {
	inner netDialer
	conn  *countingConn
}

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.inner.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.conn = &countingConn{Conn: c}
	d.conn.lastRead.Store(time.Now().UnixNano())
	return d.conn, nil
}

// countingConn notes when bytes last came in and went out.
type countingConn struct {
	net.Conn
	lastRead, lastWrite atomic.Int64 // UnixNano
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.lastWrite.Store(time.Now().UnixNano())
	return c.Conn.Write(b)
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// pending returns how many received bytes wait in the socket, unread, or
// 0 when that cannot be told.
func (c *countingConn) pending() int {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) { n = socketPending(fd) })
	return n
}

// SetKeepAlive passes radix's keep-alive setting on to a TCP connection.
func (c *countingConn) SetKeepAlive(on bool) error {
	if k, ok := c.Conn.(interface{ SetKeepAlive(bool) error }); ok {
		return k.SetKeepAlive(on)
	}
	return nil
}

// SetKeepAlivePeriod passes radix's keep-alive period on to a TCP
// connection.
func (c *countingConn) SetKeepAlivePeriod(d time.Duration) error {
	if k, ok := c.Conn.(interface{ SetKeepAlivePeriod(time.Duration) error }); ok {
		return k.SetKeepAlivePeriod(d)
	}
	return nil
}
