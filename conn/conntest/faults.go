package conntest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// FaultConfig says how [RunFaults] opens the driver under test.
type FaultConfig struct {
	// Open opens a driver to the standalone Redis at addr (host:port, a
	// [Proxy] in front of the real server) with the options that matter
	// under faults, such as a short subscription health interval. It fails
	// t when it cannot. RunFaults closes the driver; Open may register its
	// own clean-up as well, since a second Close returns nil.
	Open func(t *testing.T, addr string) conn.Driver

	// PoolSize is how many shared connections the driver opened by Open
	// keeps (its pool size). The stall case makes PoolSize+2 concurrent
	// calls, so that some of them wait behind others for a connection.
	// Zero counts as 1.
	PoolSize int

	// SubscriptionCheck is the longest a subscription opened by Open may
	// take to notice that its connection stopped answering: the health
	// check's interval plus the deadline of its PING. The subscription
	// case requires [conn.ErrSubscriptionLost] within this plus 500 ms,
	// and no false alarm on an idle, healthy subscription for twice this.
	// It must be set: every driver is to detect a half-open subscription.
	SubscriptionCheck time.Duration

	// Prefix, when set, is the driver's error prefix (see [Errors]): the
	// refusal and the lost subscription the cases provoke must start with
	// it, as every error the driver makes does.
	Prefix string
}

// The bounds of the fault cases. They are correctness bounds (a call ends
// at its deadline, a refusal is not a timeout), made generous enough that
// -race on a loaded machine does not break them.
const (
	// stallDeadline is the deadline of each call made during a stall; it
	// must return within it plus 10%.
	stallDeadline = 500 * time.Millisecond
	// recoverBound is how soon after a fault ends calls must succeed
	// again.
	recoverBound = time.Second
	// refuseFast is the median time a call may take to fail on a refused
	// port; refuseMax is the most any such call may take, and refuseCall
	// the deadline each is given, so that a slow driver is caught as slow
	// rather than as a timeout.
	refuseFast = 10 * time.Millisecond
	refuseMax  = 300 * time.Millisecond
	refuseCall = time.Second
	// closeBound is how long Close may take during a stall, and how soon
	// after it the calls in flight must have returned.
	closeBound = time.Second
	// subscriptionMargin is added to SubscriptionCheck.
	subscriptionMargin = 500 * time.Millisecond
	// hangCap is when a case gives up waiting for a call that hangs, so
	// that a failing driver fails the case instead of the whole run.
	hangCap = 15 * time.Second
)

// RunFaults runs the fault cases that every driver must pass, against the
// standalone Redis of [RedisAddr] seen through a [Proxy]:
//
//   - StalledServer: with the server stalled (half-open), PoolSize+2
//     concurrent GETs on the shared connections, each with a 500 ms
//     deadline, each return within 550 ms an error for which
//     errors.Is(err, context.DeadlineExceeded) holds. Once the stall ends,
//     calls succeed again within 1 s, and their replies are not mixed up
//     with the late replies of the calls that timed out.
//   - RefusedPort: with the port closed and the connections cut, calls
//     fail fast (a median within 10 ms, none past 300 ms, each with a 1 s
//     deadline), with an error that is not a deadline; once the dead
//     connections are gone, the error wraps syscall.ECONNREFUSED.
//   - RecoverAfterRefused: once the port accepts again, calls succeed
//     within 1 s.
//   - CloseDuringStall: Close returns within 1 s while the server is
//     stalled with calls in flight, and those calls return within 1 s of
//     it.
//   - SubscriptionHealth: an idle, healthy subscription is not reported
//     lost; once the server stalls, Receive returns an error wrapping
//     [conn.ErrSubscriptionLost] within SubscriptionCheck + 500 ms.
//   - ResetMidFlight: connections reset while calls run: no call outlives
//     its deadline by more than 10%, no reply is mixed up, and calls
//     succeed within 1 s after the last reset.
//
// Each case opens its own proxy and driver, so the cases do not disturb
// each other. Keys expire within a minute; nothing is flushed.
func RunFaults(t *testing.T, cfg FaultConfig) {
	t.Helper()
	if cfg.Open == nil {
		t.Fatal("conntest: FaultConfig.Open is nil")
	}
	if cfg.PoolSize < 1 {
		cfg.PoolSize = 1
	}
	f := &faults{cfg: cfg, addr: RedisAddr(t), prefix: "conntest:faults:" + randomHex(6) + ":"}
	cases := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"StalledServer", f.testStall},
		{"RefusedPort", f.testRefused},
		{"RecoverAfterRefused", f.testRecoverRefused},
		{"CloseDuringStall", f.testCloseStalled},
		{"SubscriptionHealth", f.testSubscriptionHealth},
		{"ResetMidFlight", f.testReset},
	}
	for _, c := range cases {
		t.Run(c.name, c.fn)
	}
}

