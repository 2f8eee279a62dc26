//go:build unix

package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
)

// timeout is the cache's Redis timeout in every test: long enough that a
// healthy call under -race on a loaded 2-core machine never reaches it.
const timeout = 300 * time.Millisecond

// bound is what no Get may take: its Redis timeout plus 10%. The loaders
// return at once, so the whole call is the cache's doing.
const bound = timeout + timeout/10

// long reports the long mode (bash tools/test.sh --faults-long).
func long() bool { return os.Getenv("REDCACHE_FAULTS_LONG") == "1" }

// rounds is how many times a test repeats its fault.
func rounds() int {
	if long() {
		return 4
	}
	return 1
}

// skipUnlessEnabled skips the suite when REDCACHE_FAULTS=off (the runner's
// GOWORK=off pass, after the suite ran under -race) or under -short.
func skipUnlessEnabled(t *testing.T) {
	t.Helper()
	if os.Getenv("REDCACHE_FAULTS") == "off" {
		t.Skip("REDCACHE_FAULTS=off")
	}
	if testing.Short() {
		t.Skip("fault tests take seconds each; skipped with -short")
	}
}

// env returns the variable v, or skips the test (fails it when
// REDCACHE_TEST_REQUIRE=1) when it is not set.
func env(t *testing.T, v string) string {
	t.Helper()
	s := os.Getenv(v)
	if s == "" {
		msg := "no " + v + ": run the tests with `bash tools/test.sh`, which starts the servers for them"
		if os.Getenv("REDCACHE_TEST_REQUIRE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return s
}

// A driverKind opens a driver of one kind over a redis:// URL.
type driverKind struct {
	name string
	open func(ctx context.Context, url string) (conn.Driver, error)
}

var drivers = []driverKind{
	{"goredis", func(ctx context.Context, url string) (conn.Driver, error) { return goredis.Open(ctx, url) }},
	{"radix", func(ctx context.Context, url string) (conn.Driver, error) { return radix.Open(ctx, url) }},
}

// startServer starts a redis-server the test owns, killed in Cleanup.
func startServer(t *testing.T, extra ...string) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := StartServer(ctx, t.TempDir(), extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// value is what the loader returns: the key it loaded, the call that made
// it load, and when. A Get whose value came from another call, loaded
// before the Get began, was a cache hit (or, rarely, joined a load that
// began before it: close enough for a recovery time).
type value struct {
	Key int
	By  uint64
	At  int64
}

type callIDKey struct{}

// call is one Get, as the load recorded it.
type call struct {
	start, end time.Time
	key        int
	hit        bool
	err        error
	wrong      bool // the value was for another key
}

// load runs goroutines calling a memoized Get over keys until stopped, and
// keeps every call for the checks. The loaders answer at once.
type load struct {
	m    *core.Manager
	memo *core.Memo[int, value]
	keys int

	ids   atomic.Uint64
	loads atomic.Int64

	mu       sync.Mutex
	calls    []call
	reported []error // what the error handler received
	stop     chan struct{}
	wg       sync.WaitGroup
	stopped  bool
}

// newLoad memoizes a function over d with the suite's timeout; opts come
// on top.
func newLoad(d conn.Driver, keys int, opts ...core.ManagerOption) *load {
	l := &load{keys: keys, stop: make(chan struct{})}
	base := []core.ManagerOption{
		core.WithDriver(d),
		core.WithTimeout(timeout),
		core.WithTTL(5 * time.Minute),
		core.WithErrorHandler(func(_ context.Context, err *core.Error) {
			l.mu.Lock()
			l.reported = append(l.reported, err)
			l.mu.Unlock()
		}),
	}
	l.m = core.New(append(base, opts...)...)
	l.memo = core.Memoize(l.m, "faults.value", func(ctx context.Context, k int) (value, error) {
		l.loads.Add(1)
		id, _ := ctx.Value(callIDKey{}).(uint64)
		return value{Key: k, By: id, At: time.Now().UnixNano()}, nil
	})
	return l
}

// get makes one call and records it.
func (l *load) get(k int) call {
	id := l.ids.Add(1)
	ctx := context.WithValue(context.Background(), callIDKey{}, id)
	start := time.Now()
	v, err := l.memo.Get(ctx, k)
	c := call{start: start, end: time.Now(), key: k, err: err}
	if err == nil {
		c.wrong = v.Key != k || v.By == 0
		c.hit = v.By != id && v.At < start.UnixNano()
	}
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
	return c
}

// warm loads every key once, so that later calls can hit.
func (l *load) warm(t *testing.T) {
	t.Helper()
	for k := 0; k < l.keys; k++ {
		if c := l.get(k); c.err != nil {
			t.Fatalf("warming key %d: %v", k, c.err)
		}
	}
}

// start runs n goroutines, each calling Get on random keys with a short
// pause between calls (the machine is shared).
func (l *load) start(n int) {
	for i := 0; i < n; i++ {
		l.wg.Add(1)
		go func(seed uint64) {
			defer l.wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.get(r.IntN(l.keys))
				time.Sleep(2 * time.Millisecond)
			}
		}(uint64(i))
	}
}

// finish stops the goroutines and closes the Manager.
func (l *load) finish() {
	if l.stopped {
		return
	}
	l.stopped = true
	close(l.stop)
	l.wg.Wait()
	_ = l.m.Close()
}

// summary is what the checks and the RESULT lines use.
type summary struct {
	calls, errs, overdue, wrong, hits int
	maxLat                            time.Duration
	firstErr                          error
	slowest                           call
}

// sum summarises the calls that began in [from, to) on keys that keep
// accepts (nil: all).
func (l *load) sum(from, to time.Time, keep func(int) bool) summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s summary
	for _, c := range l.calls {
		if c.start.Before(from) || !c.start.Before(to) || (keep != nil && !keep(c.key)) {
			continue
		}
		s.calls++
		if c.err != nil {
			s.errs++
			if s.firstErr == nil {
				s.firstErr = c.err
			}
		}
		if c.wrong {
			s.wrong++
		}
		if c.hit {
			s.hits++
		}
		lat := c.end.Sub(c.start)
		if lat > bound {
			s.overdue++
		}
		if lat > s.maxLat {
			s.maxLat, s.slowest = lat, c
		}
	}
	return s
}

// firstHit returns the start of the first hit that began at or after from
// on a key keep accepts, or the zero time.
func (l *load) firstHit(from time.Time, keep func(int) bool) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, c := range l.calls {
		if c.hit && !c.start.Before(from) && (keep == nil || keep(c.key)) {
			if first.IsZero() || c.start.Before(first) {
				first = c.start
			}
		}
	}
	return first
}

