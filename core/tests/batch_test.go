package tests_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// countDriver counts the multi-key calls a batch makes.
type countDriver struct {
	conn.Driver
	mgets, pipelines, gets atomic.Int64
}

func (c *countDriver) MGet(ctx context.Context, keys ...string) ([][]byte, error) {
	c.mgets.Add(1)
	return c.Driver.MGet(ctx, keys...)
}

func (c *countDriver) Pipeline(ctx context.Context, cmds ...*conn.Cmd) error {
	c.pipelines.Add(1)
	return c.Driver.Pipeline(ctx, cmds...)
}

func (c *countDriver) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Driver.Get(ctx, key)
}

// batchSource is a batch loader over a map that the test can change: it
// records each call's ids, and can hold a call until the test releases
// it.
type batchSource struct {
	mu      sync.Mutex
	vals    map[int]string
	asked   [][]int
	hold    atomic.Bool   // hold the next call
	started chan []int    // told the ids of a held call
	release chan struct{} // closed to let held calls go
	err     error         // returned by every call, when set
	panics  bool
	ctxs    []context.Context
}

func newBatchSource(n int) *batchSource {
	s := &batchSource{vals: map[int]string{}, started: make(chan []int, 16), release: make(chan struct{})}
	for i := 1; i <= n; i++ {
		s.vals[i] = fmt.Sprintf("v%d", i)
	}
	return s
}

func (s *batchSource) set(id int, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == "" {
		delete(s.vals, id)
		return
	}
	s.vals[id] = v
}

