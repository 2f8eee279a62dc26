package conntest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// OpenFunc opens the driver under test on the standalone Redis at addr
// (host:port), failing t when it cannot. The suites close what it returns;
// it may register its own clean-up as well, since a second Close returns
// nil.
type OpenFunc func(t *testing.T, addr string) conn.Driver

// The bounds of the suites on servers of their own (issue 9).
const (
	// restartBound is how soon after a restarted Redis answers PING a
	// call must succeed.
	restartBound = time.Second
	// restartCallDeadline is the deadline of each call of the load that
	// runs across a restart.
	restartCallDeadline = 300 * time.Millisecond
	// restartCallers is how many goroutines call in a loop across a
	// restart.
	restartCallers = 16
	// stallCallers is how many calls each wave of a stall makes at once:
	// far more than any pool has connections.
	stallCallers = 64
	// stallFor is how long a stall lasts: long enough for two waves of
	// calls to end at their deadline inside it.
	stallFor = 2 * time.Second
	// lagCap caps what a bound allows for a loaded machine's scheduler
	// lag: a driver that waits for a stalled server overshoots by
	// seconds, not by this.
	lagCap = 150 * time.Millisecond
)

// RunRestart kills (SIGKILL) a redis-server of its own under a load of
// calls and starts it again, empty, on the same port; open is called with
// that server's address. 16 goroutines call GET in a loop, each call with
// a 300 ms deadline, while the server is down for 200 ms, 1.5 s and 3.5 s
// (long enough for any redial backoff to grow): the first successful call
// (a miss counts, the server is empty) comes within 1 s of the server
// answering PING again.
//
// It skips, or fails under EnvRequire, without redis-server.
func RunRestart(t *testing.T, open OpenFunc) {
	t.Helper()
	for _, down := range []time.Duration{200 * time.Millisecond, 1500 * time.Millisecond, 3500 * time.Millisecond} {
		t.Run("down="+down.String(), func(t *testing.T) { testRestartRecovery(t, open, down) })
	}
}

// RunFirstCallAfterRestart checks that a driver keeps no memory of an
// outage: after 1.5 s with a redis-server of its own killed, under 32
// callers (far more failed calls than the pool has connections), the very
// first call once the server answers PING again succeeds (a miss counts,
// the server is empty). A caller with a circuit breaker sends one probe
// after its cooldown; a driver that still answers with the outage's error
// sends it into one more cooldown.
//
// It skips, or fails under EnvRequire, without redis-server.
func RunFirstCallAfterRestart(t *testing.T, open OpenFunc) {
	t.Helper()
	testFirstCallAfterRestart(t, open)
}

