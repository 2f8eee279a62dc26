package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotLoopback is returned for a Redis address that is not on this
// machine's loopback interface: the harness sends its load nowhere else.
var ErrNotLoopback = errors.New("bench: the Redis address must be on the loopback interface (127.0.0.0/8, ::1 or localhost)")

// ErrNoRedisServer is returned when no Redis address was given and there
// is no redis-server on PATH to start one.
var ErrNoRedisServer = errors.New("bench: no Redis given (--redis or REDIS_URL) and no redis-server on PATH to start one")

// ParseAddr turns what the user gave (host:port, or a redis:// URL as in
// REDIS_URL) into the host:port the harness dials. It refuses an address
// that is not on the loopback interface, a URL with credentials or a
// database (the harness writes only keys under its own prefix, to
// database 0), and TLS.
func ParseAddr(ctx context.Context, s string) (string, error) {
	addr := s
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("bench: Redis URL: %w", errors.Unwrap(err))
		}
		if u.Scheme != "redis" {
			return "", fmt.Errorf("bench: Redis URL scheme %q: only redis:// (on loopback) is supported", u.Scheme)
		}
		if u.User != nil {
			return "", errors.New("bench: Redis URL with credentials: not supported, use a local Redis without AUTH")
		}
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return "", errors.New("bench: Redis URL with a database other than 0: not supported")
		}
		addr = u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "6379")
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("bench: Redis address %q: want host:port: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("bench: Redis address %q: bad port", addr)
	}
	if err := checkLoopback(ctx, host); err != nil {
		return "", err
	}
	return addr, nil
}

// checkLoopback accepts host when it is, or resolves only to, loopback
// addresses.
func checkLoopback(ctx context.Context, host string) error {
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%w: %s", ErrNotLoopback, host)
	}
	if host == "localhost" {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(rctx, host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("%w: %s does not resolve", ErrNotLoopback, host)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return fmt.Errorf("%w: %s resolves to %s", ErrNotLoopback, host, ip.IP)
		}
	}
	return nil
}

// redisServer is a redis-server the harness started for itself: on a
// free loopback port, with no persistence, in a temporary folder.
type redisServer struct {
	addr string
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

// startRedis starts a redis-server on a free port of 127.0.0.1 and waits
// until it answers. It tries a few ports, since another process may take
// the one it picked before the server binds it.
func startRedis(ctx context.Context) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNoRedisServer
	}
	var last error
	for range 5 {
		s, err := tryStartRedis(ctx, bin)
		if err == nil {
			return s, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func tryStartRedis(ctx context.Context, bin string) (*redisServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redcache-bench-redis-")
	if err != nil {
		return nil, err
	}
	s := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, done: make(chan struct{})}
	s.cmd = exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--dir", dir, "--logfile", dir+"/redis.log")
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: start redis-server: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			log := tail(dir + "/redis.log")
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: redis-server exited at start: %s", log)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if ping(s.addr) == nil {
			return s, nil
		}
	}
	s.stop()
	return nil, errors.New("bench: redis-server did not answer PING within 10s")
}

// stop ends the server (SIGTERM, then SIGKILL after 5s) and removes its
// folder.
func (s *redisServer) stop() {
	if s == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping sends an inline PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("bench: PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 400 {
		s = s[len(s)-400:]
	}
	return s
}