func (s *batchSource) load(ctx context.Context, ids []int) (map[int]string, error) {
	sorted := slices.Clone(ids)
	sort.Ints(sorted)
	// The values are read first: a held call returns what the source
	// held when it was called, as a query that ran before a write would.
	s.mu.Lock()
	s.asked = append(s.asked, sorted)
	s.ctxs = append(s.ctxs, ctx)
	out := map[int]string{}
	for _, id := range ids {
		if v, ok := s.vals[id]; ok {
			out[id] = v
		}
	}
	s.mu.Unlock()
	if s.hold.CompareAndSwap(true, false) {
		s.started <- sorted
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.panics {
		panic("batch loader failed")
	}
	if s.err != nil {
		return nil, s.err
	}
	return out, nil
}

func (s *batchSource) calls() [][]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

func (s *batchSource) idsAsked() int {
	n := 0
	for _, c := range s.calls() {
		n += len(c)
	}
	return n
}

func ids(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func want(from, to int) map[int]string {
	out := map[int]string{}
	for i := from; i <= to; i++ {
		out[i] = fmt.Sprintf("v%d", i)
	}
	return out
}

func newBatchManager(t *testing.T, d conn.Driver, prefix string, opts ...core.ManagerOption) *core.Manager {
	t.Helper()
	m := core.New(append([]core.ManagerOption{core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix)}, opts...)...)
	t.Cleanup(func() { m.Close() })
	return m
}

// GetMany reads every id with one MGET, calls the loader once with the
// missing ids only, stores them with one pipeline, and shares its
// entries with Memoize of the same name.
func TestBatchGetMany(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		cd := &countDriver{Driver: d}
		prefix := uniquePrefix(t)
		src := newBatchSource(100)
		b := core.MemoizeBatch(newBatchManager(t, cd, prefix), "users", src.load)

		got, err := b.GetMany(ctx, ids(1, 40))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want(1, 40), got); diff != "" {
			t.Fatalf("cold GetMany (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([][]int{ids(1, 40)}, src.calls()); diff != "" {
			t.Fatalf("loader calls (-want +got):\n%s", diff)
		}
		if n := cd.mgets.Load(); n != 1 {
			t.Fatalf("a cold GetMany made %d MGETs, want 1", n)
		}
		cluster := strings.Contains(t.Name(), "cluster")
		// On a cluster, the first store learns that a key and its
		// generation key are in different slots (CROSSSLOT), and the
		// writes go again with SET NX: two pipelines, once.
		if n := cd.pipelines.Load(); n != 1 && !(cluster && n == 2) {
			t.Fatalf("a cold GetMany stored with %d pipelines, want 1", n)
		}
		if cluster {
			// The keys of the batch are spread over the cluster's nodes:
			// the driver split the MGET and the pipeline per slot.
			nodes := map[string]bool{}
			for _, id := range ids(1, 40) {
				nodes[conn.NodeOf(d, must(b.Key(id)))] = true
			}
			if len(nodes) < 3 {
				t.Fatalf("the keys of 40 ids are on %d node(s) of the cluster, want 3", len(nodes))
			}
		}

		cd.mgets.Store(0)
		cd.pipelines.Store(0)
		got, err = b.GetMany(ctx, ids(1, 40))
		if err != nil || !cmp.Equal(want(1, 40), got) {
			t.Fatalf("warm GetMany = %v, %v", got, err)
		}
		if len(src.calls()) != 1 || cd.mgets.Load() != 1 || cd.pipelines.Load() != 0 {
			t.Fatalf("a warm GetMany called the loader %d times in all, %d MGETs, %d pipelines; want 1, 1, 0",
				len(src.calls()), cd.mgets.Load(), cd.pipelines.Load())
		}

		// Only the missing ids are asked for, each once even when repeated.
		cd.pipelines.Store(0)
		got, err = b.GetMany(ctx, append(ids(30, 50), 45, 45, 50))
		if err != nil || !cmp.Equal(want(30, 50), got) {
			t.Fatalf("overlapping GetMany = %v, %v", got, err)
		}
		if diff := cmp.Diff([][]int{ids(1, 40), ids(41, 50)}, src.calls()); diff != "" {
			t.Fatalf("loader calls (-want +got):\n%s", diff)
		}
		if n := cd.pipelines.Load(); n != 1 {
			t.Fatalf("a GetMany of 10 missing ids stored with %d pipelines, want 1", n)
		}
		if v, err := b.Get(ctx, 7); err != nil || v != "v7" {
			t.Fatalf("Get(7) = %q, %v", v, err)
		}
		if s := b.Stats(); s.Loads != 2 || s.Hits != 40+11+1 || s.Misses != 50 {
			t.Fatalf("stats = %+v; want 2 loads, 52 hits, 50 misses", s)
		}

		// The entries are Memoize's: a function memoized one id at a
		// time under the same name (another process) hits them, and the
		// batch hits what it stores.
		var single counter
		one := core.Memoize(newBatchManager(t, d, prefix), "users", func(_ context.Context, id int) (string, error) {
			single.inc()
			return fmt.Sprintf("single%d", id), nil
		})
		for _, id := range []int{1, 25, 50} {
			if v, err := one.Get(ctx, id); err != nil || v != fmt.Sprintf("v%d", id) {
				t.Fatalf("Memoize.Get(%d) = %q, %v; want the batch's entry", id, v, err)
			}
			if k, _ := one.Key(id); k != must(b.Key(id)) {
				t.Fatalf("keys differ: %q and %q", k, must(b.Key(id)))
			}
		}
		if v, err := one.Get(ctx, 200); err != nil || v != "single200" {
			t.Fatal(v, err)
		}
		if single.n() != 1 {
			t.Fatalf("Memoize loaded %d times, want once (id 200)", single.n())
		}
		got, err = b.GetMany(ctx, []int{200, 1})
		if err != nil || !cmp.Equal(map[int]string{1: "v1", 200: "single200"}, got) {
			t.Fatalf("GetMany over Memoize's entry = %v, %v", got, err)
		}
		if len(src.calls()) != 2 {
			t.Fatalf("the batch loader ran for an entry Memoize stored: %v", src.calls())
		}
	})
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// An id the loader does not return is a miss, asked for again next
// time, or, with negative caching, a negative entry that keeps it from
// being asked for until it expires.
func TestBatchPartialResults(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		for _, neg := range []bool{false, true} {
			t.Run(fmt.Sprintf("negative=%v", neg), func(t *testing.T) {
				ctx := testCtx(t)
				src := newBatchSource(10)
				src.set(3, "")
				src.set(7, "")
				var opts []core.Option
				if neg {
					opts = append(opts, core.WithNegativeCaching(time.Minute))
				}
				b := core.MemoizeBatch(newBatchManager(t, d, uniquePrefix(t)), "partial", src.load, opts...)
				wantVals := want(1, 10)
				delete(wantVals, 3)
				delete(wantVals, 7)
				for i := 0; i < 2; i++ {
					got, err := b.GetMany(ctx, ids(1, 10))
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(wantVals, got); diff != "" {
						t.Fatalf("call %d (-want +got):\n%s", i, diff)
					}
				}
				wantCalls := [][]int{ids(1, 10), {3, 7}}
				if neg {
					wantCalls = wantCalls[:1]
				}
				if diff := cmp.Diff(wantCalls, src.calls()); diff != "" {
					t.Fatalf("loader calls (-want +got):\n%s", diff)
				}
				if _, err := b.Get(ctx, 3); !errors.Is(err, core.ErrNotFound) {
					t.Fatalf("Get of an id the loader left out: %v, want ErrNotFound", err)
				}
				if neg && len(src.calls()) != 1 {
					t.Fatalf("negative entry not used by Get: %v", src.calls())
				}
				// Once the source has it, an invalidation brings it in.
				src.set(3, "v3")
				if err := b.Invalidate(ctx, 3); err != nil {
					t.Fatal(err)
				}
				if v, err := b.Get(ctx, 3); err != nil || v != "v3" {
					t.Fatalf("Get(3) after Invalidate = %q, %v", v, err)
				}
			})
		}
	})
}

