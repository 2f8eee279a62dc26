package radix

import (
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
//   - radix discards the late reply of a call whose context ended with no
//     read deadline, and the calls queued behind it on the connection wait
//     for that reader, past their own deadlines, for as long as the server
//     stalls (CLIENT PAUSE, DEBUG SLEEP, a stopped process, a partition);
//     here a call still running [stallGrace] after its context ended gets
//     its connection closed, which releases every call queued on it (a
//     server that answers within the grace keeps its connections).
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
}

// pooled is a shared connection in a slot.
type pooled struct {
	c    rdx.Conn
	nc   *countingConn // c's network connection; nil with a CustomConn dialer
	dead atomic.Bool   // closed because a call on it outlived its context
}

// alive reports whether the server may still be talking on pc: bytes
// wait in the socket (which a reader starved of CPU has not read yet), or
// came in within the last stallGrace after a request went out. When
// nothing went out since the last bytes came in, the server owes nothing
// new as far as can be seen (a writer starved of CPU has not sent the
// request of the stuck call yet, or the server stopped halfway through
// the replies of a batch): it is given [idleStall] of silence instead. A
// call stuck past its deadline on a connection that is alive is late
// because this process is slow (-race, an overloaded machine), not
// because the server stalls, and closing the connection would fail the
// other calls on it for nothing.
func (pc *pooled) alive() bool {
	if pc.nc == nil {
		return false // cannot tell: a stuck call means a stall
	}
	if pc.nc.pending() > 0 {
		return true
	}
	lastRead, lastWrite := pc.nc.lastRead.Load(), pc.nc.lastWrite.Load()
	silence := time.Duration(time.Now().UnixNano() - lastRead)
	if lastWrite > lastRead {
		return silence < stallGrace
	}
	return silence < idleStall
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

	// stallGrace is how long a call may go on after its context ended
	// before its connection is taken to be stalled and closed, if the
	// server has been silent on it for as long (see pooled.alive). A
	// server that answers sends the late reply well within it, and radix
	// then drops the reply and keeps the connection; one that stalls holds
	// every call queued on the connection, which the close releases.
	stallGrace = 10 * time.Millisecond

	// idleStall is the silence after which a connection with a stuck call
	// is closed when no request went out since the last bytes came in.
	idleStall = 100 * time.Millisecond
)

// errPoolClosed is returned by calls on a closed pool.
var errPoolClosed = fmt.Errorf("radix pool: %w", conn.ErrClosed)

// newPool dials the first connection before it returns, to report a server
// that cannot be reached, and the others in the background.
func newPool(ctx context.Context, network, addr string, d rdx.Dialer, size int) (*pool, error) {
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
	p.slots[0].Store(first)
	for i := 1; i < size; i++ {
		p.background(func() { p.redial(i) })
	}
	return p, nil
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
	for {
		i, pc, wait, err := p.pick()
		if err != nil {
			return err
		}
		if pc != nil {
			w := watchStall(ctx, pc.alive, func() { p.abandon(i, pc) })
			err := a.Perform(ctx, pc.c)
			w.done()
			if err == nil || connUsable(err) {
				return err
			}
			ctxErr := ctx.Err()
			if pc.dead.Load() {
				if ctxErr != nil {
					return fmt.Errorf("%w (%s stalled: connection closed)", ctxErr, p.addr)
				}
				// Another call's deadline closed the connection under
				// this one. A command that may safely run twice goes
				// again on another connection, until its own context
				// ends: the server may only have been slow, or this
				// process starved of CPU.
				if idempotent(a) {
					continue
				}
				return fmt.Errorf("%w: %s: a call outlived its deadline on this connection (%w)", ErrStalled, p.addr, err)
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

// abandon closes pc, on which a call outlived its context: the server
// stalls, and the calls queued on pc would wait for it. Its slot, if it is
// still there, is redialled.
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
