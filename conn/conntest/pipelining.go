package conntest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// The cases of this file hold drivers that coalesce the commands of
// concurrent callers into pipelines (auto-pipelining, as the go-redis
// driver does, or the implicit pipelining of radix) to the promises of
// the drivers' contract: each reply goes to its own caller, each call ends
// at its own deadline, and a caller that gives up does not break the
// commands it shared a batch with. A driver without pipelining passes
// them too.

// The sizes of the interleaved case: many goroutines, each with commands
// of every kind on keys of its own, some of them with deadlines that run
// out or contexts cancelled while they are in flight.
const (
	interleavedWorkers = 48
	interleavedRounds  = 30
)

// RunInterleaved runs two cases on the server newDriver talks to
// (standalone or cluster; run it on both). BlockingAlone: while three
// BLPOPs block on the server, 32 concurrent GETs with a 1 s deadline
// succeed.
// Interleaved: 48 goroutines each run 30
// rounds of Set, Get, MGet, SetNX, PExpire, Do, Eval and Del on keys of
// their own, with values that carry the goroutine and the round, mixed
// with calls whose context is cancelled by another goroutine, or whose
// deadline runs out, within 2 ms of the call. Every call with a live
// context returns its own reply (a reply delivered to another caller
// shows in its value), and every call whose context ended returns its
// reply or its context's error: one caller giving up never fails the
// commands that share its batch or connection.
//
// It is apart from [Run], whose cases make a few calls each, because it
// makes some 20,000: a driver runs it on each kind of server it supports.
func RunInterleaved(t *testing.T, newDriver func(t *testing.T) conn.Driver) {
	t.Helper()
	s := &suite{newDriver: newDriver, prefix: "conntest:" + randomHex(6) + ":"}
	s.d = s.open(t)
	t.Cleanup(func() { s.cleanup(t) })
	t.Run("BlockingAlone", s.testBlockingAlone)
	t.Run("Interleaved", s.testInterleaved)
}