// Overlapping batches: the ids a batch in flight is fetching are not
// asked for again; each call's answer is assembled from both loads.
func TestBatchDedupAcrossOverlappingBatches(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		src := newBatchSource(100)
		b := core.MemoizeBatch(newBatchManager(t, d, uniquePrefix(t)), "dedup", src.load)
		src.hold.Store(true)
		type result struct {
			got map[int]string
			err error
		}
		first := make(chan result, 1)
		go func() {
			got, err := b.GetMany(ctx, ids(1, 60))
			first <- result{got, err}
		}()
		<-src.started // the first batch's load is in flight
		var wg sync.WaitGroup
		results := make([]result, 4)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := b.GetMany(ctx, ids(41+10*i, 80+10*i)) // 41..80, 51..90, 61..100, 71..110
				results[i] = result{got, err}
			}()
		}
		// The later batches wait for the first one's ids 41..60: their own
		// loads of the others may run meanwhile.
		eventually(t, "the later batches to join", func() bool {
			n := 0
			for _, c := range src.calls()[1:] {
				n += len(c)
			}
			return n >= 50 // 61..110 are not in the first batch
		})
		close(src.release)
		r := <-first
		if r.err != nil || !cmp.Equal(want(1, 60), r.got) {
			t.Fatalf("first batch = %v, %v", r.got, r.err)
		}
		wg.Wait()
		for i, r := range results {
			w := want(41+10*i, 80+10*i)
			for id := 101; id <= 110; id++ {
				delete(w, id) // not in the source: left out
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			if diff := cmp.Diff(w, r.got); diff != "" {
				t.Fatalf("batch %d (-want +got):\n%s", i, diff)
			}
		}
		asked := map[int]int{}
		for _, c := range src.calls() {
			for _, id := range c {
				asked[id]++
			}
		}
		for id, n := range asked {
			if n != 1 {
				t.Fatalf("id %d was asked for %d times: %v", id, n, src.calls())
			}
		}
		if len(asked) != 110 {
			t.Fatalf("%d ids asked, want 110", len(asked))
		}
		t.Logf("5 overlapping batches of 60, 40, 40, 40, 40 ids (110 distinct): %d loader calls, %d ids asked",
			len(src.calls()), src.idsAsked())
	})
}

