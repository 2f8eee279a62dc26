package core

import (
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// check verifies the shards' bookkeeping: every node of the map on the
// list it says, lists that add up, and the bounds kept.
func (n *nearCache[V]) check(t *testing.T) {
	t.Helper()
	for i := range n.shards {
		s := &n.shards[i]
		s.pol.Lock()
		s.mu.RLock()
		total, bytes := 0, int64(0)
		for q, l := range map[queue]*nearList[V]{queueWindow: &s.window, queueProbation: &s.probation, queueProtected: &s.protect} {
			c, b := 0, int64(0)
			for x := l.head; x != nil; x = x.next {
				if x.q != q || s.m[x.key] != x {
					t.Errorf("shard %d: node %s on list %d says %d, map holds %p", i, x.key, q, x.q, s.m[x.key])
				}
				c++
				b += x.size
			}
			if c != l.n || b != l.bytes {
				t.Errorf("shard %d list %d: %d nodes (%d bytes), counted %d (%d)", i, q, c, b, l.n, l.bytes)
			}
			total += c
			bytes += b
		}
		if total != len(s.m) {
			t.Errorf("shard %d: %d nodes on lists, %d in the map", i, total, len(s.m))
		}
		if total > s.maxEntries || s.maxBytes > 0 && bytes > s.maxBytes {
			t.Errorf("shard %d: %d entries, %d bytes, over its bounds %d, %d", i, total, bytes, s.maxEntries, s.maxBytes)
		}
		s.mu.RUnlock()
		s.pol.Unlock()
	}
}

func TestNearBoundedByEntries(t *testing.T) {
	n := newNearCache[int](1000, time.Minute)
	now := time.Now().UnixNano()
	for i := range 20000 {
		k := strconv.Itoa(i)
		n.putSized(k, i, 10, 1, n.epoch(k), now, 0)
	}
	entries, _ := n.len()
	if entries > 1000 || entries < 900 {
		t.Fatalf("%d entries held, want at most 1000 and close to it", entries)
	}
	n.check(t)
}

func TestNearBoundedByBytes(t *testing.T) {
	const limit = 64 << 10
	n := newNearCacheBytes[int](100000, time.Minute, limit)
	now := time.Now().UnixNano()
	for i := range 20000 {
		k := strconv.Itoa(i)
		n.putSized(k, i, 100+i%900, 1, n.epoch(k), now, 0)
	}
	entries, bytes := n.len()
	if bytes > limit || bytes < limit/2 {
		t.Fatalf("%d bytes held (%d entries), want at most %d and not far below", bytes, entries, limit)
	}
	n.check(t)

	// A value larger than a shard's share is not kept, nor is the older
	// copy of its key.
	k := "big"
	n.putSized(k, 1, 10, 1, n.epoch(k), now, 0)
	if _, ok := n.get(k, 1, now); !ok {
		t.Fatal("a small value was not kept")
	}
	n.putSized(k, 2, limit+1, 1, n.epoch(k), now, 0)
	if v, ok := n.get(k, 1, now); ok {
		t.Fatalf("a value over the byte bound was kept, or left its older copy (%d)", v)
	}
	n.check(t)

	// An update that grows a value evicts to make room.
	m := newNearCacheBytes[int](100, time.Minute, 1000)
	for i := range 10 {
		k := strconv.Itoa(i)
		m.putSized(k, i, 100, 1, m.epoch(k), now, 0)
	}
	m.putSized("3", 3, 500, 1, m.epoch("3"), now, 0)
	if _, b := m.len(); b > 1000 {
		t.Fatalf("%d bytes after an update grew a value, bound 1000", b)
	}
	m.check(t)
}

// zipfHitRatio replays reads of keys drawn from Zipf(s, v=1) over keys
// ids against a near cache of size entries, filling it on each miss, as
// a memoized function does. The first half warms it.
func zipfHitRatio(size, keys int, s float64, reads int, seed uint64) float64 {
	n := newNearCache[int](size, time.Hour)
	z := rand.NewZipf(rand.New(rand.NewPCG(seed, seed)), s, 1, uint64(keys-1))
	now := time.Now().UnixNano()
	hits := 0
	for i := range reads {
		id := int(z.Uint64())
		k := strconv.Itoa(id)
		if _, ok := n.get(k, 1, now); ok {
			if i >= reads/2 {
				hits++
			}
			continue
		}
		n.putSized(k, id, 1024, 1, n.epoch(k), now, 0)
	}
	return float64(hits) / float64(reads-reads/2)
}

// zipfBest is the hit ratio of a cache that always holds the size most
// popular keys: the bound no policy passes.
func zipfBest(size, keys int, s float64) float64 {
	var top, all float64
	for k := range keys {
		p := math.Pow(float64(k+1), -s) // rand.Zipf: P(k) ∝ (v+k)^-s, v=1
		all += p
		if k < size {
			top += p
		}
	}
	return top / all
}

// Issue 15 item 2: on skewed traffic the near cache keeps the keys that
// matter. Random eviction (the near cache before) held 81% of the reads
// here, W-TinyLFU 88% of the 89% any policy can.
func TestNearAdmissionZipf(t *testing.T) {
	const size, keys, s = 10000, 100000, 1.1
	reads := 2_000_000
	if testing.Short() || nearRace {
		reads = 400_000
	}
	got, best := zipfHitRatio(size, keys, s, reads, 1), zipfBest(size, keys, s)
	t.Logf("hit ratio %.4f; the best any policy can do %.4f", got, best)
	if got < best-0.05 {
		t.Fatalf("hit ratio %.4f, want within 0.05 of the best, %.4f", got, best)
	}
}

// Reads, puts, drops and clears at once: the bookkeeping stays whole,
// and a get returns only what was put under its key.
func TestNearPolicyConcurrent(t *testing.T) {
	n := newNearCacheBytes[int](512, time.Minute, 64<<10)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			z := rand.NewZipf(r, 1.1, 1, 4999)
			for range 30000 {
				id := int(z.Uint64())
				k := strconv.Itoa(id)
				now := time.Now().UnixNano()
				switch x := r.IntN(1000); {
				case x == 0:
					n.clear()
				case x < 50:
					n.drop(k)
				default:
					if v, ok := n.get(k, 1, now); ok {
						if v != id {
							t.Errorf("get %s = %d", k, v)
							return
						}
						continue
					}
					n.putSized(k, id, 64+r.IntN(256), 1, n.epoch(k), now, 0)
				}
			}
		}()
	}
	wg.Wait()
	n.check(t)
}

func BenchmarkNearCacheGet(b *testing.B) {
	n := newNearCache[int](10000, time.Hour)
	now := time.Now().UnixNano()
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
		n.putSized(keys[i], i, 1024, 1, n.epoch(keys[i]), now, 0)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			n.get(keys[i&1023], 1, now)
			i++
		}
	})
}
