//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
	"github.com/redis/go-redis/v9"
)

// value is what the memoized function returns: the key's version and the
// function's epoch as the source had them when the loader read them (or as
// the mutator wrote them, for Set), and when.
type value struct {
	Key     int
	Version int64
	Epoch   int64 // math.MaxInt64 for a Set: not held to the epoch
	At      int64 // unix nanoseconds
	Set     bool
}

// Keys in the source Redis.
func verKey(k int) string       { return "ver:" + strconv.Itoa(k) }
func committedKey(k int) string { return "committed:" + strconv.Itoa(k) }
func lockKey(k int) string      { return "lock:" + strconv.Itoa(k) }

// epochKey holds the function's epoch; epochsKey(w) the epochs worker w
// committed, scored by the time of their commit (unix ms).
const epochKey = "epoch"

func epochsKey(worker string) string { return "epochs:" + worker }

// raise sets KEYS[1] to ARGV[1] when that is higher: a committed version
// only moves forward, whichever process commits last.
var raise = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local v = tonumber(ARGV[1])
if v > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`)

// unlock deletes a lock only if it still holds this mutator's token.
var unlock = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// worker is one process's share of the soak.
type worker struct {
	cfg    config
	source *redis.Client
	memo   *core.Memo[int, value]
	r      report

	// What this process committed: its InvalidateAll binds its own calls
	// at once, and the per-key versions are the in-process check (-near).
	localVer   []atomic.Int64
	localEpoch atomic.Int64
	// The other workers, whose InvalidateAll binds this process only
	// after the generation refresh interval.
	peers []string

	mu sync.Mutex
}

func openDriver(ctx context.Context, name, addr string) (conn.Driver, error) {
	url := "redis://" + addr
	if name == "radix" {
		// radix dials in Open: the cache may be down at this moment.
		for {
			d, err := radix.Open(ctx, url)
			if err == nil || ctx.Err() != nil {
				return d, err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return goredis.Open(ctx, url)
}

func runWorker(driver, cacheAddr, sourceAddr string, peers []string, cfg config) int {
	w := &worker{cfg: cfg, localVer: make([]atomic.Int64, cfg.keys)}
	for _, p := range peers {
		if p != driver {
			w.peers = append(w.peers, p)
		}
	}
	w.r.Driver = driver
	base := runtime.NumGoroutine()

	w.source = redis.NewClient(&redis.Options{Addr: sourceAddr, PoolSize: cfg.readers + cfg.mutators + 4})
	octx, ocancel := context.WithTimeout(context.Background(), 15*time.Second)
	d, err := openDriver(octx, driver, cacheAddr)
	ocancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak worker %s: open: %v\n", driver, err)
		return 1
	}
	opts := []core.ManagerOption{
		core.WithDriver(d),
		core.WithPrefix("soak"),
		core.WithTTL(cfg.ttl),
		core.WithTimeout(cfg.timeout),
		core.WithGenerationRefresh(cfg.genRefresh),
	}
	if cfg.near {
		opts = append(opts, core.WithNearCache(cfg.keys, 500*time.Millisecond))
	}
	m := core.New(opts...)
	var loads atomic.Int64
	w.memo = core.Memoize(m, "soak.value", func(ctx context.Context, k int) (value, error) {
		loads.Add(1)
		vs, err := w.source.MGet(ctx, verKey(k), epochKey).Result()
		if err != nil {
			return value{}, err
		}
		return value{Key: k, Version: toInt(vs[0]), Epoch: toInt(vs[1]), At: time.Now().UnixNano()}, nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration)
	var wg sync.WaitGroup
	for i := 0; i < cfg.readers; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			w.read(ctx, seed)
		}(cfg.seed*1000 + uint64(i))
	}
	for i := 0; i < cfg.mutators; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			w.mutate(ctx, seed)
		}(cfg.seed*1000 + 500 + uint64(i))
	}
	wg.Wait()
	cancel()
	w.r.Loads = loads.Load()
	w.r.Hits = m.Stats().Hits

	// Everything closed, the goroutine count must come back to where it
	// was before the driver was opened.
	closed := make(chan struct{})
	go func() {
		_ = m.Close()
		_ = d.Close()
		_ = w.source.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		fmt.Fprintf(os.Stderr, "soak worker %s: Close did not return within 10 s\n", driver)
		w.r.Leaked = -1
	}
	if w.r.Leaked == 0 {
		deadline := time.Now().Add(5 * time.Second)
		n := runtime.NumGoroutine()
		for n > base && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		if n > base {
			w.r.Leaked = n - base
			buf := make([]byte, 1<<20)
			fmt.Fprintf(os.Stderr, "soak worker %s: %d goroutines left:\n%s\n", driver, n-base, buf[:runtime.Stack(buf, true)])
		}
	}
	b, _ := json.Marshal(w.r)
	fmt.Println(string(b))
	if w.r.wrong() > 0 || w.r.Leaked != 0 {
		return 1
	}
	return 0
}

func toInt(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func (w *worker) count(f func(r *report)) {
	w.mu.Lock()
	f(&w.r)
	w.mu.Unlock()
}

// committed returns the key's committed version and the epoch a value
// must have been loaded in at least. The version is every process's (read
// from the source), or, with a near cache, this process's own. The epoch is
// the highest of this process's InvalidateAll and of those the other
// processes committed longer than the generation refresh interval (plus a
// timeout for the refresh's read) ago: how long InvalidateAll may take to
// reach another process, as WithGenerationRefresh documents.
func (w *worker) committed(ctx context.Context, k int) (ver, epoch int64, peer bool, err error) {
	epoch = w.localEpoch.Load()
	if w.cfg.near {
		return w.localVer[k].Load(), epoch, false, nil
	}
	cutoff := time.Now().Add(-w.cfg.genRefresh - w.cfg.timeout).UnixMilli()
	pipe := w.source.Pipeline()
	get := pipe.Get(ctx, committedKey(k))
	var ranges []*redis.StringSliceCmd
	for _, p := range w.peers {
		ranges = append(ranges, pipe.ZRevRangeByScore(ctx, epochsKey(p), &redis.ZRangeBy{
			Max: strconv.FormatInt(cutoff, 10), Min: "-inf", Count: 8,
		}))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, 0, false, err
	}
	ver, _ = strconv.ParseInt(get.Val(), 10, 64)
	for _, r := range ranges {
		for _, e := range r.Val() {
			n, _ := strconv.ParseInt(e, 10, 64)
			if n > epoch {
				epoch, peer = n, true
			}
		}
	}
	return ver, epoch, peer, nil
}

func zipf(seed uint64, keys int) *rand.Zipf {
	return rand.NewZipf(rand.New(rand.NewPCG(seed, 3)), 1.1, 1, uint64(keys-1))
}

// read calls Get over zipf keys until ctx ends, and checks every value.
func (w *worker) read(ctx context.Context, seed uint64) {
	z := zipf(seed, w.cfg.keys)
	for ctx.Err() == nil {
		k := int(z.Uint64())
		cver, cepoch, peer, err := w.committed(ctx, k)
		if err != nil {
			continue // the source is never down; ctx ended
		}
		start := time.Now()
		// A Get runs to its end even when the soak's time is up.
		v, err := w.memo.Get(context.Background(), k)
		w.count(func(r *report) {
			r.Calls++
			if err != nil {
				r.Errors++
				if r.FirstError == "" {
					r.FirstError = err.Error()
				}
				return
			}
			var why string
			switch {
			case v.Key != k:
				r.Foreign++
				why = fmt.Sprintf("key %d returned the value of key %d", k, v.Key)
			case v.Version < cver:
				r.Stale++
				kind := "loaded"
				if v.Set {
					kind = "set"
				}
				why = fmt.Sprintf("key %d: version %d (%s %v before the Get began), but %d was committed before the Get began",
					k, v.Version, kind, start.Sub(time.Unix(0, v.At)).Round(time.Millisecond), cver)
			case !v.Set && v.Epoch < cepoch:
				r.Stale++
				who := "this process's"
				if peer {
					who = "the other process's (committed over " + (w.cfg.genRefresh + w.cfg.timeout).String() + " before)"
				}
				why = fmt.Sprintf("key %d: loaded in epoch %d, %v before the Get began, but %s InvalidateAll of epoch %d bound the Get",
					k, v.Epoch, start.Sub(time.Unix(0, v.At)).Round(time.Millisecond), who, cepoch)
			case start.Sub(time.Unix(0, v.At)) > w.cfg.ttl+w.cfg.timeout:
				r.Expired++
				why = fmt.Sprintf("key %d: value %v old at the Get's start; ttl %v", k, start.Sub(time.Unix(0, v.At)).Round(time.Millisecond), w.cfg.ttl)
			}
			if why != "" && r.FirstWrong == "" {
				r.FirstWrong = why + " (" + start.Format("15:04:05.000") + ")"
			}
		})
		time.Sleep(time.Millisecond)
	}
}

// mutate makes Invalidate (45%), Set (45%) and InvalidateAll (10%) calls,
// one every 5-25 ms, until ctx ends.
func (w *worker) mutate(ctx context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 5))
	z := zipf(seed, w.cfg.keys)
	token := strconv.FormatUint(seed, 10)
	for sleepCtx(ctx, time.Duration(5+rng.IntN(20))*time.Millisecond) {
		op := rng.IntN(100)
		if op < 10 {
			w.invalidateAll(ctx)
			continue
		}
		k := int(z.Uint64())
		ok, err := w.source.SetNX(ctx, lockKey(k), token, 2*time.Second).Result()
		if err != nil || !ok {
			continue // another mutator has this key
		}
		w.mutateKey(ctx, k, op < 55)
		unlock.Run(context.Background(), w.source, []string{lockKey(k)}, token)
	}
}

func (w *worker) mutateKey(ctx context.Context, k int, set bool) {
	ver, err := w.source.Incr(ctx, verKey(k)).Result()
	if err != nil {
		return
	}
	if set {
		err = w.memo.Set(context.Background(), k, value{Key: k, Version: ver, Epoch: math.MaxInt64, At: time.Now().UnixNano(), Set: true})
	} else {
		err = w.memo.Invalidate(context.Background(), k)
	}
	w.count(func(r *report) {
		r.Mutations++
		if err != nil {
			r.MutateErrs++
		}
	})
	if err != nil {
		return // not committed: Redis may still hold the older value
	}
	for {
		cur := w.localVer[k].Load()
		if cur >= ver || w.localVer[k].CompareAndSwap(cur, ver) {
			break
		}
	}
	raise.Run(context.Background(), w.source, []string{committedKey(k)}, ver)
}

func (w *worker) invalidateAll(ctx context.Context) {
	epoch, err := w.source.Incr(ctx, epochKey).Result()
	if err != nil {
		return
	}
	err = w.memo.InvalidateAll(context.Background())
	w.count(func(r *report) {
		r.Mutations++
		if err != nil {
			r.MutateErrs++
		}
	})
	if err != nil {
		return
	}
	for {
		cur := w.localEpoch.Load()
		if cur >= epoch || w.localEpoch.CompareAndSwap(cur, epoch) {
			break
		}
	}
	w.source.ZAdd(context.Background(), epochsKey(w.r.Driver), redis.Z{
		Score: float64(time.Now().UnixMilli()), Member: strconv.FormatInt(epoch, 10),
	})
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