type faults struct {
	cfg    FaultConfig
	addr   string
	prefix string
}

// open starts a proxy to the server and a driver through it. The driver is
// closed before the proxy, and a Close that hangs is reported, not waited
// for.
func (f *faults) open(t *testing.T) (*Proxy, conn.Driver) {
	t.Helper()
	p := NewProxy(t, f.addr)
	d := f.cfg.Open(t, p.Addr())
	if d == nil {
		t.Fatal("FaultConfig.Open returned nil")
	}
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- d.Close() }()
		select {
		case <-done:
		case <-time.After(hangCap):
			t.Errorf("Close did not return within %v", hangCap)
		}
	})
	return p, d
}

func (f *faults) key(name string) string { return f.prefix + name + ":" + randomHex(4) }

// outcome is what one call returned, and when.
type outcome struct {
	err     error
	elapsed time.Duration
}

// parallel runs fn n times at once, each with its own deadline counted from
// just before its call, and returns their outcomes. It fails t when the
// calls have not all returned within hangCap.
func parallel(t *testing.T, n int, deadline time.Duration, fn func(ctx context.Context, i int) error) []outcome {
	t.Helper()
	out := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err := fn(ctx, i)
			out[i] = outcome{err: err, elapsed: time.Since(start)}
		}()
	}
	if !waitGroup(&wg, hangCap) {
		t.Fatalf("%d concurrent calls with a %v deadline had not all returned after %v", n, deadline, hangCap)
	}
	return out
}