// A batch whose context ends leaves its loads to the batches that share
// their ids: their loader goes on, with a live context, and they get
// their values.
func TestBatchCancelDoesNotBreakAnother(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		src := newBatchSource(20)
		b := core.MemoizeBatch(newBatchManager(t, d, uniquePrefix(t)), "cancel", src.load)
		src.hold.Store(true)
		actx, cancel := context.WithCancel(ctx)
		aDone := make(chan error, 1)
		go func() {
			_, err := b.GetMany(actx, ids(1, 10))
			aDone <- err
		}()
		<-src.started
		bDone := make(chan map[int]string, 1)
		go func() {
			got, err := b.GetMany(ctx, ids(5, 15))
			if err != nil {
				t.Error(err)
			}
			bDone <- got
		}()
		eventually(t, "the second batch to load its own ids", func() bool { return len(src.calls()) == 2 })
		// The second batch waits for 5..10 now (it asked only 11..15);
		// the first one leaves.
		cancel()
		if err := <-aDone; !errors.Is(err, context.Canceled) {
			t.Fatalf("the cancelled batch returned %v", err)
		}
		time.Sleep(20 * time.Millisecond) // a cancel of the shared load would land now
		src.mu.Lock()
		lctx := src.ctxs[0]
		src.mu.Unlock()
		if lctx.Err() != nil {
			t.Fatalf("the shared load's context ended with the batch that left: %v", lctx.Err())
		}
		close(src.release)
		if got := <-bDone; !cmp.Equal(want(5, 15), got) {
			t.Fatalf("second batch = %v", got)
		}
		if diff := cmp.Diff([][]int{ids(1, 10), ids(11, 15)}, src.calls()); diff != "" {
			t.Fatalf("loader calls (-want +got):\n%s", diff)
		}
	})
}

// A load that fails, or panics, gives its error to every batch waiting
// for any of its ids; nothing is stored.
func TestBatchLoaderErrorReachesEveryWaiter(t *testing.T) {
	boom := errors.New("source down")
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		for _, mode := range []string{"error", "panic"} {
			t.Run(mode, func(t *testing.T) {
				ctx := testCtx(t)
				src := newBatchSource(20)
				b := core.MemoizeBatch(newBatchManager(t, d, uniquePrefix(t)), "fail", src.load)
				src.hold.Store(true)
				errs := make(chan error, 2)
				go func() {
					_, err := b.GetMany(ctx, ids(1, 10))
					errs <- err
				}()
				<-src.started
				// Fails as the first load does: the joined ids get the
				// first load's error, its own ids its own.
				got := make(chan map[int]string, 1)
				go func() {
					m, err := b.GetMany(ctx, ids(5, 10))
					errs <- err
					got <- m
				}()
				time.Sleep(50 * time.Millisecond) // let it join
				src.mu.Lock()
				if mode == "error" {
					src.err = boom
				} else {
					src.panics = true
				}
				src.mu.Unlock()
				close(src.release)
				for i := 0; i < 2; i++ {
					err := <-errs
					switch {
					case mode == "error" && !errors.Is(err, boom):
						t.Fatalf("batch got %v, want the loader's error", err)
					case mode == "panic" && !errors.Is(err, core.ErrPanic):
						t.Fatalf("batch got %v, want ErrPanic", err)
					}
				}
				if m := <-got; len(m) != 0 {
					t.Fatalf("a failed load answered %v", m)
				}
				if n := len(src.calls()); n != 1 {
					t.Fatalf("the joined batch loaded on its own: %v", src.calls())
				}
				src.mu.Lock()
				src.err, src.panics = nil, false
				src.mu.Unlock()
				if got, err := b.GetMany(ctx, ids(1, 10)); err != nil || !cmp.Equal(want(1, 10), got) {
					t.Fatalf("after the failure: %v, %v (an error must not be cached)", got, err)
				}
			})
		}
	})
}

