package tests_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// The tag soak: two processes read zipf-distributed keys from 16
// goroutines, each key tagged with a tag of its own and a tag shared by
// all, while both processes change the source and invalidate by tag.
// Every value a Get returns must be at least as new as the last
// invalidation of its key that this process's InvalidateTag returned
// before the Get began (another process's is seen within the generation
// refresh interval, as for InvalidateAll), and never newer than the
// source: no load in flight outlives a tag invalidation.
func TestTagSoak(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		const keys = 8
		var source [keys]atomic.Int64
		var done [2][keys]atomic.Int64 // per process: the version every later read of it must see
		var writeMu [keys]sync.Mutex
		load := func(_ context.Context, k int) (int64, error) {
			v := source[k].Load()
			if rand.IntN(4) == 0 {
				time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // widen the race
			}
			return v, nil
		}
		prefix := uniquePrefix(t)
		var managers [2]*core.Manager
		var procs [2]*core.Memo[int, int64]
		for i := range procs {
			managers[i] = core.New(core.WithDriver(d), core.WithTimeout(time.Second), core.WithPrefix(prefix),
				core.WithTags("all"))
			procs[i] = core.Memoize(managers[i], "tagsoak", load)
		}
		t.Cleanup(func() {
			for _, m := range managers {
				m.Close()
			}
		})
		keyTag := func(k int) core.CallOption { return core.Tags("key:" + strconv.Itoa(k)) }
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
		var reads, writes, wrong, retries atomic.Int64
		for g := 0; g < 16; g++ {
			i := g % 2
			wg.Add(1)
			go func() {
				defer wg.Done()
				z := rand.NewZipf(rand.New(rand.NewPCG(rand.Uint64(), 1)), 1.2, 1, keys-1)
				for ctx.Err() == nil {
					k := int(z.Uint64())
					floor := done[i][k].Load()
					v, err := procs[i].Get(context.Background(), k, keyTag(k))
					if err != nil {
						t.Errorf("Get(%d): %v", k, err)
						return
					}
					reads.Add(1)
					if v < floor || v > source[k].Load() {
						if wrong.Add(1) <= 5 {
							t.Errorf("process %d: Get(%d) = version %d, but an InvalidateTag after version %d had returned before it began", i, k, v, floor)
						}
					}
				}
			}()
		}
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					k := rand.IntN(keys)
					tag := "key:" + strconv.Itoa(k)
					shared := rand.IntN(8) == 0
					if shared {
						tag = "all"
					}
					writeMu[k].Lock()
					n := source[k].Add(1)
					// A bump that timed out may or may not have landed:
					// bump again (a second bump is harmless) until one is
					// acknowledged. On a machine starved of CPU the
					// in-memory driver, whose lock every reader takes, can
					// hold a bump past the Manager's 1 s timeout.
					var err error
					for try := 0; try < 5; try++ {
						if err = managers[w].InvalidateTag(context.Background(), tag); err == nil {
							break
						}
						retries.Add(1)
					}
					writeMu[k].Unlock()
					if err != nil {
						t.Errorf("InvalidateTag(%s), 5 times: %v", tag, err)
						return
					}
					raise(&done[w][k], n)
					writes.Add(1)
					time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
				}
			}()
		}
		wg.Wait()
		t.Logf("%d reads, %d tag invalidations (%d timed out and were sent again), %d wrong", reads.Load(), writes.Load(), retries.Load(), wrong.Load())
		if reads.Load() == 0 || writes.Load() == 0 {
			t.Fatal("the soak did nothing")
		}
	})
}