func waitGroup(wg *sync.WaitGroup, limit time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

// warm makes n concurrent calls, so that the driver opens the connections
// it shares.
func warm(t *testing.T, d conn.Driver, n int, key string) {
	t.Helper()
	ctx := ctxT(t)
	must(t, d.Set(ctx, key, []byte("warm"), time.Minute), "Set before the fault")
	for i, o := range parallel(t, n, 10*time.Second, func(ctx context.Context, _ int) error {
		_, err := d.Get(ctx, key)
		return err
	}) {
		if o.err != nil {
			t.Fatalf("Get %d before the fault: %v", i, o.err)
		}
	}
}

// recovers polls with Set and Get until they succeed, and fails t when
// that takes longer than bound from since. It then checks with concurrent
// calls that replies are not mixed up.
func recovers(t *testing.T, d conn.Driver, since time.Time, bound time.Duration, key string, n int) {
	t.Helper()
	var last error
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		// A key per attempt: a timed-out Set of an earlier attempt may
		// still land, and must not look like a mixed-up reply.
		k := key + ":recover" + strconv.Itoa(attempt)
		want := []byte("recovered:" + strconv.Itoa(attempt))
		last = d.Set(ctx, k, want, time.Minute)
		if last == nil {
			var got []byte
			got, last = d.Get(ctx, k)
			if last == nil && string(got) != string(want) {
				cancel()
				t.Fatalf("Get after the fault = %q, want %q: replies are mixed up", got, want)
			}
		}
		cancel()
		if last == nil {
			break
		}
		if time.Since(since) > bound+300*time.Millisecond {
			t.Fatalf("calls still fail %v after the fault ended (bound %v): %v", time.Since(since).Round(time.Millisecond), bound, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if took := time.Since(since); took > bound {
		t.Errorf("the first call succeeded %v after the fault ended, want within %v", took.Round(time.Millisecond), bound)
	}
	outs := parallel(t, n, 10*time.Second, func(ctx context.Context, i int) error {
		k := key + ":" + strconv.Itoa(i)
		for j := range 10 {
			want := fmt.Sprintf("%d/%d", i, j)
			if err := d.Set(ctx, k, []byte(want), time.Minute); err != nil {
				return err
			}
			got, err := d.Get(ctx, k)
			if err != nil {
				return err
			}
			if string(got) != want {
				return fmt.Errorf("Get = %q, want %q: replies are mixed up", got, want)
			}
		}
		return nil
	})
	for i, o := range outs {
		if o.err != nil {
			t.Errorf("worker %d after the fault: %v", i, o.err)
		}
	}
}

func (f *faults) testStall(t *testing.T) {
	p, d := f.open(t)
	n := f.cfg.PoolSize + 2
	k := f.key("stall")
	warm(t, d, n, k)

	p.Stall()
	outs := parallel(t, n, stallDeadline, func(ctx context.Context, _ int) error {
		_, err := d.Get(ctx, k)
		return err
	})
	limit := stallDeadline + stallDeadline/10
	for i, o := range outs {
		if o.elapsed > limit {
			t.Errorf("Get %d of %d on a stalled server returned after %v, past its %v deadline + 10%%", i, n, o.elapsed.Round(time.Millisecond), stallDeadline)
		}
		if !errors.Is(o.err, context.DeadlineExceeded) {
			t.Errorf("Get %d of %d on a stalled server = %v, want an error wrapping context.DeadlineExceeded", i, n, o.err)
		}
	}
	t.Logf("stalled: %s", summary(outs))

	p.Resume()
	recovers(t, d, time.Now(), recoverBound, k, n)
}

func (f *faults) testRefused(t *testing.T) {
	p, d := f.open(t)
	k := f.key("refused")
	warm(t, d, f.cfg.PoolSize+2, k)

	p.Refuse()
	p.Reset()
	waitNoConns(t, p)
	// The first calls may meet connections the driver has not yet seen
	// die; after PoolSize+2 of them the driver must be dialling, and the
	// dial is refused.
	n := f.cfg.PoolSize + 2
	outs := make([]outcome, n)
	for i := range outs {
		ctx, cancel := context.WithTimeout(context.Background(), refuseCall)
		start := time.Now()
		_, err := d.Get(ctx, k)
		outs[i] = outcome{err: err, elapsed: time.Since(start)}
		cancel()
	}
	t.Logf("refused: %s", summary(outs))
	for i, o := range outs {
		switch {
		case o.err == nil:
			t.Errorf("Get %d on a refused port succeeded", i)
		case errors.Is(o.err, context.DeadlineExceeded):
			t.Errorf("Get %d on a refused port = %v after %v: a timeout, want the refusal", i, o.err, o.elapsed.Round(time.Millisecond))
		}
		if o.elapsed > refuseMax {
			t.Errorf("Get %d on a refused port took %v, want well under %v (a median within %v)", i, o.elapsed.Round(time.Millisecond), refuseMax, refuseFast)
		}
	}
	if m := median(outs); m > refuseFast {
		t.Errorf("calls on a refused port took %v (median), want within %v", m.Round(time.Microsecond), refuseFast)
	}
	if last := outs[n-1].err; !errors.Is(last, syscall.ECONNREFUSED) {
		t.Errorf("Get on a refused port, once the dead connections are gone = %v, want an error wrapping syscall.ECONNREFUSED", last)
	} else if p := f.cfg.Prefix; p != "" && !strings.HasPrefix(last.Error(), p) {
		t.Errorf("Get on a refused port = %q, want it to start with %q", last, p)
	}
}

// waitNoConns waits until the proxy has dropped every connection.
func waitNoConns(t *testing.T, p *Proxy) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); p.Conns() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy still holds %d connections after Reset", p.Conns())
		}
	}
}