// The fence: a batch load in flight when some of its ids are
// invalidated (or set, or the whole function invalidated), in this
// process or another, returns its values to its callers but never stores
// over the newer state.
func TestBatchFenceAgainstWritesDuringLoad(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		writes := []struct {
			name    string
			write   func(ctx context.Context, here *core.Batch[int, string], there *core.Memo[int, string]) error
			changed []int // the ids whose new value must show
		}{
			{"Invalidate", func(ctx context.Context, here *core.Batch[int, string], _ *core.Memo[int, string]) error {
				return here.Invalidate(ctx, 2, 4)
			}, []int{2, 4}},
			{"Invalidate other process", func(ctx context.Context, _ *core.Batch[int, string], there *core.Memo[int, string]) error {
				return there.Invalidate(ctx, 2)
			}, []int{2}},
			{"Set other process", func(ctx context.Context, _ *core.Batch[int, string], there *core.Memo[int, string]) error {
				return there.Set(ctx, 3, "new3")
			}, []int{3}},
			{"InvalidateAll", func(ctx context.Context, here *core.Batch[int, string], _ *core.Memo[int, string]) error {
				return here.InvalidateAll(ctx)
			}, []int{1, 2, 3, 4, 5}},
			{"InvalidateAll other process", func(ctx context.Context, _ *core.Batch[int, string], there *core.Memo[int, string]) error {
				return there.InvalidateAll(ctx)
			}, []int{1, 2, 3, 4, 5}},
		}
		for _, w := range writes {
			t.Run(w.name, func(t *testing.T) {
				ctx := testCtx(t)
				prefix := uniquePrefix(t)
				src := newBatchSource(5)
				// The generation is read again at once, so that the other
				// process's InvalidateAll is seen by the next call.
				here := core.MemoizeBatch(newBatchManager(t, d, prefix), "fence", src.load, core.WithGenerationRefresh(0))
				there := core.Memoize(newBatchManager(t, d, prefix), "fence", func(_ context.Context, id int) (string, error) {
					return fmt.Sprintf("new%d", id), nil
				})
				src.hold.Store(true)
				done := make(chan map[int]string, 1)
				go func() {
					got, err := here.GetMany(ctx, ids(1, 5))
					if err != nil {
						t.Error(err)
					}
					done <- got
				}()
				<-src.started
				for id := 1; id <= 5; id++ {
					src.set(id, fmt.Sprintf("new%d", id))
				}
				if err := w.write(ctx, here, there); err != nil {
					t.Fatal(err)
				}
				close(src.release)
				if got := <-done; !cmp.Equal(want(1, 5), got) {
					t.Fatalf("the load in flight returned %v, want its own values", got)
				}
				got, err := here.GetMany(ctx, ids(1, 5))
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range w.changed {
					if got[id] != fmt.Sprintf("new%d", id) {
						t.Fatalf("after %s, id %d = %q: the load in flight undid the write (all: %v)", w.name, id, got[id], got)
					}
				}
				for id := 1; id <= 5; id++ {
					if v, err := there.Get(ctx, id); err != nil || (slices.Contains(w.changed, id) && v != fmt.Sprintf("new%d", id)) {
						t.Fatalf("the other process reads id %d = %q, %v", id, v, err)
					}
				}
			})
		}
	})
}

