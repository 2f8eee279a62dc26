package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/core"
)

// errWrongValue is returned by an operation that got a value for another
// key: a harness that counted it would publish a fast wrong cache.
var errWrongValue = errors.New("bench: wrong value returned")

// subjectRun is one subject of a workload while it is measured.
type subjectRun[V any] struct {
	lib   lib
	c     cacher[V]
	loads atomic.Int64 // loader calls, counted by the wrapped loader
	res   result
	err   error // the subject could not be set up or warmed
	perRn []int64
	// redcache's own account of trouble during the measured runs
	redisErrs, bypassed, corrupt uint64
	hits, nearHits               uint64
}

// setup builds every subject of a workload in front of load, each under
// its own key prefix.
func setup[V any](e *env, workload string, libs []lib, load loader[V]) []*subjectRun[V] {
	subs := make([]*subjectRun[V], 0, len(libs))
	for _, l := range libs {
		s := &subjectRun[V]{lib: l}
		counted := func(ctx context.Context, id int) (V, error) {
			s.loads.Add(1)
			return load(ctx, id)
		}
		ctx, cancel := context.WithTimeout(e.stop, 10*time.Second)
		s.c, s.err = build(ctx, e, l, e.ns(workload, l), counted)
		cancel()
		subs = append(subs, s)
	}
	return subs
}

// teardown closes every subject and deletes the workload's keys.
func teardown[V any](e *env, workload string, subs []*subjectRun[V]) {
	for _, s := range subs {
		if s.c != nil {
			_ = s.c.Close()
		}
	}
	e.cleanup(e.prefix + ":" + workload + ":")
}

// warm runs fn for every subject that is set up; a failure takes the
// subject out of the comparison, with the reason in its row.
func warm[V any](e *env, subs []*subjectRun[V], fn func(ctx context.Context, s *subjectRun[V]) error) {
	for _, s := range subs {
		if s.err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(e.stop, 60*time.Second)
		if err := fn(ctx, s); err != nil {
			s.err = fmt.Errorf("warm-up: %w", err)
		}
		cancel()
	}
}

