package goredis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redis/go-redis/v9"
)

// refusedAddr returns a loopback address on which nothing listens: a
// port the kernel just handed out and that was closed again.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// logCapture records what go-redis writes to its logger while a test
// runs. go-redis has one process-wide logger; the test process owns it.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCapture) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
	l.mu.Unlock()
}

func (l *logCapture) about(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// captureLog routes go-redis's logger to a capture until the test ends.
func captureLog(t *testing.T) *logCapture {
	t.Helper()
	c := &logCapture{}
	redis.SetLogger(c)
	t.Cleanup(func() { redis.SetLogger(discardLog{}) })
	return c
}

type discardLog struct{}

func (discardLog) Printf(context.Context, string, ...any) {}

// faultStats is what a fault test measured, logged for the report.
type faultStats struct {
	mu         sync.Mutex
	calls      int
	errs       map[string]int
	maxLatency time.Duration
}

func (s *faultStats) add(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if err != nil {
		if s.errs == nil {
			s.errs = make(map[string]int)
		}
		s.errs[errClass(err)]++
	}
	s.maxLatency = max(s.maxLatency, d)
}

func (s *faultStats) log(t *testing.T, fault string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Logf("fault %-28s calls %5d  errors %v  max latency %v", fault, s.calls, s.errs, s.maxLatency.Round(100*time.Microsecond))
}

// errClass names an error by the sentinel it wraps, for the tables.
func errClass(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, conn.ErrSubscriptionLost):
		return "subscription-lost"
	case errors.Is(err, conn.ErrClosed):
		return "closed"
	case errors.Is(err, conn.ErrMiss):
		return "miss"
	}
	var re *conn.ReplyError
	if errors.As(err, &re) {
		return "reply " + re.Prefix()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "net-timeout"
	}
	return "other"
}

// The bounds of a refused call in these tests. The issue asks for about
// 10 ms, which the median must meet; a single call may take longer on a
// loaded machine under -race (a pause of the whole process), but never
// as long as go-redis's dial retries (5 dials 100 ms apart, then command
// retries: 1.7 s of a 2 s deadline before).
const (
	refusalMedian = 10 * time.Millisecond
	refusalBound  = time.Second
)

func TestRefusalFailsFast(t *testing.T) {
	addr := refusedAddr(t)
	drivers := []struct {
		name string
		open func(t *testing.T) conn.Driver
	}{
		{"Open", func(t *testing.T) conn.Driver {
			d, err := goredis.Open(context.Background(), "redis://"+addr)
			must(t, err)
			return d
		}},
		{"OpenCluster", func(t *testing.T) conn.Driver {
			d, err := goredis.Open(context.Background(), "redis+cluster://"+addr)
			must(t, err)
			return d
		}},
		{"NewWithFailFastDialer", func(t *testing.T) conn.Driver {
			c := redis.NewClient(&redis.Options{
				Addr:                  addr,
				Dialer:                goredis.FailFastDialer(nil),
				ContextTimeoutEnabled: true,
			})
			return goredis.New(c, goredis.WithOwnedClient())
		}},
	}
	for _, dt := range drivers {
		t.Run(dt.name, func(t *testing.T) {
			logs := captureLog(t)
			d := dt.open(t)
			t.Cleanup(func() { _ = d.Close() })
			var (
				st  faultStats
				lat []time.Duration
			)
			for i := range 40 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				start := time.Now()
				_, err := d.Get(ctx, "k")
				el := time.Since(start)
				cancel()
				st.add(el, err)
				if !errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("call %d: %v (%T), want an error wrapping ECONNREFUSED and no deadline", i, err, err)
				}
				if el > refusalBound {
					t.Fatalf("call %d: refused after %v, want within %v", i, el, refusalBound)
				}
				lat = append(lat, el)
			}
			st.log(t, "refused port/"+dt.name)
			slices.Sort(lat)
			if m := lat[len(lat)/2]; m > refusalMedian {
				t.Errorf("refused calls took %v (median), want within %v", m, refusalMedian)
			}
			if l := logs.about(""); len(l) > 0 {
				t.Errorf("go-redis logged about the refusal: %q", l)
			}
		})
	}
}

