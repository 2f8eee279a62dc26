package core

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// The near cache's admission and eviction: W-TinyLFU (Einziger, Friedman
// and Manes, "TinyLFU: A Highly Efficient Cache Admission Policy"), as
// Caffeine and otter run it. A new value enters a small window (1% of the
// capacity) kept in LRU order; a value pushed out of the window is a
// candidate for the main space (an SLRU: probation, then protected once
// read again), and it is admitted only when its key was asked for more
// often, by a frequency sketch of the recent past, than the main space's
// next victim. On skewed traffic this keeps the popular keys that a
// stream of one-off keys would flush out of an LRU; the window keeps the
// keys of a burst until their frequency is known.
//
// Reads do not take the policy's lock: a hit records its node in a small
// lossy buffer of its shard, which the next put, or the reader that fills
// it (if the lock is free), replays into the policy. A record lost to a
// full buffer or a race costs a little accuracy, never correctness: what
// a get returns is decided by the map alone.
//
// Why not github.com/maypok86/otter/v2, which runs the same policy (with
// an adaptive window): measured on one machine, replaying Zipf s=1.1
// reads over 100,000 keys into 10,000 entries, this code held 88.2% of
// the reads, as go-redis/cache's TinyLFU did, and otter 87.5% (the best
// any policy can do there is 89.0%; the random eviction this cache had
// before held 81.1%). Otter's reads cost less on their own (about 50ns
// less per hit, with no allocation either way), which is lost in the
// rest of a memoized call's near hit; but otter bounds a cache by a
// count or by a weight, never both, it would need a lock of ours around
// its writes all the same to keep the epoch rule of put, and it would be
// core's first dependency outside the Go project. docs/near.md has the
// figures and the program that measures them.

// queue is the list of the policy a node is on.
type queue uint8

const (
	queueNone      queue = iota // removed: the node is not in the cache
	queueWindow                 // admitted on trial, LRU order
	queueProbation              // main space, not read since admitted
	queueProtected              // main space, read again
)

// nearReadBuf is the number of reads a shard records before they are
// replayed into the policy.
const nearReadBuf = 32

// nearNode is one value of a near cache. Its value fields never change
// once it is in the map (a put of the same key makes a new node), so a
// reader uses them without a lock; the list fields belong to the policy's
// lock.
type nearNode[V any] struct {
	key     string
	v       V
	gen     uint64
	expires int64 // unix nanoseconds
	size    int64 // the encoded payload's length, in bytes
	hash    uint64

	prev, next *nearNode[V]
	q          queue
}

// nearList is an intrusive doubly linked list, most recent at the front.
type nearList[V any] struct {
	head, tail *nearNode[V]
	n          int
	bytes      int64
}

func (l *nearList[V]) pushFront(n *nearNode[V]) {
	n.prev, n.next = nil, l.head
	if l.head != nil {
		l.head.prev = n
	} else {
		l.tail = n
	}
	l.head = n
	l.n++
	l.bytes += n.size
}

func (l *nearList[V]) remove(n *nearNode[V]) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next = nil, nil
	l.n--
	l.bytes -= n.size
}

func (l *nearList[V]) moveToFront(n *nearNode[V]) {
	if l.head == n {
		return
	}
	l.remove(n)
	l.pushFront(n)
}

// nearShard is a part of a near cache: its map, read under mu by every
// get, and its policy, under pol. A writer takes pol, then mu.
type nearShard[V any] struct {
	mu sync.RWMutex
	m  map[string]*nearNode[V]

	reads atomic.Uint32
	buf   [nearReadBuf]atomic.Pointer[nearNode[V]]

	pol                        sync.Mutex
	window, probation, protect nearList[V]
	sketch                     sketch
	rnd                        uint64 // xorshift state for the admission's jitter
	// The bounds: entries and bytes (0: none) of the shard, of its
	// window and of its protected segment.
	maxEntries, maxWindow, maxProtect int
	maxBytes, maxWindowB, maxProtectB int64

	_ [64]byte // keep shards off each other's cache lines
}

// nearShardCount is how many shards a near cache of size entries gets:
// enough for the machine's cores, few enough that each keeps a useful
// share of the keys.
func nearShardCount(size int) int {
	n := 1
	for n < 4*runtime.GOMAXPROCS(0) && n < 64 && size/(2*n) >= 128 {
		n *= 2
	}
	return n
}

