package radix_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

// faultStats is what a fault test measured, for the log.
type faultStats struct {
	calls, errs int
	maxLatency  time.Duration
	maxErr      error // the error of the slowest call
	errKinds    map[string]int
}

func (s *faultStats) add(took time.Duration, err error) {
	s.calls++
	if took > s.maxLatency {
		s.maxLatency, s.maxErr = took, err
	}
	if err != nil {
		s.errs++
		if s.errKinds == nil {
			s.errKinds = map[string]int{}
		}
		kind := "other"
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			kind = "deadline"
		case errors.Is(err, conn.ErrClosed):
			kind = "closed"
		case errors.Is(err, radix.ErrStalled):
			kind = "stalled"
		case errors.Is(err, syscall.ECONNREFUSED):
			kind = "refused"
		}
		s.errKinds[kind]++
	}
}

func (s *faultStats) String() string {
	kinds := make([]string, 0, len(s.errKinds))
	for k, n := range s.errKinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("calls=%d errors=%d (%s) max latency=%v", s.calls, s.errs, strings.Join(kinds, " "),
		s.maxLatency.Round(time.Millisecond))
}

// TestStalledServerDeadlines runs the stall cases every driver shares:
// SIGSTOP, CLIENT PAUSE, DEBUG SLEEP and a partition under two waves of
// 64 callers on the pool's shared connections, each call ending at its
// 500 ms deadline + 10%, whatever the stall (issue 9).
func TestStalledServerDeadlines(t *testing.T) {
	conntest.RunStall(t, func(t *testing.T, addr string) conn.Driver {
		return openT(t, "redis://"+addr)
	})
}

// TestCloseDuringStall closes a driver while calls hang on a stopped
// server: Close returns, and so do the calls.
func TestCloseDuringStall(t *testing.T) {
	r := conntest.StartRedis(t)
	before := runtime.NumGoroutine()
	d, err := radix.Open(ctxT(t), "redis://"+r.Addr())
	must(t, err)
	k := key(t, d, "closestall")
	for i := 0; i < 8; i++ {
		_, _ = d.Get(ctxT(t), k)
	}
	r.Stop()
	defer r.Cont()
	errc := make(chan error, 16)
	for i := 0; i < cap(errc); i++ {
		go func() {
			_, err := d.Get(context.Background(), k) // no deadline at all
			errc <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	// A call with a deadline leaves its connection to be checked.
	tctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, _ = d.Get(tctx, k)
	cancel()

	closed := make(chan error, 1)
	start := time.Now()
	go func() { closed <- d.Close() }()
	select {
	case err := <-closed:
		must(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs while the server is stopped")
	}
	t.Logf("Close with a stopped server took %v", time.Since(start).Round(time.Millisecond))
	for i := 0; i < cap(errc); i++ {
		select {
		case err := <-errc:
			// Those on the connection of the call with a deadline ended
			// before Close, when that call outlived its deadline.
			if !errors.Is(err, conn.ErrClosed) && !errors.Is(err, radix.ErrStalled) {
				t.Errorf("a call ended by Close = %v, want ErrClosed or ErrStalled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a call without a deadline outlived Close")
		}
	}
	// Nothing the driver started outlives it, stall or not.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before Open, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// TestRecoveryAfterRestart runs the restart case every driver shares:
// calls succeed within 1 s of a killed Redis answering again, after
// outages long enough for any redial backoff to grow (issue 9, item 5).
func TestRecoveryAfterRestart(t *testing.T) {
	conntest.RunRestart(t, func(t *testing.T, addr string) conn.Driver {
		return openT(t, "redis://"+addr)
	})
}