// testBlockingAlone: while three BLPOPs block on the server, 32
// concurrent GETs, each with a 1 s deadline, succeed: a blocking command
// has a connection of its own, and no batch or shared connection waits
// behind it, nor for a slot it holds.
func (s *suite) testBlockingAlone(t *testing.T) {
	ctx := ctxT(t)
	k := s.key("blocking-value")
	must(t, s.d.Set(ctx, k, []byte("v"), time.Minute), "Set")
	const blocked = 3
	lists := make([]string, blocked)
	bctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	blpop := make(chan error, blocked)
	for i := range lists {
		lists[i] = s.key(fmt.Sprintf("blocking-list%d", i))
		go func() {
			_, err := s.d.Do(bctx, "BLPOP", lists[i], 5)
			blpop <- err
		}()
	}
	time.Sleep(100 * time.Millisecond) // the BLPOPs on the server
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if v, err := s.d.Get(gctx, k); err != nil || string(v) != "v" {
				errs[i] = fmt.Errorf("Get = %q, %v", v, err)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("GET %d while a BLPOP blocks: %v, want %q within its 1 s deadline", i, err, "v")
		}
	}
	select {
	case err := <-blpop:
		t.Fatalf("BLPOP on an empty list returned early: %v", err)
	default:
	}
	must(t, s.d.Set(ctx, s.key("blocking-other"), []byte("x"), time.Minute), "Set")
	for _, list := range lists {
		if _, err := s.d.Do(ctx, "RPUSH", list, "item"); err != nil {
			t.Fatalf("RPUSH: %v", err)
		}
	}
	for range lists {
		select {
		case err := <-blpop:
			if err != nil {
				t.Fatalf("BLPOP after RPUSH = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("BLPOP did not return after RPUSH")
		}
	}
}

// testInterleaved: interleavedWorkers goroutines each run interleavedRounds
// rounds of Set, Get, MGet, SetNX, PExpire, Do, Eval and Del on keys of
// their own, whose values carry the worker and the round, so that a reply
// delivered to the wrong caller shows. Each round also makes calls whose
// context is cancelled by another goroutine a random moment after the
// call starts, or whose deadline is a fraction of a round trip: those may
// succeed (then with the right reply) or fail with their context's error,
// and must never disturb the calls sharing their batch or connection.
func (s *suite) testInterleaved(t *testing.T) {
	ctx := ctxT(t)
	sc := s.uniqueScript(`return redis.call("GET", KEYS[1]) .. "|" .. ARGV[1]`)
	// Load the script once, so that NOSCRIPT fallbacks do not dominate.
	warmKey := s.key("interleaved-warm")
	must(t, s.d.Set(ctx, warmKey, []byte("w"), time.Minute), "Set")
	if _, err := s.d.Eval(ctx, sc, []string{warmKey}, "x"); err != nil {
		t.Fatalf("Eval: %v", err)
	}
	var (
		wg        sync.WaitGroup
		perturbed atomic.Int64 // calls made with a context that ends early
		gaveUp    atomic.Int64 // of which failed with their context's error
	)
	errc := make(chan error, interleavedWorkers)
	for w := range interleavedWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.interleavedWorker(ctx, w, sc, &perturbed, &gaveUp); err != nil {
				errc <- fmt.Errorf("worker %d: %w", w, err)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	t.Logf("%d workers x %d rounds: %d calls with a context ending early, %d of them gave up",
		interleavedWorkers, interleavedRounds, perturbed.Load(), gaveUp.Load())
}

// shortContext returns a context that ends early: cancelled by another
// goroutine after a random delay of up to 2 ms, or with a deadline of up
// to 2 ms, half and half.
func shortContext(r *rand.Rand) (context.Context, context.CancelFunc) {
	delay := time.Duration(r.IntN(2000)) * time.Microsecond
	if r.IntN(2) == 0 {
		return context.WithTimeout(context.Background(), delay)
	}
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(delay, cancel)
	return ctx, func() { timer.Stop(); cancel() }
}

// contextErr reports whether err is what a call whose context ended
// returns.
func contextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (s *suite) interleavedWorker(ctx context.Context, w int, sc *conn.Script, perturbed, gaveUp *atomic.Int64) error {
	r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	k := s.key(fmt.Sprintf("il%d", w))
	scratch := s.key(fmt.Sprintf("il%d-scratch", w))
	missing := s.key(fmt.Sprintf("il%d-missing", w))
	// early runs a call with a context that ends early: it may succeed,
	// and then check must accept its result, or fail with the context's
	// error.
	early := func(what string, call func(ctx context.Context) error) error {
		ctx, cancel := shortContext(r)
		defer cancel()
		perturbed.Add(1)
		err := call(ctx)
		if err != nil {
			if !contextErr(err) {
				return fmt.Errorf("%s with a context ending early = %v, want success or the context's error", what, err)
			}
			gaveUp.Add(1)
		}
		return nil
	}
	for i := range interleavedRounds {
		want := fmt.Sprintf("%d/%d", w, i)
		if err := s.d.Set(ctx, k, []byte(want), time.Minute); err != nil {
			return fmt.Errorf("Set: %w", err)
		}
		// A write that may be cut short goes to a scratch key, so that the
		// value of k stays known.
		if err := early("Set", func(ctx context.Context) error {
			return s.d.Set(ctx, scratch, []byte(want+"/scratch"), time.Minute)
		}); err != nil {
			return err
		}
		if err := early("Get", func(ctx context.Context) error {
			got, err := s.d.Get(ctx, k)
			if err == nil && string(got) != want {
				return fmt.Errorf("Get with a context ending early = %q, want %q: a reply went to the wrong caller", got, want)
			}
			return err
		}); err != nil && !contextErr(err) {
			return err
		}
		got, err := s.d.Get(ctx, k)
		if err != nil || string(got) != want {
			return fmt.Errorf("Get = %q, %v; want %q", got, err, want)
		}
		vals, err := s.d.MGet(ctx, k, missing)
		if err != nil || len(vals) != 2 || string(vals[0]) != want || vals[1] != nil {
			return fmt.Errorf("MGet = %q, %v; want [%q nil]", vals, err, want)
		}
		nx := s.key(fmt.Sprintf("il%d-nx%d", w, i))
		if ok, err := s.d.SetNX(ctx, nx, []byte(want), time.Minute); err != nil || !ok {
			return fmt.Errorf("SetNX of a new key = %v, %v; want true", ok, err)
		}
		if ok, err := s.d.SetNX(ctx, nx, []byte("other"), time.Minute); err != nil || ok {
			return fmt.Errorf("SetNX of an existing key = %v, %v; want false", ok, err)
		}
		if ok, err := s.d.PExpire(ctx, k, 2*time.Minute); err != nil || !ok {
			return fmt.Errorf("PExpire = %v, %v; want true", ok, err)
		}
		if err := early("Do", func(ctx context.Context) error {
			v, err := s.d.Do(ctx, "GET", k)
			if err == nil && v != want {
				return fmt.Errorf("Do GET with a context ending early = %#v, want %q: a reply went to the wrong caller", v, want)
			}
			return err
		}); err != nil && !contextErr(err) {
			return err
		}
		if v, err := s.d.Do(ctx, "GET", k); err != nil || v != want {
			return fmt.Errorf("Do GET = %#v, %v; want %q", v, err, want)
		}
		arg := strconv.Itoa(r.IntN(1000))
		if v, err := s.d.Eval(ctx, sc, []string{k}, arg); err != nil || v != want+"|"+arg {
			return fmt.Errorf("Eval = %#v, %v; want %q", v, err, want+"|"+arg)
		}
		if err := early("Eval", func(ctx context.Context) error {
			v, err := s.d.Eval(ctx, sc, []string{k}, arg)
			if err == nil && v != want+"|"+arg {
				return fmt.Errorf("Eval with a context ending early = %#v, want %q: a reply went to the wrong caller", v, want+"|"+arg)
			}
			return err
		}); err != nil && !contextErr(err) {
			return err
		}
		if n, err := s.d.Del(ctx, nx); err != nil || n != 1 {
			return fmt.Errorf("Del = %d, %v; want 1", n, err)
		}
	}
	return nil
}

// The bounds of [RunPipelineFaults].
const (
	// pipelineWorkers is how many goroutines call in a loop.
	pipelineWorkers = 64
	// pipelineDeadline is the deadline of each call during a stall.
	pipelineDeadline = 500 * time.Millisecond
	// killDeadline is the deadline of each call across a kill: far longer
	// than the bound, so that a call that waits for it is caught.
	killDeadline = 10 * time.Second
	// killBound is how soon after the kill every call must have failed.
	killBound = time.Second
)

// RunPipelineFaults runs the faults that matter to a driver that sends
// the commands of concurrent callers together (auto-pipelining), on a
// redis-server of its own; open is called with its address. 64
// goroutines call in a loop (SET then GET of a key of their own, whose
// value carries the goroutine and the round, and now and then a GET whose
// context is cancelled while in flight), so that batches are always on
// the wire when the fault strikes:
//
//   - StallMidBatch: the server is stopped (SIGSTOP) for 1.5 s. Every
//     call, each with a 500 ms deadline, returns within it plus 10% (plus
//     what the scheduler lagged, as a goroutine that only waits for the
//     same deadline measures it, at most 150 ms), either with its reply or with an
//     error for which errors.Is(err, context.DeadlineExceeded) holds.
//     After the server resumes, calls succeed again within 5 s.
//   - KillMidBatch: the server is killed (SIGKILL). Every call, each with
//     a 10 s deadline, has returned within 1 s of the kill, with an error
//     that is neither a deadline nor a reply error: a connection error,
//     which callers take for "Redis may have restarted". Once the server
//     is started again (empty, on the same port), calls succeed within
//     5 s.
//
// In both, no GET ever returns a value another goroutine wrote or one
// older than the last SET that succeeded, during the fault or after it.
//
// It skips, or fails under EnvRequire, without redis-server.
func RunPipelineFaults(t *testing.T, open OpenFunc) {
	t.Helper()
	t.Run("StallMidBatch", func(t *testing.T) { testPipelineFault(t, open, false) })
	t.Run("KillMidBatch", func(t *testing.T) { testPipelineFault(t, open, true) })
}

// pipelineLoad is the load of [RunPipelineFaults]: pipelineWorkers
// goroutines calling SET and GET in a loop, each call with deadline.
type pipelineLoad struct {
	d        conn.Driver
	prefix   string
	deadline time.Duration

	mu       sync.Mutex
	problems []string
	calls    int
	failures map[string]int // by kind
	stop     chan struct{}
	wg       sync.WaitGroup
	// killed and restarted are when the server was killed and started
	// again (unix nanoseconds, 0 before): a call in flight at the kill, or
	// started while the server was down, must return within bound of the
	// later of the kill and its start.
	killed, restarted atomic.Int64
	bound             time.Duration
}

func (l *pipelineLoad) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.problems) < 20 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

func (l *pipelineLoad) start(workers int) {
	l.stop = make(chan struct{})
	l.failures = map[string]int{}
	for w := range workers {
		l.wg.Add(1)
		go l.worker(w)
	}
}

// call runs fn with the load's deadline and checks when it returned.
func (l *pipelineLoad) call(what string, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.deadline)
	defer cancel()
	start := time.Now()
	// A twin that only waits for the same deadline measures how late this
	// loaded machine wakes a goroutine (see callWave).
	twin := make(chan time.Duration, 1)
	context.AfterFunc(ctx, func() { twin <- time.Since(start) - l.deadline })
	err := fn(ctx)
	took := time.Since(start)
	if limit := l.deadline + l.deadline/10; took > limit {
		var lag time.Duration
		select {
		case lag = <-twin:
		case <-time.After(lagCap):
			lag = lagCap
		}
		lag = max(0, min(lag, lagCap))
		if took > limit+lag {
			l.problem("%s took %v, past its %v deadline + 10%% (+ %v the scheduler lagged): %v", what, took.Round(time.Millisecond), l.deadline, lag.Round(time.Millisecond), err)
		}
	}
	if killed := l.killed.Load(); killed != 0 {
		from := time.Unix(0, killed)
		restarted := l.restarted.Load()
		if restarted == 0 || start.Before(time.Unix(0, restarted)) {
			if start.After(from) {
				from = start
			}
			if late := time.Since(from); late > l.bound {
				l.problem("%s with the server killed returned %v after the kill or its start, want within %v: %v", what, late.Round(time.Millisecond), l.bound, err)
			}
		}
	}
	l.mu.Lock()
	l.calls++
	if err != nil {
		l.failures[errKind(err)]++
	}
	l.mu.Unlock()
	return err
}