// Redis down: every id is loaded, nothing is stored, and the trouble is
// reported once per call, not once per id.
func TestBatchRedisDown(t *testing.T) {
	for i, name := range []string{"goredis", "radix"} {
		t.Run(name, func(t *testing.T) {
			p := newProxy(t)
			d := proxiedTargets(t, p)[i].open(t)
			ctx := testCtx(t)
			log := &errorLog{}
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithErrorHandler(log.handler),
				core.WithTimeout(200*time.Millisecond), core.WithBreaker(3, 200*time.Millisecond))
			t.Cleanup(func() { m.Close() })
			src := newBatchSource(50)
			b := core.MemoizeBatch(m, "down", src.load)
			if got, err := b.GetMany(ctx, ids(1, 20)); err != nil || !cmp.Equal(want(1, 20), got) {
				t.Fatalf("healthy: %v, %v", got, err)
			}
			p.set("down")
			for call := 0; call < 6; call++ {
				before := len(log.all())
				got, err := b.GetMany(ctx, ids(1, 50))
				if err != nil || !cmp.Equal(want(1, 50), got) {
					t.Fatalf("Redis down, call %d: %v, %v; want the loader's values", call, got, err)
				}
				redisReports := 0
				for _, err := range log.all()[before:] {
					if !errors.Is(err, core.ErrCircuitOpen) {
						redisReports++
					}
				}
				if redisReports > 1 {
					t.Fatalf("call %d reported %d Redis failures, want at most one: %v", call, redisReports, log.all()[before:])
				}
			}
			if n := len(src.calls()); n != 7 {
				t.Fatalf("%d loader calls, want 7 (one per call)", n)
			}
			for _, c := range src.calls()[1:] {
				if !cmp.Equal(ids(1, 50), c) {
					t.Fatalf("a call with Redis down asked %v, want every id", c)
				}
			}
			if s := m.Stats(); s.RedisErrors == 0 || s.Breaker != core.BreakerOpen {
				t.Fatalf("stats = %+v", s)
			}
			p.set("up")
			eventually(t, "hits once Redis is back", func() bool {
				before := len(src.calls())
				_, err1 := b.GetMany(ctx, ids(1, 50))
				got, err2 := b.GetMany(ctx, ids(1, 50))
				return err1 == nil && err2 == nil && cmp.Equal(want(1, 50), got) && len(src.calls()) <= before+1
			})
		})
	}
}

// Redis restarts between batches (and loses every entry, tombstone and
// generation key): no batch returns a value from before an invalidation,
// and hits come back.
func TestBatchRedisRestartBetweenBatches(t *testing.T) {
	for _, kind := range driverKinds {
		t.Run(kind.name, func(t *testing.T) {
			r := conntest.StartRedis(t)
			d := kind.open(t, "redis://"+r.Addr())
			ctx := testCtx(t)
			prefix := uniquePrefix(t)
			src := newBatchSource(30)
			b := core.MemoizeBatch(newBatchManager(t, d, prefix, core.WithTimeout(time.Second)), "restart", src.load)
			if got, err := b.GetMany(ctx, ids(1, 30)); err != nil || !cmp.Equal(want(1, 30), got) {
				t.Fatalf("before: %v, %v", got, err)
			}
			r.Restart()
			for id := 1; id <= 30; id++ {
				src.set(id, fmt.Sprintf("after%d", id))
			}
			wantAfter := map[int]string{}
			for id := 1; id <= 30; id++ {
				wantAfter[id] = fmt.Sprintf("after%d", id)
			}
			// The restart lost the entries: every call returns the new
			// values, never the ones from before.
			eventually(t, "hits after the restart", func() bool {
				before := len(src.calls())
				got, err := b.GetMany(ctx, ids(1, 30))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(wantAfter, got); diff != "" {
					t.Fatalf("after the restart (-want +got):\n%s", diff)
				}
				return len(src.calls()) == before
			})
		})
	}
}

