package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// zipfReads measures skewed reads: 64 goroutines read keys drawn from a
// Zipf distribution over e.p.zipfKeys keys, after a warm-up that reads the
// same distribution, so that the hot keys are cached in Redis and the
// process caches (redcache's near cache, go-redis/cache's TinyLFU) hold
// what their admission policies keep. Both process caches have room for
// 10,000 values: how many reads they serve from memory is their policy's
// worth.
func zipfReads(e *env) (*Table, error) {
	const id = "zipf64"
	const workers = 64
	libs := []lib{libRCGoRedis, libRCRadix, libRCGoRedisNear, libGoRedisCache, libGoRedisCacheLocal}
	subs := setup(e, id, libs, fixed)
	defer teardown(e, id, subs)
	keys := e.p.zipfKeys
	warmZipf(e, subs, keys, e.p.zipfWarm)

	// go-redis/cache's reads of Redis, counted by a hook on its client:
	// its local cache answered the others.
	redisGets := map[*subjectRun[Product]]*atomic.Int64{}
	for _, s := range subs {
		if g, ok := s.c.(*goRedisCache[Product]); ok && s.lib == libGoRedisCacheLocal {
			n := new(atomic.Int64)
			g.client.AddHook(getCounter{n})
			redisGets[s] = n
		}
	}
	measureAll(e, subs, func(s *subjectRun[Product]) runSpec {
		return runSpec{workers: workers, dur: e.p.runTime, maxOps: e.p.maxOps, samples: e.p.samples,
			setup: func(w *worker) { w.zipf = rand.NewZipf(w.rng, 1.1, 1, uint64(keys-1)) },
			op: func(w *worker) error {
				k := int(w.zipf.Uint64())
				v, err := s.c.Get(context.Background(), k)
				if err == nil && v.ID != int64(k) {
					return errWrongValue
				}
				return err
			}}
	})
	t := &Table{ID: id, Unit: "get",
		Title: fmt.Sprintf("Zipf reads, %s keys, %d goroutines", thousands(float64(keys)), workers),
		What: fmt.Sprintf("Every operation reads a key drawn from a Zipf distribution (math/rand/v2, s=1.1, v=1) over %s keys, through the get-with-loader call; "+
			"before the clock starts each subject reads %s keys of the same distribution, so the keys that matter are in Redis and in the process caches. "+
			"Misses (keys drawn for the first time) load and store, as an application's would.", thousands(float64(keys)), thousands(float64(e.p.zipfWarm))),
		Rows: rows(subs), LoaderHeader: "loads / op"}
	for i, s := range subs {
		r := &t.Rows[i]
		if r.Ops > 0 {
			r.Loader = fmt.Sprintf("%.3f", float64(sum(r.LoaderCalls))/float64(r.Ops))
		}
		if n, ok := redisGets[s]; ok && r.Ops > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%.1f%% of reads from process memory (TinyLFU)", 100*(1-float64(n.Load())/float64(r.Ops))))
		}
		if rc, ok := s.c.(*rcCacher[Product]); ok && rc.near && r.Ops > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%.1f%% of reads from process memory (near cache)", 100*float64(s.nearHits)/float64(r.Ops)))
		}
	}
	t.Notes = append(t.Notes,
		"The process caches hold at most 10,000 values each: redcache's near cache admits by W-TinyLFU, go-redis/cache's local cache is a TinyLFU. "+
			"The share of reads each serves from memory is in its notes: the rest go to Redis.")
	return t, nil
}

// warmZipf reads n keys of the Zipf distribution through each subject,
// on 8 goroutines, before the clock starts.
func warmZipf(e *env, subs []*subjectRun[Product], keys, n int) {
	warm(e, subs, func(ctx context.Context, s *subjectRun[Product]) error {
		if rc, ok := s.c.(*rcCacher[Product]); ok && rc.near {
			// A first call starts the near cache's subscription.
			if _, err := s.c.Get(ctx, 0); err != nil {
				return err
			}
			if err := waitNear(ctx, rc); err != nil {
				return err
			}
		}
		const goroutines = 8
		errs := make(chan error, goroutines)
		for g := range goroutines {
			go func() {
				z := rand.NewZipf(rand.New(rand.NewPCG(uint64(g), 7)), 1.1, 1, uint64(keys-1))
				for range n / goroutines {
					k := int(z.Uint64())
					v, err := s.c.Get(ctx, k)
					if err == nil && v.ID != int64(k) {
						err = errWrongValue
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		var first error
		for range goroutines {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	})
}

// getCounter is a go-redis hook that counts the GETs a client sends.
type getCounter struct{ n *atomic.Int64 }

func (getCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c getCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.EqualFold(cmd.Name(), "get") {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c getCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if strings.EqualFold(cmd.Name(), "get") {
				c.n.Add(1)
			}
		}
		return next(ctx, cmds)
	}
}
