package conntest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redcache/redcache/conn/conntest"
)

// echoServer is a line echo server on loopback, owned by the test: the
// proxy's tests need a target, not Redis.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := c.c.Write([]byte(line + "\n")); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// recv reads a line within wait.
func (c *client) recv(wait time.Duration) (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(wait))
	s, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return s[:len(s)-1], nil
}

func (c *client) expect(want string) {
	c.t.Helper()
	got, err := c.recv(5 * time.Second)
	if err != nil || got != want {
		c.t.Fatalf("read = %q, %v; want %q", got, err, want)
	}
}

// expectSilence checks that nothing arrives and the connection stays open.
func (c *client) expectSilence() {
	c.t.Helper()
	got, err := c.recv(300 * time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("read = %q, %v; want nothing (a read timeout) on an open connection", got, err)
	}
}

// waitConns waits until the proxy has accepted n connections: a dial
// returns once the kernel completed the handshake, maybe before that.
func waitConns(t *testing.T, p *conntest.Proxy, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); p.Conns() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy holds %d connections, want %d", p.Conns(), n)
		}
	}
}

func TestProxyForwards(t *testing.T) {
	p := conntest.NewProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	c.send("hello")
	c.expect("hello")
	c2 := dial(t, p.Addr())
	c2.send("second")
	c2.expect("second")
	if n := p.Conns(); n != 2 {
		t.Fatalf("Conns = %d, want 2", n)
	}
}

func TestProxyStallResume(t *testing.T) {
	p := conntest.NewProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	c.send("before")
	c.expect("before")

	p.Stall()
	p.Stall() // idempotent
	c.send("held")
	c.expectSilence()
	late := dial(t, p.Addr()) // accepted while stalled, but silent
	late.send("late")
	late.expectSilence()

	p.Resume()
	c.expect("held")
	late.expect("late")
	c.send("after")
	c.expect("after")
	p.Resume() // idempotent
}

func TestProxyDropResume(t *testing.T) {
	p := conntest.NewProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	c.send("before")
	c.expect("before")

	p.Drop()
	c.send("lost")
	c.expectSilence()
	late := dial(t, p.Addr()) // accepted while dropping, but silent
	late.send("late")
	late.expectSilence()

	p.Resume()
	// What was sent meanwhile never arrives; what is sent now does.
	c.send("after")
	c.expect("after")
	late.send("again")
	late.expect("again")
}

func TestProxyReset(t *testing.T) {
	p := conntest.NewProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	c.send("x")
	c.expect("x")
	p.Reset()
	got, err := c.recv(5 * time.Second)
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after Reset = %q, %v; want the connection closed", got, err)
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Logf("read after Reset: %v (not ECONNRESET)", err)
	}
	c2 := dial(t, p.Addr())
	c2.send("again")
	c2.expect("again")
}

func TestProxyResetWhileStalled(t *testing.T) {
	p := conntest.NewProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	waitConns(t, p, 1) // Reset closes the connections the proxy has accepted
	p.Stall()
	c.send("held")
	p.Reset()
	if got, err := c.recv(5 * time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after Reset = %q, %v; want the connection closed", got, err)
	}
	p.Resume()
	c2 := dial(t, p.Addr())
	c2.send("fresh")
	c2.expect("fresh")
}

func TestProxyRefuseAccept(t *testing.T) {
	p := conntest.NewProxy(t, echoServer(t))
	old := dial(t, p.Addr())
	p.Refuse()
	p.Refuse() // idempotent
	start := time.Now()
	_, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while refusing = %v after %v, want ECONNREFUSED", err, time.Since(start))
	}
	// A connection made before Refuse stays up.
	old.send("still")
	old.expect("still")

	p.Accept()
	c := dial(t, p.Addr())
	c.send("back")
	c.expect("back")

	p.Refuse()
	p.Resume() // reopens too
	c = dial(t, p.Addr())
	c.send("resumed")
	c.expect("resumed")
}

func TestProxyCleanup(t *testing.T) {
	target := echoServer(t)
	var addr string
	var c *client
	t.Run("inner", func(inner *testing.T) {
		p := conntest.NewProxy(inner, target)
		addr = p.Addr()
		c = dial(t, p.Addr()) // the outer test owns the client
		c.send("x")
		c.expect("x")
		p.Stall()
	})
	// The inner test's clean-up closed the proxy and its connections.
	if got, err := c.recv(5 * time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after the proxy's clean-up = %q, %v; want the connection closed", got, err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("the proxy still accepts after its clean-up")
	}
}

func TestProxyTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	_ = ln.Close()
	p := conntest.NewProxy(t, target)
	c := dial(t, p.Addr())
	c.send("x")
	if got, err := c.recv(5 * time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read through a proxy to a closed port = %q, %v; want the connection closed", got, err)
	}
}