// warmIDs gets ids 0..n-1 through the subject, checks the values, and
// waits until every one is in Redis (gocache's loadable cache writes in
// the background).
func warmIDs(e *env, subs []*subjectRun[Product], n int) {
	warm(e, subs, func(ctx context.Context, s *subjectRun[Product]) error {
		for id := range n {
			v, err := s.c.Get(ctx, id)
			if err != nil {
				return err
			}
			if v.ID != int64(id) {
				return errWrongValue
			}
		}
		if g, ok := s.c.(*gocacheCacher[Product]); ok {
			return g.settle(ctx, n)
		}
		if rc, ok := s.c.(*rcCacher[Product]); ok && rc.near {
			// The near cache serves once its subscription is up, and drops
			// what it held when it comes up: read everything again then.
			if err := waitNear(ctx, rc); err != nil {
				return err
			}
			for id := range n {
				if _, err := s.c.Get(ctx, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// waitNear waits until rc's near cache serves: its subscription is up.
func waitNear(ctx context.Context, rc *rcCacher[Product]) error {
	for !rc.stats().NearActive {
		select {
		case <-ctx.Done():
			return fmt.Errorf("near cache subscription: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// settle waits until ids 0..n-1 are in Redis.
func (g *gocacheCacher[V]) settle(ctx context.Context, n int) error {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = g.prefix + strconv.Itoa(i)
	}
	for {
		c, err := g.client.Exists(ctx, keys...).Result()
		if err != nil {
			return err
		}
		if c == int64(n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// statser is implemented by redcache's subjects.
type statser interface{ stats() core.Stats }

// measureAll measures every subject in e.p.rounds rounds; each round
// starts with the next subject, so that none is always first or last.
func measureAll[V any](e *env, subs []*subjectRun[V], spec func(s *subjectRun[V]) runSpec) {
	n := len(subs)
	for r := range e.p.rounds {
		for i := range n {
			s := subs[(i+r)%n]
			if s.err != nil || e.stop.Err() != nil {
				continue
			}
			e.logf("   %s (round %d of %d)", s.lib, r+1, e.p.rounds)
			st, _ := s.c.(statser)
			var before core.Stats
			if st != nil {
				before = st.stats()
			}
			l0 := s.loads.Load()
			sp := spec(s)
			sp.seed = uint64(r)<<32 | uint64(i)
			res := measure(e.stop, sp)
			res.loads = s.loads.Load() - l0
			s.perRn = append(s.perRn, res.loads)
			s.res.merge(res)
			if st != nil {
				s.addTrouble(before, st.stats())
			}
		}
	}
}

// addTrouble adds what redcache reported between two snapshots of its
// stats.
func (s *subjectRun[V]) addTrouble(before, after core.Stats) {
	s.redisErrs += after.RedisErrors - before.RedisErrors
	s.bypassed += after.Bypassed - before.Bypassed
	s.corrupt += after.CorruptEntries - before.CorruptEntries
	s.hits += after.Hits - before.Hits
	s.nearHits += after.NearHits - before.NearHits
}

// row turns a subject's results into a report row.
func (s *subjectRun[V]) row() Row {
	info := libInfos[s.lib]
	r := Row{Subject: info.name, Codec: info.codec, Redcache: info.redcache}
	if s.err != nil {
		r.Failed = s.err.Error()
		return r
	}
	s.res.finish()
	r.Ops = s.res.ops
	r.OpsPerSec = s.res.opsPerSec()
	r.P50, r.P99 = s.res.percentile(50), s.res.percentile(99)
	r.AllocsPerOp = s.res.allocsPerOp()
	r.CPUPerOp = s.res.cpuPerOp()
	r.Errors = s.res.errs
	r.LoaderCalls = slices.Clone(s.perRn)
	if s.res.firstErr != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("%d errors, the first: %v", s.res.errs, s.res.firstErr))
	}
	if rc, ok := s.c.(*rcCacher[V]); ok && rc.near && s.hits > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%.1f%% of hits from the near cache", 100*float64(s.nearHits)/float64(s.hits)))
	}
	if s.redisErrs > 0 || s.bypassed > 0 || s.corrupt > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("redcache reported %d Redis errors, %d calls that skipped Redis, %d corrupt entries during the run",
			s.redisErrs, s.bypassed, s.corrupt))
	}
	return r
}

func rows[V any](subs []*subjectRun[V]) []Row {
	out := make([]Row, 0, len(subs))
	for _, s := range subs {
		out = append(out, s.row())
	}
	return out
}

// fixed is the loader of the workloads where loading is not the point:
// it builds the product at once.
func fixed(_ context.Context, id int) (Product, error) { return newProduct(id), nil }

// hitPath measures cache hits: every key is cached before the clock
// starts, and each worker cycles through the keys.
func hitPath(e *env, workers int) (*Table, error) {
	id := fmt.Sprintf("hit%d", workers)
	libs := []lib{libRCGoRedis, libRCRadix, libRCGoRedisNear, libRawGoRedis, libRawRadix, libGoRedisCache, libGoRedisCachePlain, libGoRedisCacheLocal, libGocache}
	if workers == 1 {
		libs = slices.Insert(libs, 3, libRCGoRedisGob, libRCGoRedisCtx)
	}
	subs := setup(e, id, libs, fixed)
	defer teardown(e, id, subs)
	keys := e.p.hitKeys
	warmIDs(e, subs, keys)
	measureAll(e, subs, func(s *subjectRun[Product]) runSpec {
		return runSpec{workers: workers, dur: e.p.runTime, maxOps: e.p.maxOps, samples: e.p.samples,
			op: func(w *worker) error {
				// Uniformly random: workers cycling through the keys in
				// step would fall into lockstep behind a library that
				// coalesces concurrent reads of a key (go-redis/cache's
				// Once), and it would be measured on fewer reads.
				k := w.rng.IntN(keys)
				v, err := s.c.Get(context.Background(), k)
				if err == nil && v.ID != int64(k) {
					return errWrongValue
				}
				return err
			}}
	})
	t := &Table{ID: id, Unit: "get",
		Title: fmt.Sprintf("Hit path, %d goroutine%s", workers, plural(workers)),
		What: fmt.Sprintf("A cached value read by %d goroutine%s: %d keys, all cached before the clock starts, each read a key drawn uniformly at random. "+
			"Every subject is asked through its get-with-loader call (core.Memo.Get, go-redis/cache Once, gocache's loadable Get); "+
			"the raw rows are a GET and a decode, the least any Redis cache can do.", workers, plural(workers), keys),
		Rows: rows(subs)}
	for i := range t.Rows {
		if calls := sum(t.Rows[i].LoaderCalls); calls > 0 && t.Rows[i].Failed == "" {
			t.Rows[i].Notes = append(t.Rows[i].Notes, fmt.Sprintf("%d loader calls during the run: some reads were not hits", calls))
		}
	}
	if workers == 1 {
		t.Notes = append(t.Notes, "The calls use context.Background(). \"cancellable ctx\" is the same redcache call with a cancellable context (as an HTTP handler has), "+
			"whose Redis call redcache bounds with a pooled context and its timer, armed and stopped per call, instead of a context.WithTimeout (four or five allocations).")
		t.Notes = append(t.Notes, "At one goroutine each hit waits for a loopback round trip, most of it the kernel waking the waiting thread, "+
			"slower on an idle virtual machine than on a busy one: across runs on this machine the Redis-backed rows moved together between "+
			"about 20µs and 70µs at p50. A process whose timers fire often is woken sooner: redcache's shared deadline contexts arm a timer every 12.5ms, "+
			"and in a side experiment a raw go-redis client run beside a 12.5ms ticker got faster too (by about 10%, noisily): that is likely part of "+
			"any lead redcache/goredis has over the raw row here. Compare the Redis-backed rows of this table by CPU per get, which wake-ups do not blur, more than by gets/s.")
	}
	t.Notes = append(t.Notes,
		"go-redis/cache s2-compresses every value it stores, which halves this one; \"go-redis/cache, uncompressed\" is the same library storing the same msgpack bytes as redcache and the raw rows, the like-for-like comparison.",
		"redcache/goredis + near cache and go-redis/cache + TinyLFU serve these hits from process memory and do not ask Redis: compare them with each other, not with the Redis reads. "+
			"Both keep 10,000 values for at most a minute; redcache's is kept coherent across processes through pub/sub, go-redis/cache's is not.")
	return t, nil
}

// missFill measures the miss path: every operation asks for a key never
// seen before, so it reads, loads, encodes and writes.
func missFill(e *env) (*Table, error) {
	const id = "miss"
	libs := []lib{libRCGoRedis, libRCRadix, libRawGoRedis, libRawRadix, libGoRedisCache, libGoRedisCacheLocal, libGocache}
	subs := setup(e, id, libs, fixed)
	defer teardown(e, id, subs)
	measureAll(e, subs, func(s *subjectRun[Product]) runSpec {
		var next atomic.Int64
		base := int64(100_000_000) * int64(len(s.perRn)+1)
		return runSpec{workers: 1, dur: e.p.runTime, maxOps: e.p.maxOps, samples: e.p.samples,
			op: func(w *worker) error {
				k := int(base + next.Add(1))
				v, err := s.c.Get(context.Background(), k)
				if err == nil && v.ID != int64(k) {
					return errWrongValue
				}
				return err
			}}
	})
	return &Table{ID: id, Unit: "fill", Title: "Miss and fill, 1 goroutine",
		What: "Each operation asks for a key that is not cached: a read that misses, the loader (which builds the value at once), an encode and a write with a ttl.",
		Rows: rows(subs),
		Notes: []string{
			"eko/gocache's loadable cache writes to Redis on a background goroutine, so its latency leaves the SET out (the SET still costs CPU and allocations, which are counted).",
			"go-redis/cache + TinyLFU also puts each value in its local cache.",
		}}, nil
}

// zipfMix is a read-mostly mix over many keys with a skewed popularity.
func zipfMix(e *env) (*Table, error) {
	const id = "zipf"
	const workers = 16
	libs := []lib{libRCGoRedis, libRCRadix, libRCGoRedisNear, libRawGoRedis, libRawRadix, libGoRedisCache, libGoRedisCacheLocal, libGocache}
	subs := setup(e, id, libs, fixed)
	defer teardown(e, id, subs)
	keys := e.p.zipfKeys
	measureAll(e, subs, func(s *subjectRun[Product]) runSpec {
		return runSpec{workers: workers, dur: e.p.runTime, maxOps: e.p.maxOps, samples: e.p.samples,
			setup: func(w *worker) { w.zipf = rand.NewZipf(w.rng, 1.1, 1, uint64(keys-1)) },
			op: func(w *worker) error {
				k := int(w.zipf.Uint64())
				if w.rng.IntN(10) == 0 {
					return s.c.Invalidate(context.Background(), k)
				}
				v, err := s.c.Get(context.Background(), k)
				if err == nil && v.ID != int64(k) {
					return errWrongValue
				}
				return err
			}}
	})
	t := &Table{ID: id, Unit: "op", Title: fmt.Sprintf("90%% reads, 10%% invalidations, Zipf over %s keys, %d goroutines", thousands(float64(keys)), workers),
		What: fmt.Sprintf("Keys drawn from a Zipf distribution (math/rand/v2, s=1.1, v=1) over %s keys, starting cold. "+
			"A read is a get with a loader; a write invalidates the key (DEL), as an application does when the row changes.", thousands(float64(keys))),
		Rows: rows(subs), LoaderHeader: "loads / op",
		Notes: []string{"go-redis/cache + TinyLFU deletes from its own local cache on invalidation, but the local caches of other processes keep the old value until their ttl (1 minute here): its reads are not coherent across processes. " +
			"redcache's near cache publishes every write and invalidation on a pub/sub channel, which every process with a near cache follows: that costs it a PUBLISH per write."}}
	for i := range t.Rows {
		if r := &t.Rows[i]; r.Ops > 0 {
			r.Loader = fmt.Sprintf("%.3f", float64(sum(r.LoaderCalls))/float64(r.Ops))
		}
	}
	return t, nil
}

// stampede starts e.p.stampedeN goroutines on one cold key whose loader
// takes e.p.stampedeLoad, and counts the loader calls.
func stampede(e *env) (*Table, error) {
	const id = "stampede"
	libs := []lib{libRCGoRedis, libRCRadix, libRawGoRedis, libGoRedisCache, libGoRedisCacheLocal, libGocache}
	slow := func(ctx context.Context, k int) (Product, error) {
		select {
		case <-time.After(e.p.stampedeLoad):
			return newProduct(k), nil
		case <-ctx.Done():
			return Product{}, ctx.Err()
		}
	}
	subs := setup(e, id, libs, slow)
	defer teardown(e, id, subs)
	n := len(subs)
	for r := range e.p.stampedeRuns {
		for i := range n {
			s := subs[(i+r)%n]
			if s.err != nil || e.stop.Err() != nil {
				continue
			}
			e.logf("   %s (stampede %d of %d)", s.lib, r+1, e.p.stampedeRuns)
			st, _ := s.c.(statser)
			var before core.Stats
			if st != nil {
				before = st.stats()
			}
			res := stampedeOnce(e, s, 20_000_000+r)
			s.perRn = append(s.perRn, res.loads)
			s.res.merge(res)
			if st != nil {
				s.addTrouble(before, st.stats())
			}
		}
	}
	t := &Table{ID: id, Unit: "caller", Title: fmt.Sprintf("Stampede: %s goroutines on one cold key, a %v loader", thousands(float64(e.p.stampedeN)), e.p.stampedeLoad),
		What: fmt.Sprintf("%s goroutines are released at once on a key that is not cached; the loader takes %v. "+
			"Each subject runs %d stampede%s, on a new key each time; ops/s is callers served per second of the stampede, latency is each caller's wait. "+
			"The calls carry a cancellable context with a 30s deadline, as requests do.", thousands(float64(e.p.stampedeN)), e.p.stampedeLoad, e.p.stampedeRuns, plural(e.p.stampedeRuns)),
		Rows: rows(subs), LoaderHeader: "loader calls per stampede",
		Notes: []string{
			"raw go-redis has no stampede control: every caller that misses runs the loader, which is what the others exist to prevent.",
			"A known gap, seen in the harness's own test: with 1,000 goroutines under the race detector (every goroutine several times slower), " +
				"redcache made 2 or 3 loader calls in some stampedes where go-redis/cache and gocache made 1. core reads the cache before its singleflight, " +
				"so a caller whose read missed before the leader's write, but that reached the singleflight after the leader had finished, loads again; " +
				"go-redis/cache reads inside its singleflight and gocache keeps the loaded value until it is written. A slow Redis call (past redcache's 100ms timeout) " +
				"has the same effect.",
		}}
	for i := range t.Rows {
		r := &t.Rows[i]
		parts := make([]string, len(r.LoaderCalls))
		for j, c := range r.LoaderCalls {
			parts[j] = strconv.FormatInt(c, 10)
		}
		r.Loader = strings.Join(parts, ", ")
	}
	hit := false
	for _, r := range t.Rows {
		for _, c := range r.LoaderCalls {
			hit = hit || (r.Redcache && c != 1)
		}
	}
	if hit {
		t.Notes[1] += " Some stampedes of this table hit it: see the loader calls column."
	} else {
		t.Notes[1] += " The stampedes of this table did not hit it."
	}
	return t, nil
}

// stampedeOnce runs one stampede on key k.
func stampedeOnce(e *env, s *subjectRun[Product], k int) result {
	n := e.p.stampedeN
	ctx, cancel := context.WithTimeout(e.stop, 30*time.Second)
	defer cancel()
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	wg.Add(n)
	ready.Add(n)
	begin := make(chan struct{})
	for i := range n {
		go func() {
			defer wg.Done()
			ready.Done()
			<-begin
			t0 := time.Now()
			v, err := s.c.Get(ctx, k)
			if err == nil && v.ID != int64(k) {
				err = errWrongValue
			}
			lat[i], errs[i] = time.Since(t0), err
		}()
	}
	ready.Wait()
	l0 := s.loads.Load()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := processCPU()
	start := time.Now()
	close(begin)
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&m1)
	res := result{ops: int64(n), elapsed: elapsed, mallocs: m1.Mallocs - m0.Mallocs, cpu: cpu, lat: lat, loads: s.loads.Load() - l0}
	for _, err := range errs {
		if err != nil {
			if res.errs == 0 {
				res.firstErr = err
			}
			res.errs++
		}
	}
	return res
}

// batch measures reading 100 cached keys at once.
func batch(e *env) (*Table, error) {
	const id = "batch"
	const size = 100
	libs := []lib{libRCGoRedis, libRCRadix, libRawGoRedis, libRawRadix, libGoRedisCache, libGocache}
	subs := setup(e, id, libs, fixed)
	defer teardown(e, id, subs)
	warmIDs(e, subs, size)
	ids := make([]int, size)
	for i := range ids {
		ids[i] = i
	}
	measureAll(e, subs, func(s *subjectRun[Product]) runSpec {
		return runSpec{workers: 1, dur: e.p.runTime, maxOps: e.p.maxOps, samples: e.p.samples,
			op: func(*worker) error { return s.c.GetMany(context.Background(), ids) }}
	})
	t := &Table{ID: id, Unit: "batch", Title: "Batch of 100 keys, 1 goroutine",
		What: "One operation reads 100 cached keys and decodes them. redcache's rows are one `Batch.GetMany` (core.MemoizeBatch: one MGET, " +
			"each entry checked as a Get checks it); go-redis/cache's and gocache's rows are 100 sequential Gets (100 round trips: neither has " +
			"a batch get); the raw rows are one MGET (one round trip) and 100 decodes.",
		Rows: rows(subs)}
	for i := range t.Rows {
		switch libs[i] {
		case libRawGoRedis, libRawRadix:
			t.Rows[i].Subject += " (MGET)"
		case libRCGoRedis, libRCRadix:
			t.Rows[i].Subject += " (GetMany)"
		default:
			t.Rows[i].Subject += " (100 Gets)"
		}
	}
	return t, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func sum(xs []int64) int64 {
	var t int64
	for _, x := range xs {
		t += x
	}
	return t
}