// openOwned opens a driver with open on p and closes it when t ends.
func openOwned(t *testing.T, open OpenFunc, p *Process) conn.Driver {
	t.Helper()
	d := open(t, p.Addr())
	if d == nil {
		t.Fatal("conntest: open returned nil")
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func testRestartRecovery(t *testing.T, open OpenFunc, down time.Duration) {
	r := StartRedis(t)
	d := openOwned(t, open, r)
	key := "conntest:restart:" + randomHex(4)
	must(t, d.Set(ctxT(t), key, []byte("v"), time.Minute), "Set")

	var (
		st        faultStats
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		firstOK   atomic.Int64 // unix nanos of the first success after the restart
		restarted atomic.Int64 // unix nanos at which the server answered again
	)
	for range restartCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), restartCallDeadline)
				start := time.Now()
				_, err := d.Get(ctx, key)
				el := time.Since(start)
				cancel()
				if errors.Is(err, conn.ErrMiss) {
					err = nil // the restarted server is empty
				}
				st.add(el, err)
				if err == nil {
					if restarted.Load() != 0 {
						firstOK.CompareAndSwap(0, time.Now().UnixNano())
					}
				} else {
					time.Sleep(time.Millisecond) // a failing call may return at once
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	r.Kill()
	time.Sleep(down)
	r.Start() // returns once the server answers PING
	back := time.Now()
	restarted.Store(back.UnixNano())
	deadline := time.Now().Add(5 * time.Second)
	for firstOK.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("SIGKILL, %v down, restart: %v", down, &st)
	ok := firstOK.Load()
	if ok == 0 {
		t.Fatal("no call succeeded within 5 s of the restart")
	}
	rec := time.Duration(ok - back.UnixNano())
	t.Logf("first success %v after Redis answered again", rec.Round(time.Millisecond))
	if rec > restartBound {
		t.Errorf("first success %v after Redis was back, want within %v", rec, restartBound)
	}
}

func testFirstCallAfterRestart(t *testing.T, open OpenFunc) {
	r := StartRedis(t)
	d := openOwned(t, open, r)
	key := "conntest:first-call:" + randomHex(4)
	must(t, d.Set(ctxT(t), key, []byte("v"), time.Minute), "Set")
	r.Kill()

	var st faultStats
	var wg sync.WaitGroup
	until := time.Now().Add(1500 * time.Millisecond)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(until) {
				ctx, cancel := context.WithTimeout(context.Background(), restartCallDeadline)
				start := time.Now()
				_, err := d.Get(ctx, key)
				cancel()
				st.add(time.Since(start), err)
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	t.Logf("Redis down: %v", &st)

	r.Start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := d.Get(ctx, key)
	t.Logf("first call after the restart: %v in %v", err, time.Since(start).Round(100*time.Microsecond))
	if err != nil && !errors.Is(err, conn.ErrMiss) {
		t.Fatalf("the first call after Redis came back failed: %v", err)
	}
}

// A stall is one way of making a server stop answering without closing
// its connections.
type stall struct {
	name  string
	start func(t *testing.T, r *Process, px *Proxy)
	end   func(t *testing.T, r *Process, px *Proxy)
}

var stalls = []stall{
	{"SIGSTOP",
		func(t *testing.T, r *Process, _ *Proxy) { r.Stop() },
		func(t *testing.T, r *Process, _ *Proxy) { r.Cont() }},
	{"CLIENT_PAUSE",
		func(t *testing.T, r *Process, _ *Proxy) {
			if _, err := r.Do("CLIENT", "PAUSE", fmt.Sprint(stallFor.Milliseconds()), "ALL"); err != nil {
				t.Fatal(err)
			}
		},
		func(t *testing.T, r *Process, _ *Proxy) {
			if _, err := r.Do("CLIENT", "UNPAUSE"); err != nil {
				t.Fatal(err)
			}
		}},
	{"DEBUG_SLEEP",
		func(t *testing.T, r *Process, _ *Proxy) {
			r.Send("DEBUG", "SLEEP", fmt.Sprint(stallFor.Seconds()))
			time.Sleep(50 * time.Millisecond) // let the server fall asleep
		},
		func(t *testing.T, r *Process, _ *Proxy) {
			// Until it wakes up: it answers PING once it does.
			deadline := time.Now().Add(10 * time.Second)
			for {
				if reply, err := r.Do("PING"); err == nil && reply == "PONG" {
					return
				}
				if time.Now().After(deadline) {
					t.Fatal("the server did not wake up from DEBUG SLEEP")
				}
				time.Sleep(10 * time.Millisecond)
			}
		}},
	{"partition",
		func(t *testing.T, _ *Process, px *Proxy) { px.Drop() },
		func(t *testing.T, _ *Process, px *Proxy) {
			px.Resume() // what was dropped is lost: those connections stay stuck
		}},
}

// RunStall stalls a redis-server of its own in four ways (SIGSTOP,
// CLIENT PAUSE, DEBUG SLEEP, and a partition through a [Proxy] that
// drops every byte) under two waves of 64 concurrent GETs on the driver's
// shared connections, the second while the first one's connections may
// be being replaced. open is called with the address of the server, or of
// the proxy in front of it for the partition.
//
// Every call returns within its 500 ms deadline plus 10% (plus what the
// machine's scheduler lagged meanwhile, at most 150 ms: the smaller of the
// worst lateness of goroutines that only wait for the same deadlines and
// the worst lateness of a 2 ms sleep), with an error for which
// errors.Is(err, context.DeadlineExceeded) holds, unless it succeeded.
// Once the stall ends, a call succeeds within 5 s, and the replies of 20
// concurrent GETs are not mixed up with the late replies of the calls
// that timed out.
//
// It skips, or fails under EnvRequire, without redis-server.
func RunStall(t *testing.T, open OpenFunc) {
	t.Helper()
	for _, s := range stalls {
		t.Run(s.name, func(t *testing.T) { testStallWaves(t, open, s) })
	}
}

func testStallWaves(t *testing.T, open OpenFunc, s stall) {
	r := StartRedis(t)
	addr := r.Addr()
	var px *Proxy
	if s.name == "partition" {
		px = NewProxy(t, r.Addr())
		addr = px.Addr()
	}
	d := open(t, addr)
	if d == nil {
		t.Fatal("conntest: open returned nil")
	}
	t.Cleanup(func() { _ = d.Close() })
	key := "conntest:stall:" + randomHex(4)
	must(t, d.Set(ctxT(t), key, []byte("v"), time.Minute), "Set")
	// Every pooled connection up, and in use at once.
	for range 20 {
		_, err := d.Get(ctxT(t), key)
		must(t, err, "Get")
	}
	callWave(t, d, key, stallCallers, 5*time.Second, 5*time.Second)

	s.start(t, r, px)
	w1 := callWave(t, d, key, stallCallers, stallDeadline, stallDeadline+stallDeadline/10)
	w2 := callWave(t, d, key, stallCallers, stallDeadline, stallDeadline+stallDeadline/10)
	s.end(t, r, px)
	ended := time.Now()
	rec := recoverWithin(t, d, key, ended, 5*time.Second)
	t.Logf("stall %s: first wave %v; second wave %v; a call succeeded %v after the stall ended",
		s.name, w1, w2, rec.Round(time.Millisecond))

	// Replies are not mixed up with the late replies of the calls that
	// timed out.
	for i := range 20 {
		k := fmt.Sprintf("%s:%d", key, i)
		must(t, d.Set(ctxT(t), k, []byte(k), time.Minute), "Set")
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := fmt.Sprintf("%s:%d", key, i)
			v, err := d.Get(ctxT(t), k)
			if err != nil || string(v) != k {
				t.Errorf("Get(%s) = %q, %v after the stall", k, v, err)
			}
		}()
	}
	wg.Wait()
}

// callWave makes n concurrent GETs of key, each with its own deadline, and
// fails t for a call that fails with another error than its deadline, or
// outlives bound plus the scheduler's lag (see [RunStall]).
//
// Each call has a twin goroutine that does nothing but wait for the same
// deadline, and a sleeper measures how late a 2 ms sleep wakes up; the
// smaller of the two lags, capped at 150 ms, is added to bound. A driver
// that waits past its deadline (a retry, a read without a deadline) is
// still caught: its calls end far later than goroutines that only wait.
func callWave(t *testing.T, d conn.Driver, key string, n int, deadline, bound time.Duration) *faultStats {
	t.Helper()
	st := &faultStats{}
	stop := make(chan struct{})
	sleepLag := schedLag(stop)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		errs     []error
		twinLate time.Duration
	)
	for range n {
		wg.Add(2)
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			late := time.Since(start) - deadline
			mu.Lock()
			twinLate = max(twinLate, late)
			mu.Unlock()
		}()
		go func() {
			defer wg.Done()
			defer cancel()
			_, err := d.Get(ctx, key)
			el := time.Since(start)
			if errors.Is(err, conn.ErrMiss) {
				err = nil
			}
			st.add(el, err)
			mu.Lock()
			lat = append(lat, el)
			errs = append(errs, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(stop)
	st.lag = max(0, min(twinLate, <-sleepLag, lagCap))
	allowed := bound + st.lag
	for i, el := range lat {
		if err := errs[i]; err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a call failed with %v, want its deadline", err)
		}
		if el > allowed {
			t.Errorf("a call took %v (%v), want within %v (deadline %v + 10%%, + %v the scheduler lagged)",
				el, errs[i], allowed, deadline, st.lag)
		}
	}
	return st
}

// schedLag measures, until stop is closed, how late the Go scheduler wakes
// a goroutine sleeping 2 ms, and sends the worst it saw.
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
			worst = max(worst, time.Since(start)-2*time.Millisecond)
		}
	}()
	return out
}