func (s *nearShard[V]) init(entries int, maxBytes int64, seed uint64) {
	s.m = make(map[string]*nearNode[V])
	s.maxEntries = max(entries, 1)
	s.maxWindow = max(s.maxEntries/100, 1)
	s.maxProtect = max((s.maxEntries-s.maxWindow)*8/10, 1)
	if maxBytes > 0 {
		s.maxBytes = max(maxBytes, 1)
		s.maxWindowB = max(s.maxBytes/100, 1)
		s.maxProtectB = max((s.maxBytes-s.maxWindowB)*8/10, 1)
	}
	s.sketch.init(s.maxEntries)
	s.rnd = seed | 1
}

// lookup returns the node under key.
func (s *nearShard[V]) lookup(key string) *nearNode[V] {
	s.mu.RLock()
	n := s.m[key]
	s.mu.RUnlock()
	return n
}

// lookupBytes is lookup for a key in a buffer: the conversion in the
// index expression makes no string.
func (s *nearShard[V]) lookupBytes(key []byte) *nearNode[V] {
	s.mu.RLock()
	n := s.m[string(key)]
	s.mu.RUnlock()
	return n
}

// record notes a hit on n, to be replayed into the policy.
func (s *nearShard[V]) record(n *nearNode[V]) {
	i := s.reads.Add(1) - 1
	if i < nearReadBuf {
		s.buf[i].Store(n)
	}
	if i >= nearReadBuf-1 && s.pol.TryLock() {
		s.drain()
		s.pol.Unlock()
	}
}

// drain replays the recorded reads into the policy. pol is held.
func (s *nearShard[V]) drain() {
	for i := range s.buf {
		n := s.buf[i].Swap(nil)
		if n == nil {
			continue
		}
		s.sketch.increment(n.hash)
		switch n.q {
		case queueWindow:
			s.window.moveToFront(n)
		case queueProbation:
			s.probation.remove(n)
			n.q = queueProtected
			s.protect.pushFront(n)
			s.demote()
		case queueProtected:
			s.protect.moveToFront(n)
		}
	}
	s.reads.Store(0)
}

// demote moves the protected segment's oldest nodes back to probation
// while it is over its share. pol is held.
func (s *nearShard[V]) demote() {
	for s.protect.n > 1 && (s.protect.n > s.maxProtect || s.maxBytes > 0 && s.protect.bytes > s.maxProtectB) {
		n := s.protect.tail
		s.protect.remove(n)
		n.q = queueProbation
		s.probation.pushFront(n)
	}
}

func (s *nearShard[V]) list(q queue) *nearList[V] {
	switch q {
	case queueWindow:
		return &s.window
	case queueProbation:
		return &s.probation
	case queueProtected:
		return &s.protect
	}
	return nil
}

// insert puts n in the cache in place of old (nil: none), then evicts
// what the bounds and the admission policy say. pol and mu are held.
func (s *nearShard[V]) insert(n, old *nearNode[V]) {
	s.drain()
	s.sketch.increment(n.hash)
	s.m[n.key] = n
	if old != nil {
		// An update keeps its place in the policy.
		l := s.list(old.q)
		l.remove(old)
		n.q = old.q
		old.q = queueNone
		l.pushFront(n)
		s.demote()
	} else {
		n.q = queueWindow
		s.window.pushFront(n)
	}
	for s.window.n > s.maxWindow || s.maxBytes > 0 && s.window.bytes > s.maxWindowB {
		c := s.window.tail
		s.window.remove(c)
		s.admit(c)
	}
	// An update in the main space can still leave it over its bytes.
	for s.over(nil) {
		v := s.victim()
		if v == nil {
			break
		}
		s.evict(v)
	}
}

// over reports whether the cache is over a bound, with c (not on a list
// yet) counted.
func (s *nearShard[V]) over(c *nearNode[V]) bool {
	n := s.window.n + s.probation.n + s.protect.n
	b := s.window.bytes + s.probation.bytes + s.protect.bytes
	if c != nil {
		n++
		b += c.size
	}
	return n > s.maxEntries || s.maxBytes > 0 && b > s.maxBytes
}

