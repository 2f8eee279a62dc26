package conntest_test

import (
	"net"
	"testing"
	"time"

	"github.com/redcache/redcache/conn/conntest"
)

func do(t *testing.T, p *conntest.Process, args ...string) string {
	t.Helper()
	r, err := p.Do(args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return r
}

// answers reports whether the server answers PING within wait.
func answers(addr string, wait time.Duration) bool {
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	b := make([]byte, 7)
	n, _ := c.Read(b)
	return string(b[:n]) == "+PONG\r\n"
}

func TestProcessLifecycle(t *testing.T) {
	p := conntest.StartRedis(t, "--databases", "3")
	addr := p.Addr()
	if host, port, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q, want a loopback host:port", addr)
	}
	if got := do(t, p, "PING"); got != "PONG" {
		t.Fatalf("PING = %q, want PONG", got)
	}
	// The extra arguments are on the command line: 3 databases.
	if _, err := p.Do("SELECT", "3"); err == nil {
		t.Fatal("SELECT 3 succeeded on a server started with --databases 3")
	}
	if got := do(t, p, "SET", "k", "v"); got != "OK" {
		t.Fatalf("SET = %q, want OK", got)
	}
	if got := do(t, p, "EXISTS", "k"); got != "1" {
		t.Fatalf("EXISTS k = %q, want 1", got)
	}

	// Restart: same port, same arguments, nothing kept.
	p.Restart()
	if p.Addr() != addr {
		t.Fatalf("Addr() after Restart = %q, want %q", p.Addr(), addr)
	}
	if got := do(t, p, "EXISTS", "k"); got != "0" {
		t.Fatalf("EXISTS k after Restart = %q, want 0 (no persistence)", got)
	}
	if _, err := p.Do("SELECT", "3"); err == nil {
		t.Fatal("SELECT 3 succeeded after Restart: the arguments were lost")
	}

	// Kill: the port refuses; Start brings it back.
	p.Kill()
	if _, err := p.Do("PING"); err == nil {
		t.Fatal("PING succeeded after Kill")
	}
	p.Kill() // a second Kill is a no-op
	p.Start()
	if got := do(t, p, "PING"); got != "PONG" {
		t.Fatalf("PING after Start = %q, want PONG", got)
	}
	p.Start() // a no-op while it runs
}

func TestProcessStopCont(t *testing.T) {
	p := conntest.StartRedis(t)
	p.Stop()
	if answers(p.Addr(), 300*time.Millisecond) {
		t.Fatal("a stopped server answered PING")
	}
	p.Cont()
	if !answers(p.Addr(), 5*time.Second) {
		t.Fatal("the server does not answer after Cont")
	}
	// A server left stopped is still killed at the end of the test.
	p.Stop()
}

func TestProcessSend(t *testing.T) {
	p := conntest.StartRedis(t)
	p.Send("DEBUG", "SLEEP", "1")
	time.Sleep(100 * time.Millisecond)
	if answers(p.Addr(), 300*time.Millisecond) {
		t.Fatal("the server answered during DEBUG SLEEP sent by Send")
	}
	if !answers(p.Addr(), 5*time.Second) {
		t.Fatal("the server does not answer after DEBUG SLEEP")
	}
}

func TestProcessDoErrorReply(t *testing.T) {
	p := conntest.StartRedis(t)
	_, err := p.Do("NOSUCHCOMMAND")
	if err == nil {
		t.Fatal("an unknown command returned no error")
	}
}

func TestStartSentinel(t *testing.T) {
	p := conntest.StartRedis(t)
	s := conntest.StartSentinel(t, p, "primary")
	if s.Addr() == p.Addr() {
		t.Fatal("the sentinel has the primary's address")
	}
	if got := do(t, s, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "primary"); got != "*2" {
		t.Fatalf("GET-MASTER-ADDR-BY-NAME = %q, want a 2-element array", got)
	}
	if got := do(t, s, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"); got != "*-1" {
		t.Fatalf("GET-MASTER-ADDR-BY-NAME nosuch = %q, want a null array", got)
	}
}

func TestStartRedisWithoutRedisSkips(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(conntest.EnvRequire, "")
	var started bool
	ok := t.Run("missing", func(t *testing.T) {
		conntest.StartRedis(t)
		started = true
	})
	if !ok || started {
		t.Fatalf("StartRedis without redis-server: subtest ok=%v, went on=%v; want a skip", ok, started)
	}
}