// recoverWithin calls GET until one succeeds (a miss counts) and returns
// how long that took from since; it fails t after limit.
func recoverWithin(t *testing.T, d conn.Driver, key string, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), stallDeadline)
		_, err := d.Get(ctx, key)
		cancel()
		if err == nil || errors.Is(err, conn.ErrMiss) {
			return time.Since(since)
		}
		if time.Since(since) > limit {
			t.Fatalf("no successful call %v after the fault ended: %v", limit, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// faultStats is what a fault case measured, for the log.
type faultStats struct {
	mu         sync.Mutex
	calls      int
	errKinds   map[string]int
	maxLatency time.Duration
	lag        time.Duration // what the bound allowed for the scheduler
}

func (s *faultStats) add(took time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.maxLatency = max(s.maxLatency, took)
	if err == nil {
		return
	}
	if s.errKinds == nil {
		s.errKinds = map[string]int{}
	}
	kind := "other"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		kind = "deadline"
	case errors.Is(err, conn.ErrClosed):
		kind = "closed"
	case errors.Is(err, syscall.ECONNREFUSED):
		kind = "refused"
	}
	s.errKinds[kind]++
}

func (s *faultStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	kinds := make([]string, 0, len(s.errKinds))
	errs := 0
	for k, n := range s.errKinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
		errs += n
	}
	sort.Strings(kinds)
	out := fmt.Sprintf("calls=%d errors=%d (%s) max latency=%v",
		s.calls, errs, strings.Join(kinds, " "), s.maxLatency.Round(time.Millisecond))
	if s.lag > 0 {
		out += fmt.Sprintf(" (scheduler lag allowed %v)", s.lag.Round(time.Millisecond))
	}
	return out
}