func TestSubscriptionHalfOpen(t *testing.T) {
	const interval, timeout = 200 * time.Millisecond, 300 * time.Millisecond
	opens := []struct {
		name string
		open func(t *testing.T, addr string) conn.Driver
	}{
		{"Open", func(t *testing.T, addr string) conn.Driver {
			d, err := goredis.Open(context.Background(), "redis://"+addr, goredis.WithSubscriptionCheck(interval, timeout))
			must(t, err)
			return d
		}},
		{"NewRESP3", func(t *testing.T, addr string) conn.Driver {
			c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 3, ContextTimeoutEnabled: true})
			return goredis.New(c, goredis.WithOwnedClient(), goredis.WithSubscriptionCheck(interval, timeout))
		}},
	}
	for _, ot := range opens {
		t.Run(ot.name, func(t *testing.T) {
			p := conntest.NewProxy(t, conntest.RedisAddr(t))
			d := ot.open(t, p.Addr())
			t.Cleanup(func() { _ = d.Close() })
			ch := "goredis-test:halfopen:" + t.Name()
			sub, err := d.Subscribe(ctxT(t), ch)
			must(t, err)
			t.Cleanup(func() { _ = sub.Close() })

			// Healthy and idle for several intervals: no false alarm.
			ctx, cancel := context.WithTimeout(context.Background(), 6*interval)
			_, err = sub.Receive(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Receive on an idle, healthy subscription: %v, want the context's deadline", err)
			}
			_, err = d.Do(ctxT(t), "PUBLISH", ch, "hello")
			must(t, err)
			m, err := sub.Receive(ctxT(t))
			if err != nil || string(m.Payload) != "hello" {
				t.Fatalf("Receive = %q, %v", m.Payload, err)
			}

			p.Stall()
			start := time.Now()
			_, err = sub.Receive(ctxT(t))
			el := time.Since(start)
			t.Logf("fault %-28s half-open subscription reported after %v (%v)", "stalled subscription/"+ot.name, el.Round(time.Millisecond), err)
			if !errors.Is(err, conn.ErrSubscriptionLost) {
				t.Fatalf("Receive after the stall: %v, want ErrSubscriptionLost", err)
			}
			if bound := interval + timeout + 500*time.Millisecond; el > bound {
				t.Fatalf("half-open subscription reported after %v, want within %v", el, bound)
			}
			// Lost stays lost; Close still works.
			if _, err := sub.Receive(ctxT(t)); !errors.Is(err, conn.ErrSubscriptionLost) {
				t.Fatalf("second Receive: %v", err)
			}
			p.Resume()
			must(t, sub.Close())
		})
	}
}

// TestStalledServer runs the stall cases every driver shares: SIGSTOP,
// CLIENT PAUSE, DEBUG SLEEP and a partition under two waves of 64 callers,
// each call ending at its 500 ms deadline + 10% (issue 9).
func TestStalledServer(t *testing.T) {
	conntest.RunStall(t, openAddr)
}

// TestCloseDuringStall runs the shared case: Close and the calls in
// flight return within 1 s while the server is stopped.
func TestCloseDuringStall(t *testing.T) {
	conntest.RunCloseDuringStall(t, openAddr, conn.ErrClosed)
}

// TestSubscriptionCheckHealthy checks that the health check raises no
// false alarm on healthy subscriptions, on a single node and on a
// cluster, with messages flowing and without.
func TestSubscriptionCheckHealthy(t *testing.T) {
	conntest.EachServer(t, func(t *testing.T, srv conntest.Server) {
		rawURL := "redis://" + srv.Addrs[0]
		if srv.Cluster {
			rawURL = "redis+cluster://" + strings.Join(srv.Addrs, ",")
		}
		d, err := goredis.Open(context.Background(), rawURL, goredis.WithSubscriptionCheck(50*time.Millisecond, 300*time.Millisecond))
		must(t, err)
		t.Cleanup(func() { _ = d.Close() })
		ch := "goredis-test:healthy:" + t.Name()
		sub, err := d.Subscribe(ctxT(t), ch)
		must(t, err)
		t.Cleanup(func() { _ = sub.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
		_, err = sub.Receive(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("idle Receive: %v, want the context's deadline", err)
		}
		// A reader that leaves more messages waiting than the
		// subscription buffers, so that PONGs queue behind them.
		const n = 1500
		for i := 0; i < n; i += 100 {
			cmds := make([]*conn.Cmd, 100)
			for j := range cmds {
				cmds[j] = conn.NewCmd("PUBLISH", ch, fmt.Sprint(i+j))
			}
			must(t, d.Pipeline(ctxT(t), cmds...))
		}
		time.Sleep(800 * time.Millisecond)
		// (A pipeline may send PUBLISH through several cluster nodes, so
		// the order is not checked.)
		got := map[string]bool{}
		for i := range n {
			m, err := sub.Receive(ctxT(t))
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			got[string(m.Payload)] = true
		}
		if len(got) != n {
			t.Fatalf("got %d distinct messages, want %d", len(got), n)
		}
	})
}
