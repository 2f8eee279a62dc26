package tests_test

import (
	"context"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// soakDuration is how long each consistency soak runs: short by default,
// REDCACHE_SOAK=10m on demand.
func soakDuration(t *testing.T) time.Duration {
	if s := os.Getenv("REDCACHE_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("REDCACHE_SOAK=%q: %v", s, err)
		}
		return d
	}
	if testing.Short() {
		return 300 * time.Millisecond
	}
	return 1500 * time.Millisecond
}

// The consistency soak: two processes read zipf-distributed keys from 32
// goroutines while both invalidate and set them. Every value a Get returns
// must be at least as new as the last write of its key that returned
// before the Get began, in either process: no load in flight undoes a
// write, and no caller gets a load from before a write it could see.
func TestConsistencySoak(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		runSoak(t, d, nil)
	})
	for _, kind := range driverKinds {
		t.Run(kind.name+"/restarts", func(t *testing.T) {
			r := conntest.StartRedis(t)
			d := kind.open(t, "redis://"+r.Addr())
			runSoak(t, d, r)
		})
	}
}

func runSoak(t *testing.T, d conn.Driver, restarts *conntest.Process) {
	const keys = 16
	var source, done [keys]atomic.Int64 // the source's version; the version every later read must see
	// Writers of one key take turns, as an application updating a row and
	// its cache in one transaction does: two concurrent Sets of one key
	// land in Redis in either order, which no cache can settle.
	var writeMu [keys]sync.Mutex
	// superseded[k][v] is when version v of key k stopped being the
	// source's (in restart mode only).
	var supMu sync.Mutex
	superseded := make([]map[int64]time.Time, keys)
	for k := range superseded {
		superseded[k] = map[int64]time.Time{}
	}
	prefix := uniquePrefix(t)
	var loads atomic.Int64
	load := func(_ context.Context, k int) (int64, error) {
		loads.Add(1)
		v := source[k].Load()
		if rand.IntN(4) == 0 {
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // widen the race
		}
		return v, nil
	}
	var procs [2]*core.Memo[int, int64]
	var managers [2]*core.Manager
	for i := range procs {
		managers[i] = core.New(core.WithDriver(d), core.WithTimeout(time.Second), core.WithPrefix(prefix))
		procs[i] = core.Memoize(managers[i], "soak", load)
	}
	defer func() {
		for _, m := range managers {
			m.Close()
		}
	}()
	raise := func(a *atomic.Int64, v int64) {
		for {
			cur := a.Load()
			if v <= cur || a.CompareAndSwap(cur, v) {
				return
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), soakDuration(t))
	defer cancel()
	var wg sync.WaitGroup
	var reads, writes, wrong, late, lateMax atomic.Int64
	for g := 0; g < 32; g++ {
		p := procs[g%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			z := rand.NewZipf(rand.New(rand.NewPCG(rand.Uint64(), 1)), 1.2, 1, keys-1)
			for ctx.Err() == nil {
				k := int(z.Uint64())
				floor := done[k].Load()
				began := time.Now()
				v, err := p.Get(context.Background(), k)
				if err != nil {
					t.Errorf("Get(%d): %v", k, err)
					return
				}
				reads.Add(1)
				if v < floor && restarts != nil {
					// While Redis is unreachable or was just emptied, a call
					// cannot see other processes' writes: it may join a load
					// in flight, which began at most a read timeout and a
					// load before it. Older than that is wrong.
					supMu.Lock()
					at := superseded[k][v]
					supMu.Unlock()
					if age := began.Sub(at); age < 1500*time.Millisecond {
						late.Add(1)
						raise(&lateMax, int64(age))
						continue
					}
				}
				if v < floor || v > source[k].Load() {
					if wrong.Add(1) <= 5 {
						t.Errorf("Get(%d) = version %d, but a write of version %d had returned before it began", k, v, floor)
					}
				}
			}
		}()
	}
	for w := 0; w < 2; w++ {
		p := procs[w]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				k := rand.IntN(keys)
				writeMu[k].Lock()
				n := source[k].Add(1)
				if restarts != nil {
					supMu.Lock()
					superseded[k][n-1] = time.Now()
					supMu.Unlock()
				}
				var err error
				if rand.IntN(2) == 0 {
					err = p.Invalidate(context.Background(), k)
				} else {
					err = p.Set(context.Background(), k, n)
				}
				if err == nil {
					raise(&done[k], n)
					writes.Add(1)
				}
				writeMu[k].Unlock()
				if err != nil && restarts == nil {
					t.Errorf("write: %v", err)
					return
				}
				time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
			}
		}()
	}
	if restarts != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(200+rand.IntN(400)) * time.Millisecond):
				}
				restarts.Restart()
			}
		}()
	}
	wg.Wait()
	fenced := managers[0].Stats().FencedStores + managers[1].Stats().FencedStores
	t.Logf("%d reads, %d writes, %d loads, %d fenced stores, %d wrong values, %d values from a load in flight during a restart (superseded at most %v before the call)",
		reads.Load(), writes.Load(), loads.Load(), fenced, wrong.Load(), late.Load(), time.Duration(lateMax.Load()))
	if reads.Load() == 0 || writes.Load() == 0 {
		t.Fatal("the soak made no reads or no writes")
	}
}