// Each id of a batch goes through the near cache, the tags and the
// generation as a single Get does.
func TestBatchNearCacheAndTags(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		cd := &countDriver{Driver: d}
		src := newBatchSource(20)
		m := newBatchManager(t, cd, uniquePrefix(t), core.WithNearCache(1000, time.Minute))
		b := core.MemoizeBatch(m, "near", src.load, core.WithTags("users"))
		if _, err := b.GetMany(ctx, ids(1, 20)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the near cache to serve", func() bool { return m.Stats().NearActive })
		if _, err := b.GetMany(ctx, ids(1, 20)); err != nil {
			t.Fatal(err)
		}
		mgets := cd.mgets.Load()
		got, err := b.GetMany(ctx, ids(1, 20))
		if err != nil || !cmp.Equal(want(1, 20), got) {
			t.Fatalf("near GetMany = %v, %v", got, err)
		}
		if cd.mgets.Load() != mgets || b.Stats().NearHits < 20 {
			t.Fatalf("a batch of near values went to Redis: %d MGETs, stats %+v", cd.mgets.Load()-mgets, b.Stats())
		}
		src.set(4, "new4")
		if err := b.Invalidate(ctx, 4); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.GetMany(ctx, ids(1, 20)); got[4] != "new4" || got[5] != "v5" {
			t.Fatalf("after Invalidate(4): 4 = %q, 5 = %q", got[4], got[5])
		}
		src.set(5, "new5")
		if err := m.InvalidateTag(ctx, "users"); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.GetMany(ctx, ids(1, 20)); got[5] != "new5" {
			t.Fatalf("after InvalidateTag: 5 = %q", got[5])
		}
		// A call's tags apply to each id.
		src.set(6, "new6")
		if _, err := b.GetMany(ctx, []int{6}, core.Tags("team")); err != nil {
			t.Fatal(err)
		}
		src.set(6, "newer6")
		if err := m.InvalidateTag(ctx, "team"); err != nil {
			t.Fatal(err)
		}
		if v, _ := b.Get(ctx, 6, core.Tags("team")); v != "newer6" {
			t.Fatalf("after InvalidateTag(team): 6 = %q", v)
		}
	})
}

// Stale-while-revalidate: a batch serves its stale ids at once and
// reloads them once, in the background, in one loader call.
func TestBatchStaleWhileRevalidate(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		src := newBatchSource(10)
		b := core.MemoizeBatch(newBatchManager(t, d, uniquePrefix(t)), "swr", src.load,
			core.WithTTL(300*time.Millisecond), core.WithStaleWhileRevalidate(time.Minute))
		if _, err := b.GetMany(ctx, ids(1, 10)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(350 * time.Millisecond)
		for id := 1; id <= 10; id++ {
			src.set(id, fmt.Sprintf("new%d", id))
		}
		got, err := b.GetMany(ctx, ids(1, 10))
		if err != nil || !cmp.Equal(want(1, 10), got) {
			t.Fatalf("stale GetMany = %v, %v; want the stale values", got, err)
		}
		eventually(t, "the background refresh", func() bool {
			got, _ := b.GetMany(ctx, ids(1, 10))
			return got[1] == "new1" && got[10] == "new10"
		})
		if diff := cmp.Diff([][]int{ids(1, 10), ids(1, 10)}, src.calls()[:2]); diff != "" {
			t.Fatalf("loader calls (-want +got):\n%s", diff)
		}
	})
}

// Refresh reloads every id of the call and stores over its own
// tombstones; SkipCache neither reads nor writes the cache.
func TestBatchRefreshAndSkipCache(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		src := newBatchSource(10)
		b := core.MemoizeBatch(newBatchManager(t, d, uniquePrefix(t)), "refresh", src.load)
		if _, err := b.GetMany(ctx, ids(1, 10)); err != nil {
			t.Fatal(err)
		}
		for id := 1; id <= 10; id++ {
			src.set(id, fmt.Sprintf("new%d", id))
		}
		got, err := b.GetMany(ctx, ids(1, 5), core.SkipCache())
		if err != nil || got[1] != "new1" {
			t.Fatalf("SkipCache = %v, %v", got, err)
		}
		if got, _ := b.GetMany(ctx, ids(1, 5)); got[1] != "v1" {
			t.Fatalf("SkipCache wrote the cache: %v", got)
		}
		got, err = b.GetMany(ctx, ids(1, 5), core.Refresh())
		if err != nil || got[1] != "new1" || got[5] != "new5" {
			t.Fatalf("Refresh = %v, %v", got, err)
		}
		calls := len(src.calls())
		got, err = b.GetMany(ctx, ids(1, 10))
		if err != nil || got[1] != "new1" || got[6] != "v6" {
			t.Fatalf("after Refresh = %v, %v; want 1..5 refreshed, 6..10 as cached", got, err)
		}
		if len(src.calls()) != calls {
			t.Fatalf("the refreshed values were not stored: %v", src.calls())
		}
	})
}