// victim is the main space's next node to go: probation's oldest, or
// protected's.
func (s *nearShard[V]) victim() *nearNode[V] {
	if s.probation.tail != nil {
		return s.probation.tail
	}
	return s.protect.tail
}

// admit moves c, out of the window, to the main space if there is room,
// or if it is asked for more often than each victim that has to leave
// for it; otherwise c goes.
func (s *nearShard[V]) admit(c *nearNode[V]) {
	for s.over(c) {
		v := s.victim()
		if v == nil || !s.wins(c, v) {
			c.q = queueNone
			delete(s.m, c.key)
			return
		}
		s.evict(v)
	}
	c.q = queueProbation
	s.probation.pushFront(c)
}

// wins is TinyLFU's admission test. A warm candidate that loses is still
// let in now and then (1 in 128), so that keys crafted to collide in the
// sketch with a victim cannot keep every newcomer out.
func (s *nearShard[V]) wins(c, v *nearNode[V]) bool {
	cf, vf := s.sketch.frequency(c.hash), s.sketch.frequency(v.hash)
	if cf > vf {
		return true
	}
	if cf <= 5 {
		return false
	}
	s.rnd ^= s.rnd << 13
	s.rnd ^= s.rnd >> 7
	s.rnd ^= s.rnd << 17
	return s.rnd&127 == 0
}

func (s *nearShard[V]) evict(n *nearNode[V]) {
	s.list(n.q).remove(n)
	n.q = queueNone
	delete(s.m, n.key)
}

// remove takes key out. pol and mu are held.
func (s *nearShard[V]) remove(key string) {
	n := s.m[key]
	if n == nil {
		return
	}
	s.evict(n)
}

// reset empties the shard, keeping the sketch: what was popular before
// an invalidation of everything is likely popular after. pol and mu are
// held.
func (s *nearShard[V]) reset() {
	for _, n := range s.m {
		n.q, n.prev, n.next = queueNone, nil, nil
	}
	clear(s.m)
	s.window, s.probation, s.protect = nearList[V]{}, nearList[V]{}, nearList[V]{}
	for i := range s.buf {
		s.buf[i].Store(nil)
	}
}

// sketch is a count-min sketch of 4-bit counters, 16 to a word, that
// halves every counter after 10 samples per entry of the cache: TinyLFU's
// frequency of the recent past (as Caffeine's FrequencySketch).
type sketch struct {
	table      []uint64
	mask       uint64
	samples    int
	sampleSize int
}

func (s *sketch) init(entries int) {
	n := 1 << bits.Len(uint(max(entries, 8)-1)) // the next power of two
	s.table = make([]uint64, n)
	s.mask = uint64(n - 1)
	s.sampleSize = 10 * max(entries, 8)
}

var sketchSeeds = [4]uint64{0xc3a5c85c97cb3127, 0xb492b66fbe98f273, 0x9ae16a3b2f90404f, 0xcbf29ce484222325}

func (s *sketch) index(h uint64, i int) uint64 {
	x := (h + sketchSeeds[i]) * sketchSeeds[i]
	x += x >> 32
	return x & s.mask
}

func (s *sketch) increment(h uint64) {
	h = spread(h)
	start := (h & 3) << 2
	added := false
	for i := range 4 {
		idx := s.index(h, i)
		off := (start + uint64(i)) << 2
		if s.table[idx]>>off&0xf != 0xf {
			s.table[idx] += 1 << off
			added = true
		}
	}
	if added {
		s.samples++
		if s.samples >= s.sampleSize {
			s.halve()
		}
	}
}

func (s *sketch) frequency(h uint64) int {
	h = spread(h)
	start := (h & 3) << 2
	f := 0xf
	for i := range 4 {
		c := int(s.table[s.index(h, i)] >> ((start + uint64(i)) << 2) & 0xf)
		f = min(f, c)
	}
	return f
}

func (s *sketch) halve() {
	odd := 0
	for i, w := range s.table {
		odd += bits.OnesCount64(w & 0x1111111111111111)
		s.table[i] = w >> 1 & 0x7777777777777777
	}
	s.samples = (s.samples - odd/4) / 2
}

// spread remixes a hash whose low bits chose the shard.
func spread(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}
