package tests_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// stallProxy forwards a client's connections to the test Redis and, while
// stalled, holds Redis's replies back without closing anything: a server
// that stopped answering mid-connection.
type stallProxy struct {
	ln net.Listener

	mu      sync.Mutex
	stalled bool
	resume  chan struct{} // closed when the stall ends
	conns   []net.Conn
}

func newStallProxy(t *testing.T) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, resume: make(chan struct{})}
	close(p.resume)
	upstream := conntest.RedisAddr(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(p.holding(c), up); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.stall(false)
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

// stall holds (true) or lets through (false) every reply from now on.
func (p *stallProxy) stall(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && !p.stalled:
		p.resume = make(chan struct{})
	case !on && p.stalled:
		close(p.resume)
	}
	p.stalled = on
}

// holding is w, whose writes wait while the proxy is stalled.
func (p *stallProxy) holding(w io.Writer) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		resume := p.resume
		p.mu.Unlock()
		<-resume
		return w.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// A call with a context that can be cancelled (an HTTP handler's) keeps
// both bounds of a Redis read: the timeout, and the caller's
// cancellation. The read of a hit is bounded by the Manager's timeout
// (the call returns the loader's value within the timeout and 10%); a
// caller that gives up while Redis is silent gets its context's error
// back, no later than the timeout either, and radix, which heeds a
// context's Done channel while it waits for a reply, hears of the
// cancellation within a slice of the timeout (an eighth).
func TestCancellableCallsKeepTheirBounds(t *testing.T) {
	const timeout = 400 * time.Millisecond
	for _, name := range []string{"goredis", "radix"} {
		t.Run(name, func(t *testing.T) {
			p := newStallProxy(t)
			var d conn.Driver
			if name == "goredis" {
				d = openGoredis(t, "redis://"+p.addr()+"?max_retries=-1")
			} else {
				d = openRadix(t, "redis://"+p.addr())
			}
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithTimeout(timeout),
				core.WithBreaker(1000, time.Hour))
			t.Cleanup(func() { _ = m.Close() })
			var loads counter
			get := core.Memoize(m, "bounds", func(_ context.Context, i int) (int, error) {
				loads.inc()
				return i * 10, nil
			})
			req, cancel := context.WithCancel(context.Background())
			defer cancel()
			if v, err := get.Get(req, 1); err != nil || v != 10 {
				t.Fatalf("Get = %v, %v", v, err)
			}
			if v, err := get.Get(req, 1); err != nil || v != 10 || loads.n() != 1 {
				t.Fatalf("a hit: Get = %v, %v after %d loads", v, err, loads.n())
			}

			p.stall(true)
			start := time.Now()
			v, err := get.Get(req, 1)
			took := time.Since(start)
			if err != nil || v != 10 {
				t.Fatalf("Redis silent: Get = %v, %v; want the loader's value", v, err)
			}
			if took > timeout+timeout/10 {
				t.Errorf("Redis silent: Get took %v; want at most the timeout (%v) and 10%%", took, timeout)
			}
			if loads.n() != 2 {
				t.Errorf("Redis silent: %d loads; want the loader to serve the call", loads.n())
			}

			gone, cancelGone := context.WithCancel(context.Background())
			go func() { time.Sleep(timeout / 8); cancelGone() }()
			start = time.Now()
			_, err = get.Get(gone, 2)
			took = time.Since(start)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("a caller that gave up: Get = %v; want context.Canceled", err)
			}
			bound := timeout + timeout/10
			if name == "radix" {
				// Cancelled a slice in, heard within a slice more: well
				// before the timeout, with room for a loaded machine.
				bound = timeout - timeout/8
			}
			if took > bound {
				t.Errorf("a caller that gave up: Get returned after %v; want within %v", took, bound)
			}
			p.stall(false)
		})
	}
}

// Bounded contexts are pooled: a context that a call released is handed
// to the next call whose caller's context can be cancelled. Many callers
// at once, some of whom give up at random moments, each get their own
// value or their own context's error, never another call's outcome, and
// the pool is race-free (run with -race).
func TestCancellableCallsUnderChurn(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithTimeout(time.Second))
		t.Cleanup(func() { _ = m.Close() })
		get := core.Memoize(m, "churn", func(_ context.Context, i int) (int, error) { return i * 10, nil })
		const workers, calls, keys = 16, 60, 8
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := range calls {
					ctx, cancel := context.WithCancel(context.Background())
					switch (w + c) % 4 {
					case 0:
						cancel() // gave up before the call
					case 1:
						time.AfterFunc(time.Duration(c%5)*50*time.Microsecond, cancel) // gives up during it
					}
					k := (w*calls + c) % keys
					v, err := get.Get(ctx, k)
					cancel()
					switch {
					case err == nil && v != k*10:
						t.Errorf("Get(%d) = %d; want %d", k, v, k*10)
						return
					case err != nil && !errors.Is(err, context.Canceled):
						t.Errorf("Get(%d): %v; want a value or context.Canceled", k, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if s := m.Stats(); s.Hits == 0 {
			t.Errorf("stats = %+v: no hit among the calls", s)
		}
	})
}
