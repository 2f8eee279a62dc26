package radix_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
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
	lag         time.Duration // the scheduler's worst lag meanwhile, capped
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
	return fmt.Sprintf("calls=%d errors=%d (%s) max latency=%v (scheduler lag %v)", s.calls, s.errs, strings.Join(kinds, " "),
		s.maxLatency.Round(time.Millisecond), s.lag.Round(time.Millisecond))
}

// schedLag measures, until stop is closed, how late the Go scheduler wakes
// a sleeping goroutine, and sends the worst it saw. On a loaded machine
// (-race, other tests) it is tens of milliseconds: a bound on a call's
// latency allows for it, so that it checks the driver, not the machine.
func schedLag(stop <-chan struct{}) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() {
		var worst time.Duration
		for {
			select {
			case <-stop:
				out <- worst
				return
			default:
			}
			start := time.Now()
			time.Sleep(2 * time.Millisecond)
			if lag := time.Since(start) - 2*time.Millisecond; lag > worst {
				worst = lag
			}
		}
	}()
	return out
}

// maxLagAllowance caps what a bound allows for the scheduler's lag: a
// driver that waits for a stalled server overshoots by seconds.
const maxLagAllowance = 150 * time.Millisecond

// concurrentGets runs n Gets at once, each with its own deadline of
// timeout, and returns what they measured.
func concurrentGets(d conn.Driver, k string, n int, timeout time.Duration) *faultStats {
	var mu sync.Mutex
	st := &faultStats{}
	stop := make(chan struct{})
	lag := schedLag(stop)
	defer func() {
		close(stop)
		st.lag = min(<-lag, maxLagAllowance)
	}()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			_, err := d.Get(ctx, k)
			took := time.Since(start)
			mu.Lock()
			st.add(took, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return st
}

// waitRecovered calls Get until it succeeds and returns how long that took.
func waitRecovered(t *testing.T, d conn.Driver, k string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := d.Get(ctx, k)
		cancel()
		if err == nil || errors.Is(err, conn.ErrMiss) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("no successful call %v after the fault ended: %v", limit, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStalledServerDeadlines stalls a server under 64 concurrent callers
// on the pool's shared connections, each with a 500 ms deadline: every
// call returns within its deadline plus 10%, whatever the stall.
func TestStalledServerDeadlines(t *testing.T) {
	const (
		callers = 64
		timeout = 500 * time.Millisecond
		bound   = timeout + timeout/10
	)
	var hole *blackhole // the partition case's proxy
	stalls := []struct {
		name  string
		stall func(t *testing.T, r *conntest.Process)
		end   func(t *testing.T, r *conntest.Process)
	}{
		{"partition", func(t *testing.T, r *conntest.Process) {
			hole.frozen.Store(true)
		}, func(t *testing.T, r *conntest.Process) {
			hole.frozen.Store(false) // what was swallowed is lost: those connections stay stuck
		}},
		{"CLIENT PAUSE", func(t *testing.T, r *conntest.Process) {
			if _, err := r.Do("CLIENT", "PAUSE", "2000", "ALL"); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, r *conntest.Process) {
			if _, err := r.Do("CLIENT", "UNPAUSE"); err != nil {
				t.Fatal(err)
			}
		}},
		{"DEBUG SLEEP", func(t *testing.T, r *conntest.Process) {
			go func() { _, _ = r.Do("DEBUG", "SLEEP", "2") }()
			time.Sleep(50 * time.Millisecond) // let the server fall asleep
		}, func(t *testing.T, r *conntest.Process) {
			time.Sleep(2 * time.Second) // until it wakes up
		}},
		{"SIGSTOP", func(t *testing.T, r *conntest.Process) {
			r.Stop()
		}, func(t *testing.T, r *conntest.Process) {
			r.Cont()
		}},
	}
	for _, s := range stalls {
		t.Run(strings.ReplaceAll(s.name, " ", "_"), func(t *testing.T) {
			r := conntest.StartRedis(t)
			addr := r.Addr()
			if s.name == "partition" {
				hole = newBlackhole(t, r.Addr())
				addr = hole.addr
			}
			d := openT(t, "redis://"+addr)
			k := key(t, d, "stall")
			must(t, d.Set(ctxT(t), k, []byte("v"), time.Minute))
			for i := 0; i < 20; i++ { // every pooled connection up
				_, err := d.Get(ctxT(t), k)
				must(t, err)
			}

			s.stall(t, r)
			st := concurrentGets(d, k, callers, timeout)
			// A second wave, while the first one's connections are
			// being replaced.
			st2 := concurrentGets(d, k, callers, timeout)
			s.end(t, r)
			rec := waitRecovered(t, d, k, 10*time.Second)
			t.Logf("radix %s: first wave %v; second wave %v; recovery after the stall ended %v",
				s.name, st, st2, rec.Round(time.Millisecond))
			for _, w := range []*faultStats{st, st2} {
				if w.maxLatency > bound+w.lag {
					t.Errorf("a call took %v (%v); every call must return within %v (deadline %v + 10%%, + %v the scheduler lagged)",
						w.maxLatency, w.maxErr, bound, timeout, w.lag)
				}
			}
		})
	}
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

// TestRecoveryAfterRestart kills the server (SIGKILL) under a steady load
// of calls, keeps it down for a few seconds (long enough for any redial
// backoff to grow), restarts it on the same port, and measures how soon
// after it answers again a call succeeds: within 1 s.
func TestRecoveryAfterRestart(t *testing.T) {
	const down = 3500 * time.Millisecond
	r := conntest.StartRedis(t)
	d := openT(t, "redis://"+r.Addr())
	k := key(t, d, "restart")
	must(t, d.Set(ctxT(t), k, []byte("v"), time.Minute))

	var mu sync.Mutex
	st := &faultStats{}
	var okAt []time.Time
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				start := time.Now()
				_, err := d.Get(ctx, k)
				took := time.Since(start)
				cancel()
				if errors.Is(err, conn.ErrMiss) {
					err = nil // the restarted server is empty
				}
				mu.Lock()
				st.add(took, err)
				if err == nil {
					okAt = append(okAt, time.Now())
				}
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	r.Kill()
	killed := time.Now()
	time.Sleep(down)
	r.Start() // returns once the server answers a PING
	back := time.Now()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var first time.Time
	for _, at := range okAt {
		if at.After(back) {
			first = at
			break
		}
	}
	if first.IsZero() {
		t.Fatalf("no call succeeded within 1.5 s of the server being back; %v", st)
	}
	rec := first.Sub(back)
	t.Logf("radix SIGKILL + restart after %v down: %v; first success %v after the server answered again (killed at +0, back at +%v)",
		down, st, rec.Round(time.Millisecond), back.Sub(killed).Round(time.Millisecond))
	if rec > time.Second {
		t.Errorf("the first successful call came %v after the server was back, want within 1 s", rec)
	}
}