// errorsReported returns a copy of what the error handler received.
func (l *load) errorsReported() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reported)
}

// checkCalls fails t when a call in s returned an error or a wrong value,
// or took longer than bound.
func checkCalls(t *testing.T, what string, s summary) {
	t.Helper()
	if s.calls == 0 {
		t.Errorf("%s: no call was made", what)
	}
	if s.errs > 0 {
		t.Errorf("%s: %d of %d calls returned an error, first: %v", what, s.errs, s.calls, s.firstErr)
	}
	if s.wrong > 0 {
		t.Errorf("%s: %d calls returned a value for another key", what, s.wrong)
	}
	if s.overdue > 0 {
		t.Errorf("%s: %d of %d calls took longer than %v (timeout %v + 10%%); the slowest took %v (began %s)",
			what, s.overdue, s.calls, bound, timeout, s.maxLat, s.slowest.start.Format("15:04:05.000"))
	}
}

// checkRecovery fails t when no hit came within limit of since.
func checkRecovery(t *testing.T, what string, first, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	if first.IsZero() {
		t.Errorf("%s: no hit after the fault ended (want one within %v)", what, limit)
		return -1
	}
	rec := first.Sub(since)
	if rec > limit {
		t.Errorf("%s: the first hit came %v after the fault ended; want within %v", what, rec.Round(time.Millisecond), limit)
	}
	return rec
}

// result logs the line the table is made from.
func result(t *testing.T, fault, driver string, s summary, loads int64, reported int, rec time.Duration) {
	t.Helper()
	recs := "-"
	if rec >= 0 {
		recs = rec.Round(time.Millisecond).String()
	}
	t.Logf("RESULT fault=%s driver=%s calls=%d errors=%d past_bound=%d wrong=%d hits=%d loads=%d max_latency=%v recovery=%s reported=%d",
		fault, driver, s.calls, s.errs, s.overdue, s.wrong, s.hits, loads, s.maxLat.Round(time.Millisecond), recs, reported)
}

// goroutineBaseline returns the goroutine count before a subtest opens
// anything.
func goroutineBaseline() int {
	runtime.GC()
	return runtime.NumGoroutine()
}

// checkGoroutines fails t when, 3 s after everything was closed, more
// goroutines run than at the baseline; it prints their stacks.
func checkGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	n := 0
	for {
		n = runtime.NumGoroutine()
		if n <= baseline || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("goroutines: %d before, %d after Close", baseline, n)
	if n > baseline {
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Errorf("%d goroutines left after Close (baseline %d):\n%s", n-baseline, baseline, b.String())
	}
}

// closeAll closes the load's Manager and the driver, bounded: a Close that
// hangs is a failure, not a stuck test.
func closeAll(t *testing.T, l *load, d conn.Driver) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		l.finish()
		done <- d.Close()
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, conn.ErrClosed) {
			t.Logf("driver Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Manager.Close and Driver.Close did not return within 5 s")
	}
}

// runFault is the shape of every standalone fault test: for each driver,
// a server of the test's own, a warmed load of 16 goroutines over 40 keys,
// rounds of inject (which returns when the fault is over: the moment
// from which recovery is measured, within the bound recovery), then the
// checks.
func runFault(t *testing.T, fault string, serverArgs []string, inject func(t *testing.T, s *Server), recovery time.Duration) {
	skipUnlessEnabled(t)
	for _, dk := range drivers {
		t.Run(dk.name, func(t *testing.T) {
			srv := startServer(t, serverArgs...)
			base := goroutineBaseline()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			d, err := dk.open(ctx, "redis://"+srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			l := newLoad(d, 40)
			l.warm(t)
			begin := time.Now()
			l.start(16)
			time.Sleep(300 * time.Millisecond)
			var worst time.Duration
			missed := false
			for r := 0; r < rounds(); r++ {
				inject(t, srv)
				over := time.Now()
				// Let the load run past the recovery bound, then look.
				time.Sleep(recovery + 700*time.Millisecond)
				first := l.firstHit(over, nil)
				rec := checkRecovery(t, fmt.Sprintf("round %d", r+1), first, over, recovery)
				missed = missed || rec < 0
				worst = max(worst, rec)
			}
			if missed {
				worst = -1
			}
			closeAll(t, l, d)
			s := l.sum(begin, time.Now(), nil)
			checkCalls(t, fault, s)
			result(t, fault, dk.name, s, l.loads.Load(), len(l.errorsReported()), worst)
			checkGoroutines(t, base)
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }
