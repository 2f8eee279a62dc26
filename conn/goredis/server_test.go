package goredis_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// ownedRedis is a redis-server a test starts on loopback, so that it may
// stop, kill and restart it without disturbing the shared servers.
type ownedRedis struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	args []string      // extra arguments, such as cluster settings
}

// startRedis starts a redis-server on a free loopback port. It skips the
// test when redis-server is not installed, unless the test runner asks
// for every server, and stops the server when the test ends.
func startRedis(t *testing.T, args ...string) *ownedRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("REDCACHE_TEST_REQUIRE") == "1" {
			t.Fatal("redis-server not found")
		}
		t.Skip("redis-server not found")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	r := &ownedRedis{t: t, port: port, dir: t.TempDir(), args: args}
	r.start()
	t.Cleanup(r.kill)
	return r
}

// Addr returns host:port.
func (r *ownedRedis) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// start runs the server and waits until it answers.
func (r *ownedRedis) start() {
	r.t.Helper()
	args := append([]string{
		"--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"),
		"--enable-debug-command", "local"}, r.args...)
	r.cmd = exec.Command("redis-server", args...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan struct{})
	r.done = done
	cmd := r.cmd
	go func() { _ = cmd.Wait(); close(done) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", r.Addr(), 100*time.Millisecond)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			b := make([]byte, 7)
			n, _ := c.Read(b)
			_ = c.Close()
			if string(b[:n]) == "+PONG\r\n" {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s did not start: %v", r.Addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// signal sends sig to the server.
func (r *ownedRedis) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
}

// kill stops the server with SIGKILL (after a SIGCONT, should it be
// stopped) and waits for it to exit.
func (r *ownedRedis) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT)
	_ = r.cmd.Process.Kill()
	<-r.done
}

// restart kills the server and starts it again on the same port after
// down, returning when it answers and the moment it started to.
func (r *ownedRedis) restart(down time.Duration) time.Time {
	r.t.Helper()
	r.kill()
	time.Sleep(down)
	r.start()
	return time.Now()
}

// send runs one command on a connection of its own, for stalls made by
// commands (CLIENT PAUSE, DEBUG SLEEP) whose reply the test does not
// wait for.
func (r *ownedRedis) send(ctx context.Context, cmd string) {
	r.t.Helper()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", r.Addr())
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		r.t.Fatal(err)
	}
}