func (f *faults) testRecoverRefused(t *testing.T) {
	p, d := f.open(t)
	k := f.key("recover")
	n := f.cfg.PoolSize + 2
	warm(t, d, n, k)

	p.Refuse()
	p.Reset()
	waitNoConns(t, p)
	// Make the driver see the outage: a few failing calls, as an
	// application would, and some time for any backoff to start.
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), refuseCall)
		_, _ = d.Get(ctx, k)
		cancel()
	}
	time.Sleep(200 * time.Millisecond)
	p.Accept()
	recovers(t, d, time.Now(), recoverBound, k, n)
}

func (f *faults) testCloseStalled(t *testing.T) {
	p, d := f.open(t)
	k := f.key("close")
	n := f.cfg.PoolSize + 2
	warm(t, d, n, k)

	p.Stall()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), hangCap)
			defer cancel()
			_, errs[i] = d.Get(ctx, k)
		}()
	}
	time.Sleep(100 * time.Millisecond) // let the calls reach the wire

	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	select {
	case err := <-closed:
		if took := time.Since(start); took > closeBound {
			t.Errorf("Close during a stall took %v, want within %v", took.Round(time.Millisecond), closeBound)
		}
		if err != nil {
			t.Logf("Close during a stall = %v", err)
		}
	case <-time.After(hangCap):
		t.Fatalf("Close during a stall had not returned after %v", hangCap)
	}
	returned := time.Now()
	if !waitGroup(&wg, hangCap) {
		t.Fatalf("calls in flight during Close had not returned %v after it", hangCap)
	}
	if took := time.Since(returned); took > closeBound {
		t.Errorf("calls in flight returned %v after Close, want within %v", took.Round(time.Millisecond), closeBound)
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("Get %d in flight during Close on a stalled server succeeded", i)
		}
	}
	if _, err := d.Get(ctxT(t), k); !errors.Is(err, conn.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
}

func (f *faults) testSubscriptionHealth(t *testing.T) {
	check := f.cfg.SubscriptionCheck
	if check <= 0 {
		t.Fatal("FaultConfig.SubscriptionCheck is not set: a driver must detect a half-open subscription, and say how fast")
	}
	p, d := f.open(t)
	ctx := ctxT(t)
	ch := f.prefix + "health"
	sub, err := d.Subscribe(ctx, ch)
	must(t, err, "Subscribe")
	t.Cleanup(func() { _ = sub.Close() })

	receive := func(limit time.Duration) (conn.Message, error, time.Duration) {
		rctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		start := time.Now()
		m, err := sub.Receive(rctx)
		return m, err, time.Since(start)
	}
	_, err = d.Do(ctx, "PUBLISH", ch, "one")
	must(t, err, "PUBLISH")
	m, err, _ := receive(10 * time.Second)
	must(t, err, "Receive")
	if string(m.Payload) != "one" {
		t.Fatalf("Receive = %q, want %q", m.Payload, "one")
	}

	// Idle and healthy: the health check must not report it lost.
	if _, err, _ := receive(2 * check); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive on an idle, healthy subscription = %v, want context.DeadlineExceeded", err)
	}
	_, err = d.Do(ctx, "PUBLISH", ch, "two")
	must(t, err, "PUBLISH after idling")
	if m, err, _ = receive(10 * time.Second); err != nil || string(m.Payload) != "two" {
		t.Fatalf("Receive after idling = %q, %v; want %q", m.Payload, err, "two")
	}

	p.Stall()
	start := time.Now()
	_, err, _ = receive(hangCap)
	took := time.Since(start)
	if !errors.Is(err, conn.ErrSubscriptionLost) {
		t.Fatalf("Receive on a stalled subscription = %v after %v, want an error wrapping ErrSubscriptionLost", err, took.Round(time.Millisecond))
	}
	if p := f.cfg.Prefix; p != "" && !strings.HasPrefix(err.Error(), p) {
		t.Errorf("Receive on a stalled subscription = %q, want it to start with %q", err, p)
	}
	if limit := check + subscriptionMargin; took > limit {
		t.Errorf("a stalled subscription was reported lost after %v, want within %v (SubscriptionCheck %v + %v)", took.Round(time.Millisecond), limit, check, subscriptionMargin)
	}
	t.Logf("subscription lost after %v: %v", took.Round(time.Millisecond), err)
}

