package conntest

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a fault-injecting TCP proxy for tests: it listens on a loopback
// port and forwards every connection to a target (a Redis server), until
// the test tells it to misbehave. Point a driver at [Proxy.Addr] instead of
// the server, then:
//
//   - [Proxy.Stall] stops forwarding in both directions. Connections stay
//     open and silent, and new ones are still accepted: the driver sees a
//     half-open server, as after a network partition or a SIGSTOPped
//     process, where only a deadline ends a call.
//   - [Proxy.Drop] keeps reading in both directions but forwards nothing:
//     a partition whose lost bytes never arrive, even after it ends.
//   - [Proxy.Resume] forwards again, bytes held during the stall included,
//     and reopens the listener if it was closed.
//   - [Proxy.Reset] closes every proxied connection with a TCP reset, as a
//     server restart or a middlebox does; new connections are accepted.
//   - [Proxy.Refuse] closes the listener, so a new dial is refused at once
//     (ECONNREFUSED), as when the server is down; [Proxy.Accept] reopens it
//     on the same port. Connections already proxied stay up: call Reset too
//     to cut them.
//
// A Proxy is safe for concurrent use. It only ever listens on 127.0.0.1
// and is closed, with every connection it made, by the test's clean-up.
type Proxy struct {
	tb     testing.TB
	target string
	addr   string

	dropping atomic.Bool // set by Drop: what is read is thrown away

	mu      sync.Mutex
	ln      net.Listener  // nil while refusing
	gate    chan struct{} // closed while forwarding, open while stalled
	links   map[*link]struct{}
	closed  bool
	workers sync.WaitGroup
}

// link is one proxied connection: the client's side and the server's.
type link struct {
	client, server net.Conn
	once           sync.Once
	done           chan struct{}
}

// close ends both sides; with reset, as TCP resets (SO_LINGER 0) rather
// than orderly closes.
func (l *link) close(reset bool) {
	l.once.Do(func() {
		if reset {
			for _, c := range []net.Conn{l.client, l.server} {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
			}
		}
		_ = l.client.Close()
		_ = l.server.Close()
		close(l.done)
	})
}

// NewProxy starts a proxy on a free port of 127.0.0.1 that forwards to
// target (host:port). It fails tb when it cannot listen, and is closed by
// tb's clean-up.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("conntest: proxy: listen: %v", err)
	}
	gate := make(chan struct{})
	close(gate)
	p := &Proxy{
		tb:     tb,
		target: target,
		addr:   ln.Addr().String(),
		ln:     ln,
		gate:   gate,
		links:  map[*link]struct{}{},
	}
	p.serve(ln)
	tb.Cleanup(p.close)
	return p
}

// Addr returns the proxy's address, host:port, the same for its lifetime
// (Refuse and Accept keep the port).
func (p *Proxy) Addr() string { return p.addr }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Conns returns how many proxied connections are open.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Stall stops forwarding in both directions until [Proxy.Resume]. Bytes
// read meanwhile are held, not dropped; connections stay open, and new ones
// are accepted but get no answer. A chunk already being written when Stall
// is called may still arrive.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // already stalled
	}
}

// Drop throws away every byte read in either direction until
// [Proxy.Resume]: connections stay open and new ones are accepted, but
// nothing arrives, and what was sent meanwhile is lost for good, as in a
// network partition. A connection that had a request in flight stays
// waiting for a reply that never comes, even after Resume.
func (p *Proxy) Drop() { p.dropping.Store(true) }

// Resume ends a stall or a drop, forwarding what a stall held, and
// reopens the listener when [Proxy.Refuse] closed it.
func (p *Proxy) Resume() {
	p.dropping.Store(false)
	p.mu.Lock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
	p.mu.Unlock()
	p.Accept()
}

// Reset closes every proxied connection with a TCP reset. The listener
// stays as it is: new connections are accepted unless the proxy refuses
// them, and they are stalled if the proxy is. A connection whose dial has
// just returned may not be accepted by the proxy yet, and then survives;
// [Proxy.Conns] tells when it is.
func (p *Proxy) Reset() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close(true)
	}
}

// Refuse closes the listener: from its return until [Proxy.Accept] or
// [Proxy.Resume], a dial to Addr is refused (ECONNREFUSED). Connections
// already proxied are left as they are.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
}

// Accept reopens the listener on the same port after [Proxy.Refuse]; it
// does nothing when the proxy is listening. It reports a failure to tb (the
// port was taken meanwhile) without stopping the test's goroutine.
func (p *Proxy) Accept() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil || p.closed {
		return
	}
	var err error
	for deadline := time.Now().Add(2 * time.Second); ; {
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.ln = ln
			p.serve(ln)
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.tb.Errorf("conntest: proxy: listen again on %s: %v", p.addr, err)
}

// serve accepts on ln until it is closed. Call it with p.mu held or before
// p is shared.
func (p *Proxy) serve(ln net.Listener) {
	p.workers.Add(1)
	go func() {
		defer p.workers.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				time.Sleep(5 * time.Millisecond) // a transient error: EMFILE, ECONNABORTED
				continue
			}
			p.open(c)
		}
	}()
}

// open dials the target for the accepted client and starts forwarding.
func (p *Proxy) open(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		// The target is down: the client sees its connection closed, as
		// it would through any TCP proxy.
		_ = client.Close()
		return
	}
	l := &link{client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.close(false)
		return
	}
	p.links[l] = struct{}{}
	p.workers.Add(2)
	p.mu.Unlock()
	go p.pipe(l, client, server)
	go p.pipe(l, server, client)
}

// pipe copies src to dst, holding what it read while the proxy is stalled.
// When either side ends, the whole link ends.
func (p *Proxy) pipe(l *link, src, dst net.Conn) {
	defer p.workers.Done()
	defer func() {
		l.close(false)
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.dropping.Load() {
			if !p.wait(l) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				l.close(true) // pass a reset on as a reset
			}
			return
		}
	}
}

// wait blocks while the proxy is stalled, and reports false when the link
// ended meanwhile.
func (p *Proxy) wait(l *link) bool {
	for {
		p.mu.Lock()
		gate := p.gate
		p.mu.Unlock()
		select {
		case <-gate:
			p.mu.Lock()
			same := gate == p.gate
			p.mu.Unlock()
			if same {
				return true
			}
			// Stalled and resumed meanwhile, or stalled again: look again.
			// (A closed gate is never reused, so this ends.)
		case <-l.done:
			return false
		}
	}
}

// close stops the proxy for good: the listener, every link, every
// goroutine.
func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	p.Reset()
	p.workers.Wait()
}
