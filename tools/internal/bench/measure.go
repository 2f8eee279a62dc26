package bench

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// result is what one subject did in one workload, summed over rounds.
type result struct {
	ops      int64
	errs     int64
	firstErr error
	elapsed  time.Duration
	mallocs  uint64
	cpu      time.Duration   // the process's CPU time (0: not measured)
	lat      []time.Duration // a sample of per-op latencies; sorted by finish
	loads    int64           // loader calls, where the workload counts them
	rates    []float64       // ops/s of each round
	cpus     []float64       // CPU nanoseconds per op of each round (measured rounds only)
}

func (r *result) merge(o result) {
	r.ops += o.ops
	r.errs += o.errs
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
	r.elapsed += o.elapsed
	r.mallocs += o.mallocs
	r.cpu += o.cpu
	r.lat = append(r.lat, o.lat...)
	r.loads += o.loads
	r.rates = append(r.rates, o.opsPerSecRun())
	if o.cpu > 0 && o.ops > 0 {
		r.cpus = append(r.cpus, float64(o.cpu)/float64(o.ops))
	}
}

// finish sorts the latency sample.
func (r *result) finish() { slices.Sort(r.lat) }

// opsPerSecRun is the rate of one run.
func (r *result) opsPerSecRun() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

// opsPerSec is the median of the rounds' rates: on a shared machine a
// burst of someone else's work spoils a round or two, and the median
// leaves them out where a total would average them in. With fewer than
// three rounds it is the overall rate.
func (r *result) opsPerSec() float64 {
	if len(r.rates) < 3 {
		return r.opsPerSecRun()
	}
	return median(r.rates)
}

// cpuPerOp is the process's CPU time per operation: the client side's
// cost, which the wake-up latency of a round trip does not blur. As
// opsPerSec, it is the median of the rounds' figures, so that a round in
// which the machine's other work slowed every thread (more preemption,
// colder caches, more wake-ups) does not weigh on it; with fewer than
// three rounds it is the overall figure.
func (r *result) cpuPerOp() time.Duration {
	if r.ops == 0 {
		return 0
	}
	if len(r.cpus) >= 3 {
		return time.Duration(median(r.cpus))
	}
	return r.cpu / time.Duration(r.ops)
}

// median returns the median of xs (not empty), leaving xs as it is.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[n/2]
}

func (r *result) allocsPerOp() float64 {
	if r.ops == 0 {
		return 0
	}
	return float64(r.mallocs) / float64(r.ops)
}

// percentile returns the p-th percentile (0 < p < 100) of the sorted
// latency sample, by the nearest-rank method.
func (r *result) percentile(p float64) time.Duration {
	n := len(r.lat)
	if n == 0 {
		return 0
	}
	i := int(p/100*float64(n)+0.5) - 1
	return r.lat[min(max(i, 0), n-1)]
}

// worker is the state of one load-generating goroutine.
type worker struct {
	id   int
	n    int64      // operations this worker has done in the run
	rng  *rand.Rand // for the workload's choices
	zipf *rand.Zipf // set up by workloads that use it
}

// runSpec is one timed run of an operation.
type runSpec struct {
	workers int
	dur     time.Duration
	maxOps  int64
	samples int // latency samples kept, over all workers
	seed    uint64
	setup   func(w *worker) // optional, per worker, before the clock starts
	op      func(w *worker) error
}

// measure runs spec.op from spec.workers goroutines until spec.dur has
// passed or spec.maxOps operations were done, whichever comes first, or
// stop ends. It times every operation and keeps a uniform sample of the
// times (reservoir sampling per worker); allocations are the process's
// Mallocs delta, read with the world stopped before and after.
func measure(stop context.Context, spec runSpec) result {
	workers := max(spec.workers, 1)
	perWorker := max(spec.samples/workers, 16)
	ws := make([]*worker, workers)
	lats := make([][]time.Duration, workers)
	res := make([]result, workers)
	samplers := make([]*rand.Rand, workers)
	for i := range ws {
		ws[i] = &worker{id: i, rng: rand.New(rand.NewPCG(spec.seed, uint64(i)))}
		if spec.setup != nil {
			spec.setup(ws[i])
		}
		lats[i] = make([]time.Duration, 0, perWorker)
		samplers[i] = rand.New(rand.NewPCG(spec.seed^0xabcdef, uint64(i)))
	}
	var budget atomic.Int64
	budget.Store(max(spec.maxOps, 1))
	var wg sync.WaitGroup
	wg.Add(workers)
	begin := make(chan struct{})
	for i := range ws {
		go func() {
			defer wg.Done()
			w, lat, r, smp := ws[i], lats[i], &res[i], samplers[i]
			<-begin
			deadline := time.Now().Add(spec.dur)
			for budget.Add(-1) >= 0 {
				t0 := time.Now()
				err := spec.op(w)
				t1 := time.Now()
				w.n++
				r.ops++
				if err != nil {
					if r.errs == 0 {
						r.firstErr = err
					}
					r.errs++
				}
				d := t1.Sub(t0)
				if len(lat) < cap(lat) {
					lat = append(lat, d)
				} else if j := smp.Int64N(r.ops); j < int64(len(lat)) {
					lat[j] = d
				}
				if t1.After(deadline) || stop.Err() != nil {
					break
				}
			}
			lats[i] = lat
		}()
	}
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

	total := result{elapsed: elapsed, mallocs: m1.Mallocs - m0.Mallocs, cpu: cpu}
	for i := range res {
		total.ops += res[i].ops
		total.errs += res[i].errs
		if total.firstErr == nil {
			total.firstErr = res[i].firstErr
		}
		total.lat = append(total.lat, lats[i]...)
	}
	return total
}