func (f *faults) testReset(t *testing.T) {
	p, d := f.open(t)
	n := f.cfg.PoolSize + 2
	k := f.key("reset")
	warm(t, d, n, k)

	const callDeadline = time.Second
	limit := callDeadline + callDeadline/10
	stop := make(chan struct{})
	type report struct {
		calls, failed int
		slowest       time.Duration
		problems      []string
	}
	reports := make([]report, n)
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &reports[w]
			key := k + ":" + strconv.Itoa(w)
			lastOK := -1 // the last iteration whose Set succeeded
			call := func(fn func(ctx context.Context) error) error {
				ctx, cancel := context.WithTimeout(context.Background(), callDeadline)
				defer cancel()
				start := time.Now()
				err := fn(ctx)
				el := time.Since(start)
				r.calls++
				r.slowest = max(r.slowest, el)
				if el > limit {
					r.problems = append(r.problems, fmt.Sprintf("a call took %v (deadline %v): %v", el.Round(time.Millisecond), callDeadline, err))
				}
				if err != nil {
					r.failed++
				}
				return err
			}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				val := strconv.Itoa(i)
				if call(func(ctx context.Context) error { return d.Set(ctx, key, []byte(val), time.Minute) }) == nil {
					lastOK = i
				}
				var got []byte
				err := call(func(ctx context.Context) (err error) {
					got, err = d.Get(ctx, key)
					return err
				})
				if err != nil || lastOK < 0 {
					continue
				}
				// A Set that failed may still have been applied, so any
				// value from the last acknowledged one on is right.
				if g, convErr := strconv.Atoi(string(got)); convErr != nil || g < lastOK || g > i {
					r.problems = append(r.problems, fmt.Sprintf("Get = %q after Set %d succeeded: replies are mixed up", got, lastOK))
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	for range 3 {
		p.Reset()
		time.Sleep(50 * time.Millisecond)
	}
	lastReset := time.Now()
	time.Sleep(100 * time.Millisecond)
	close(stop)
	if !waitGroup(&wg, hangCap) {
		t.Fatalf("calls during connection resets had not returned %v after the workers stopped", hangCap)
	}
	var calls, failed int
	var slowest time.Duration
	for w, r := range reports {
		calls += r.calls
		failed += r.failed
		slowest = max(slowest, r.slowest)
		for _, msg := range r.problems {
			t.Errorf("worker %d: %s", w, msg)
		}
	}
	t.Logf("reset mid-flight: %d calls, %d failed, slowest %v", calls, failed, slowest.Round(time.Millisecond))
	recovers(t, d, lastReset, recoverBound, k, n)
}

// summary describes outcomes for the log: the errors seen and the spread of
// the latencies.
func summary(outs []outcome) string {
	errs := map[string]int{}
	for _, o := range outs {
		msg := "ok"
		if o.err != nil {
			msg = o.err.Error()
		}
		errs[msg]++
	}
	msgs := make([]string, 0, len(errs))
	for m, c := range errs {
		msgs = append(msgs, fmt.Sprintf("%dx %q", c, m))
	}
	slices.Sort(msgs)
	lat := make([]time.Duration, len(outs))
	for i, o := range outs {
		lat[i] = o.elapsed
	}
	slices.Sort(lat)
	return fmt.Sprintf("%d calls, latency min %v median %v max %v; errors: %s",
		len(outs), lat[0].Round(time.Microsecond), median(outs).Round(time.Microsecond),
		lat[len(lat)-1].Round(time.Microsecond), strings.Join(msgs, ", "))
}

func median(outs []outcome) time.Duration {
	lat := make([]time.Duration, len(outs))
	for i, o := range outs {
		lat[i] = o.elapsed
	}
	slices.Sort(lat)
	return lat[len(lat)/2]
}
