package radix_test

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
	"github.com/redcache/redcache/conn/radix"
)

// flakyProxy stands between the driver and Redis, and can drop its
// connections or stop listening, like a server that restarts or dies.
type flakyProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	t.Helper()
	p := &flakyProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.stop()
		p.wg.Wait()
	})
	return p
}

func (p *flakyProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln { // stopped meanwhile
				p.mu.Unlock()
				c.Close()
				s.Close()
				continue
			}
			p.conns[c], p.conns[s] = struct{}{}, struct{}{}
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(s, c); s.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
}

// cut drops every connection, as a server restart does.
func (p *flakyProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// stop stops listening and drops every connection: the server is down.
func (p *flakyProxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.cut()
}

// start listens again on the same address: the server is back.
func (p *flakyProxy) start() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	must(p.t, err)
	p.serve(ln)
}

// TestPoolRecoversFromDroppedConnections drops every connection under
// many concurrent callers without deadlines: all of them must finish, and
// the driver must work again at once.
func TestPoolRecoversFromDroppedConnections(t *testing.T) {
	px := newFlakyProxy(t, conntest.RedisAddr(t))
	d := openT(t, "redis://"+px.addr+"?pool_size=2")
	ctx := context.Background() // no deadline: a lost wake-up would hang
	k := key(t, d, "recover")
	must(t, d.Set(ctx, k, []byte("v"), time.Minute))

	for round := 0; round < 5; round++ {
		px.cut()
		var wg sync.WaitGroup
		var mu sync.Mutex
		failed := 0
		for w := 0; w < 64; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					if _, err := d.Get(ctx, k); err != nil {
						mu.Lock()
						failed++
						mu.Unlock()
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("calls without a deadline hang after the connections dropped")
		}
		// The calls in flight when the connections dropped fail; the
		// pool redials at once for the others.
		if failed > 64*20/2 {
			t.Errorf("round %d: %d of %d calls failed after a drop", round, failed, 64*20)
		}
		if _, err := d.Get(ctx, k); err != nil {
			t.Fatalf("round %d: Get after recovery: %v", round, err)
		}
	}
}

// TestPoolFailsFastWhenDown checks that, with the server gone, calls fail
// with the dial error at once instead of waiting out their deadline, and
// that the driver comes back with the server.
func TestPoolFailsFastWhenDown(t *testing.T) {
	px := newFlakyProxy(t, conntest.RedisAddr(t))
	d := openT(t, "redis://"+px.addr)
	k := key(t, d, "down")
	must(t, d.Set(ctxT(t), k, []byte("v"), time.Minute))

	px.stop()
	// The calls on the dropped connections fail; then redials fail too.
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		_, err = d.Get(ctx, k)
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Fatal("Get succeeded with the server down")
		}
		if errors.Is(err, context.DeadlineExceeded) || took > 3*time.Second {
			t.Fatalf("Get with the server down took %v and returned %v; want a quick dial error", took, err)
		}
		if errors.Is(err, conn.ErrClosed) {
			t.Fatalf("a server that went away is reported as a closed driver: %v", err)
		}
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("with the server down: %v", err)

	px.start()
	deadline = time.Now().Add(15 * time.Second)
	for {
		got, err := d.Get(ctxT(t), k)
		if err == nil {
			if string(got) != "v" {
				t.Fatalf("Get after the server came back = %q", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the driver did not come back with the server: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPoolBlockingCommands checks that blocking commands get connections
// of their own (the shared ones keep answering meanwhile) and that Close
// ends one still blocked.
func TestPoolBlockingCommands(t *testing.T) {
	d, err := radix.Open(ctxT(t), "redis://"+conntest.RedisAddr(t)+"?pool_size=2")
	must(t, err)
	list := key(t, d, "blocked")

	const blocked = 2 // as many as the pool allows at once
	errc := make(chan error, blocked)
	for i := 0; i < blocked; i++ {
		go func() {
			_, err := d.Do(context.Background(), "BLPOP", list, 0)
			errc <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	ctx := ctxT(t)
	for i := 0; i < 20; i++ {
		if _, err := d.Do(ctx, "PING"); err != nil {
			t.Fatalf("PING while BLPOPs block: %v", err)
		}
	}
	// One more blocking call waits for a free connection, and honours its
	// deadline meanwhile.
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = d.Do(tctx, "BLPOP", list, 0)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third BLPOP = %v, want DeadlineExceeded", err)
	}

	must(t, d.Close())
	for i := 0; i < blocked; i++ {
		select {
		case err := <-errc:
			if !errors.Is(err, conn.ErrClosed) {
				t.Errorf("BLPOP ended by Close = %v, want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close left a BLPOP blocked")
		}
	}
}