// RunCloseDuringStall closes a driver while a redis-server of its own is
// stopped (SIGSTOP) under calls in flight: 32 with a 10 s deadline, 32
// with none at all, and one whose 50 ms deadline ran out just before. Close
// returns within 1 s; every call in flight returns within 1 s of Close
// being called, with an error for which errors.Is holds for one of
// closeErrs (a driver's [conn.ErrClosed], or the error it reports for a
// connection it gave up on); and every goroutine the driver started is
// gone within 5 s.
//
// It skips, or fails under EnvRequire, without redis-server.
func RunCloseDuringStall(t *testing.T, open OpenFunc, closeErrs ...error) {
	t.Helper()
	if len(closeErrs) == 0 {
		t.Fatal("conntest: RunCloseDuringStall needs the errors a call ended by Close may wrap")
	}
	r := StartRedis(t)
	before := runtime.NumGoroutine()
	d := open(t, r.Addr())
	if d == nil {
		t.Fatal("conntest: open returned nil")
	}
	t.Cleanup(func() { _ = d.Close() })
	key := "conntest:close-stall:" + randomHex(4)
	callWave(t, d, key, stallCallers, 5*time.Second, 5*time.Second) // open the pool's connections
	r.Stop()
	t.Cleanup(r.Cont)

	type result struct {
		at  time.Time
		err error
	}
	results := make(chan result, stallCallers)
	for i := range stallCallers {
		go func() {
			ctx := context.Background()
			if i%2 == 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
			}
			_, err := d.Get(ctx, key)
			results <- result{time.Now(), err}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	// A call with a deadline leaves its connection to be checked.
	tctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, _ = d.Get(tctx, key)
	cancel()

	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	select {
	case err := <-closed:
		must(t, err, "Close")
	case <-time.After(hangCap):
		t.Fatal("Close hangs while the server is stopped")
	}
	took := time.Since(start)
	var last time.Time
	for range stallCallers {
		select {
		case res := <-results:
			last = maxTime(last, res.at)
			if !isOneOf(res.err, closeErrs) {
				t.Errorf("a call ended by Close = %v, want one of %v", res.err, closeErrs)
			}
		case <-time.After(hangCap):
			t.Fatal("a call in flight outlived Close")
		}
	}
	t.Logf("Close with a stopped server took %v, the last call returned %v after it was called",
		took.Round(time.Millisecond), last.Sub(start).Round(time.Millisecond))
	if took > closeBound {
		t.Errorf("Close took %v during a stall, want within %v", took, closeBound)
	}
	if after := last.Sub(start); after > closeBound {
		t.Errorf("calls in flight returned %v after Close, want within %v", after, closeBound)
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

func isOneOf(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