// An Observer hears of a GetMany as of one Get: its start, its loader
// call and Redis steps within it, and its end with the costliest outcome.
func TestBatchObserved(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		log := &eventLog{}
		src := newBatchSource(10)
		b := core.MemoizeBatch(newBatchManager(t, d, uniquePrefix(t), core.WithObserver(log)), "observed", src.load)
		if _, err := b.GetMany(ctx, ids(1, 10)); err != nil {
			t.Fatal(err)
		}
		want := []string{
			`get.start under ""`,
			`redis.start load under "get observed"`,
			`redis.end load err=<nil>`,
			`load.start under "get observed"`,
			`load.end err=<nil> in "load observed"`,
			`redis.start save under "get observed"`,
			`redis.end save err=<nil>`,
			`get.end miss err=<nil> in "get observed"`,
		}
		if got := log.all(); !inOrder(got, want) {
			t.Fatalf("a cold GetMany told:\n%s\nwant in order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		log.reset()
		if _, err := b.GetMany(ctx, ids(1, 10)); err != nil {
			t.Fatal(err)
		}
		if got := log.all(); !inOrder(got, []string{`get.start under ""`, `get.end hit err=<nil> in "get observed"`}) ||
			slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "load.") }) {
			t.Fatalf("a warm GetMany told:\n%s", strings.Join(got, "\n"))
		}
	})
}

// Redis restarts (losing the tombstone, the entries and the generation
// key) while a batch load is in flight, after another process
// invalidated one of its ids: the load stores nothing from before the
// invalidation, and no later call returns it.
func TestBatchRestartDuringLoad(t *testing.T) {
	for _, kind := range driverKinds {
		t.Run(kind.name, func(t *testing.T) {
			r := conntest.StartRedis(t)
			d := kind.open(t, "redis://"+r.Addr())
			ctx := testCtx(t)
			prefix := uniquePrefix(t)
			src := newBatchSource(5)
			here := core.MemoizeBatch(newBatchManager(t, d, prefix, core.WithTimeout(time.Second)), "restart", src.load)
			there := core.Memoize(newBatchManager(t, d, prefix, core.WithTimeout(time.Second)), "restart",
				func(_ context.Context, id int) (string, error) { return fmt.Sprintf("new%d", id), nil })
			src.hold.Store(true)
			done := make(chan map[int]string, 1)
			go func() {
				got, _ := here.GetMany(ctx, ids(1, 5))
				done <- got
			}()
			<-src.started
			for id := 1; id <= 5; id++ {
				src.set(id, fmt.Sprintf("new%d", id))
			}
			if err := there.Invalidate(ctx, 2); err != nil {
				t.Fatal(err)
			}
			r.Restart()
			close(src.release)
			if got := <-done; !cmp.Equal(want(1, 5), got) {
				t.Fatalf("the load in flight returned %v, want its own values", got)
			}
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				got, err := here.GetMany(ctx, ids(1, 5))
				if err != nil {
					t.Fatal(err)
				}
				if got[2] != "new2" {
					t.Fatalf("after the restart, id 2 = %q: the load from before the invalidation was stored", got[2])
				}
				if v, err := there.Get(ctx, 2); err != nil || v != "new2" {
					t.Fatalf("the other process reads id 2 = %q, %v", v, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
