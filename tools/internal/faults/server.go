//go:build unix

package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is a redis-server process on a loopback port, started by this
// process so that it may kill, stop and restart it. Its data lives in
// memory only (no RDB, no AOF): a restart starts empty.
type Server struct {
	// Addr is the server's host:port, on 127.0.0.1.
	Addr string

	args []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// StartServer starts a redis-server on a free loopback port, with its
// files in dir, and returns once it answers PING. extra are more
// redis-server arguments, such as "--maxmemory", "2mb". ctx bounds the
// start.
func StartServer(ctx context.Context, dir string, extra ...string) (*Server, error) {
	var last error
	for attempt := 0; attempt < 10; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		sdir := filepath.Join(dir, "redis-"+strconv.Itoa(port))
		if err := os.MkdirAll(sdir, 0o755); err != nil {
			return nil, err
		}
		s := &Server{
			Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			log:  filepath.Join(sdir, "redis.log"),
		}
		s.args = append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--daemonize", "no", "--save", "", "--appendonly", "no",
			"--dir", sdir, "--logfile", s.log,
			"--enable-debug-command", "local",
		}, extra...)
		if last = s.Restart(ctx); last == nil {
			return s, nil
		}
		if !strings.Contains(s.logTail(), "Address already in use") {
			return nil, last
		}
	}
	return nil, last
}

// freePort returns a loopback port nothing listens on (at the time).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Restart starts the server again on its port, after Kill, and waits until
// it answers PING.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return errors.New("faults: server still running")
	}
	cmd := exec.Command("redis-server", s.args...)
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("faults: start redis-server: %w", err)
	}
	done := make(chan struct{})
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	for {
		if Ping(ctx, s.Addr) == nil {
			return nil
		}
		select {
		case <-done:
			s.reap()
			return fmt.Errorf("faults: redis-server on %s exited: %s", s.Addr, s.logTail())
		case <-ctx.Done():
			_ = s.Kill()
			return fmt.Errorf("faults: redis-server on %s did not answer: %w", s.Addr, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *Server) reap() {
	s.mu.Lock()
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	return string(b)
}

// Pid returns the process id of the running server, or 0.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("faults: server not running")
	}
	return s.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the process to exit. Killing a server
// that is not running does nothing.
func (s *Server) Kill() error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies too, but be sure it is reaped
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-done
	s.reap()
	return nil
}

// Stop freezes the server with SIGSTOP: connections stay open, nothing
// answers.
func (s *Server) Stop() error { return s.signal(syscall.SIGSTOP) }

// Cont resumes a server frozen by Stop.
func (s *Server) Cont() error { return s.signal(syscall.SIGCONT) }

// Close kills the server; it is what a test's Cleanup calls.
func (s *Server) Close() error { return s.Kill() }

// Ping sends PING to addr over a new connection and reports whether
// the answer is PONG (with AUTH-less, plain-text Redis). ctx bounds it.
func Ping(ctx context.Context, addr string) error {
	_, err := Command(ctx, addr, "PING")
	return err
}

// Command sends one command to addr over a new plain-text connection
// and returns its reply as text: a simple string, an integer, a bulk
// string, or the elements of an array joined by newlines. An error reply
// is returned as an error. ctx bounds the call (1 s without a deadline).
func Command(ctx context.Context, addr string, args ...string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(c))
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("faults: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, max(n, 0))
		for i := 0; i < n; i++ {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("faults: unexpected reply %q", line)
}

// Info returns the fields of INFO section at addr as a map.
func Info(ctx context.Context, addr, section string) (map[string]string, error) {
	s, err := Command(ctx, addr, "INFO", section)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m, nil
}