// errKind names the kind of err for the log and the checks.
func errKind(err error) string {
	var re *conn.ReplyError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &re):
		return "reply"
	case errors.Is(err, conn.ErrMiss):
		return "miss"
	case errors.Is(err, conn.ErrClosed):
		return "closed"
	}
	return "connection"
}

func (l *pipelineLoad) worker(w int) {
	defer l.wg.Done()
	r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	key := l.prefix + strconv.Itoa(w)
	lastOK := -1             // the last round whose SET succeeded
	unsure := map[int]bool{} // rounds whose SET failed: it may land at any time
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		val := strconv.Itoa(w) + "/" + strconv.Itoa(i)
		if l.call("SET", func(ctx context.Context) error { return l.d.Set(ctx, key, []byte(val), time.Minute) }) == nil {
			lastOK = i
		} else {
			unsure[i] = true
		}
		check := func(got []byte) {
			if lastOK < 0 {
				return
			}
			// A SET that failed may still have been applied, then or
			// later (a stalled server runs what it had read once it
			// wakes, on a connection of its own), so any value of this
			// worker from the last acknowledged round on, or of a round
			// whose SET failed, is right; another worker's never is.
			gw, gi, ok := strings.Cut(string(got), "/")
			n, err := strconv.Atoi(gi)
			if !ok || gw != strconv.Itoa(w) || err != nil || n > i || (n < lastOK && !unsure[n]) {
				l.problem("worker %d: GET = %q after SET of round %d succeeded: a reply went to the wrong caller", w, got, lastOK)
			}
		}
		if r.IntN(4) == 0 {
			// A GET given up while in flight: its reply must be dropped,
			// not handed to the next caller of its connection or batch.
			ctx, cancel := shortContext(r)
			got, err := l.d.Get(ctx, key)
			cancel()
			if err == nil {
				check(got)
			}
		}
		var got []byte
		err := l.call("GET", func(ctx context.Context) (err error) {
			got, err = l.d.Get(ctx, key)
			return err
		})
		if err == nil {
			check(got)
		}
	}
}

