package conntest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a redis-server a test starts on loopback and owns, for the
// faults the shared servers must never see: SIGKILL, a restart on the same
// port, SIGSTOP/SIGCONT, CLIENT PAUSE, DEBUG SLEEP, cluster failovers.
//
// It keeps nothing on disk between runs (no RDB, no AOF): a restarted
// server is empty. Its methods fail the test that started it; call them
// from that test's goroutine (or after the goroutines calling them are
// done), as with [testing.TB.Fatal]. [Process.Do] and [Process.Send] may
// be called from any goroutine.
type Process struct {
	tb   testing.TB
	port int
	addr string
	dir  string
	args []string // the arguments of every start, after the base ones
	conf string   // a config file given before every argument, or ""

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd has exited
}

// startTimeout bounds how long a start may take before the server
// answers PING; a loaded machine under -race needs seconds, not
// milliseconds.
const startTimeout = 10 * time.Second

// StartRedis starts a redis-server on a free loopback port with args added
// to its command line (cluster settings, say), waits until it answers
// PING, and kills it when tb ends. Without redis-server installed it skips
// tb, or fails it when EnvRequire is "1".
//
// The server logs to a file in a temporary directory; a server that does
// not come up fails tb with that log's end. A port taken between being
// found free and being bound is retried on another port.
func StartRedis(tb testing.TB, args ...string) *Process {
	tb.Helper()
	return startProcess(tb, "", args)
}

// StartSentinel starts a Redis Sentinel on a free loopback port that
// monitors primary under the name master (quorum 1), waits until it knows
// that primary, and kills it when tb ends. It skips or fails as
// [StartRedis] does.
func StartSentinel(tb testing.TB, primary *Process, master string) *Process {
	tb.Helper()
	dir := tb.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	// Sentinel rewrites its config file, so it must be one of its own.
	body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\n", master, primary.Port())
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := startProcess(tb, conf, []string{"--sentinel"})
	deadline := time.Now().Add(startTimeout)
	for {
		_, err := s.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", master)
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis sentinel on %s does not know %s: %v", s.addr, master, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startProcess(tb testing.TB, conf string, args []string) *Process {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatal("redis-server is not installed: " + err.Error())
		}
		tb.Skip("redis-server is not installed")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		p := &Process{
			tb: tb, port: port, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			dir: tb.TempDir(), args: args, conf: conf,
		}
		if lastErr = p.run(); lastErr == nil {
			tb.Cleanup(p.Kill)
			return p
		}
		exited := p.exited()
		p.Kill()
		if !exited {
			break // it runs but does not answer: another port will not help
		}
	}
	tb.Fatal(lastErr)
	return nil
}

// freePort returns a loopback port that nothing listened on a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}

// Addr returns the server's host:port.
func (p *Process) Addr() string { return p.addr }

// Port returns the server's port.
func (p *Process) Port() int { return p.port }

// Start starts the server again after [Process.Kill], on the same port
// with the same arguments, and returns once it answers PING. It does
// nothing while the server runs.
func (p *Process) Start() {
	p.tb.Helper()
	p.mu.Lock()
	running := p.cmd != nil
	p.mu.Unlock()
	if running {
		return
	}
	if err := p.run(); err != nil {
		p.Kill()
		p.tb.Fatal(err)
	}
}

// Restart kills the server (SIGKILL) and starts an empty one on the same
// port with the same arguments, returning once it answers PING. For an
// outage of a set length, call [Process.Kill], wait, then [Process.Start].
func (p *Process) Restart() {
	p.tb.Helper()
	p.Kill()
	p.Start()
}

// Kill ends the server at once with SIGKILL (after a SIGCONT, should it
// be stopped) and waits until it is gone. It does nothing when the server
// is not running; it runs when the test ends.
func (p *Process) Kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Kill()
	<-done
}

// Stop freezes the server with SIGSTOP: it keeps its connections open
// and answers nothing until [Process.Cont].
func (p *Process) Stop() {
	p.tb.Helper()
	p.signal(syscall.SIGSTOP)
}

// Cont resumes a server frozen by [Process.Stop].
func (p *Process) Cont() {
	p.tb.Helper()
	p.signal(syscall.SIGCONT)
}

func (p *Process) signal(sig syscall.Signal) {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		p.tb.Fatalf("signal %v to the redis-server on %s, which is not running", sig, p.addr)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.tb.Fatalf("signal %v to the redis-server on %s: %v", sig, p.addr, err)
	}
}

// Do sends one command on a connection of its own and returns the first
// line of the reply without its type byte ("PONG", "OK", "3" for :3,
// "$5" for a bulk string); an error reply is returned as an error. It
// waits 5 s at most.
func (p *Process) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", p.addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(command(args)); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return "", errors.New(line[1:])
	}
	if strings.HasPrefix(line, "+") || strings.HasPrefix(line, ":") {
		line = line[1:]
	}
	return line, nil
}

// Send sends one command on a connection of its own and returns without
// waiting for the reply, for stalls made by a command (DEBUG SLEEP, CLIENT
// PAUSE) that the test does not wait for. The connection is closed when
// the test ends.
func (p *Process) Send(args ...string) {
	p.tb.Helper()
	c, err := net.DialTimeout("tcp", p.addr, time.Second)
	if err != nil {
		p.tb.Fatal(err)
	}
	p.tb.Cleanup(func() { _ = c.Close() })
	if _, err := c.Write(command(args)); err != nil {
		p.tb.Fatal(err)
	}
}

// command encodes args as a RESP array of bulk strings.
func command(args []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.Bytes()
}

// run starts the process and waits until it answers PING.
func (p *Process) run() error {
	args := []string{}
	if p.conf != "" {
		args = append(args, p.conf)
	}
	args = append(args,
		"--port", strconv.Itoa(p.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--dir", p.dir, "--logfile", p.logFile(), "--loglevel", "notice")
	if p.conf == "" { // a sentinel refuses debug settings
		args = append(args, "--enable-debug-command", "local")
	}
	args = append(args, p.args...)
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		reply, err := p.Do("PING")
		if err == nil && reply == "PONG" {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server on %s exited at start; its log ends:\n%s", p.addr, p.logTail())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer PING within %v (last: %q, %v); its log ends:\n%s",
				p.addr, startTimeout, reply, err, p.logTail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exited reports whether the last process started has exited.
func (p *Process) exited() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

func (p *Process) logFile() string { return filepath.Join(p.dir, "redis.log") }

// logTail returns the last lines of the server's log.
func (p *Process) logTail() string {
	b, err := os.ReadFile(p.logFile())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