// end stops the load and reports the problems it saw.
func (l *pipelineLoad) end(t *testing.T) {
	t.Helper()
	close(l.stop)
	if !waitGroup(&l.wg, hangCap) {
		t.Fatalf("the callers had not returned %v after the load stopped", hangCap)
	}
	for _, p := range l.problems {
		t.Error(p)
	}
}

func (l *pipelineLoad) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	kinds := make([]string, 0, len(l.failures))
	for k, n := range l.failures {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("%d calls, failures: %s", l.calls, strings.Join(kinds, " "))
}

// failed returns the count of failures of kind.
func (l *pipelineLoad) failed(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failures[kind]
}

func testPipelineFault(t *testing.T, open OpenFunc, kill bool) {
	r := StartRedis(t)
	d := openOwned(t, open, r)
	prefix := "conntest:pipeline:" + randomHex(4) + ":"

	deadline := pipelineDeadline
	if kill {
		deadline = killDeadline
	}
	load := &pipelineLoad{d: d, prefix: prefix, deadline: deadline, bound: killBound}
	load.start(pipelineWorkers)
	time.Sleep(300 * time.Millisecond) // batches on the wire
	before := load.summary()
	if kill {
		load.killed.Store(time.Now().UnixNano())
		r.Kill()
		time.Sleep(killBound + 500*time.Millisecond)
	} else {
		r.Stop()
		time.Sleep(1500 * time.Millisecond)
	}
	during := load.summary()
	if kill {
		load.restarted.Store(time.Now().UnixNano())
		r.Start()
	} else {
		r.Cont()
	}
	resumed := time.Now()
	// The load goes on; a fresh caller must succeed within 5 s.
	recoverWithin(t, d, prefix+"recover", resumed, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	load.end(t)
	t.Logf("before the fault: %s; during it: %s; at the end: %s", before, during, load.summary())
	if kill {
		if n := load.failed("deadline"); n > 0 {
			t.Errorf("%d calls failed with their deadline across a kill, want a connection error at once", n)
		}
		if n := load.failed("reply"); n > 0 {
			t.Errorf("%d calls failed with a reply error across a kill, want a connection error", n)
		}
		if load.failed("connection") == 0 {
			t.Errorf("no call failed with a connection error across a kill")
		}
	} else {
		for _, kind := range []string{"connection", "reply", "closed"} {
			if n := load.failed(kind); n > 0 {
				t.Errorf("%d calls failed with a %s error during a stall, want success or their deadline", n, kind)
			}
		}
		if load.failed("deadline") == 0 {
			t.Errorf("no call failed with its deadline during a 1.5 s stall")
		}
	}
}
