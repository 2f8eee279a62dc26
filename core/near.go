package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/conn"
)

// The near cache keeps decoded values in process memory in front of
// Redis, for reads that must not pay a round trip. It is kept coherent by
// pub/sub: every explicit write (Set, Invalidate, Refresh, InvalidateAll)
// of every process, with a near cache or not, publishes the key (or the
// generation) on the channel of its prefix, and every process with a near
// cache drops what it holds for it. Loads that fill a miss do not
// publish: what they replace was already gone or announced, and a Redis
// Cluster sends every message to every node. While the subscription is
// down, the near cache serves nothing; when it comes back, the
// invalidation log (near_log.go) says what was announced meanwhile, and
// only that is dropped, or everything when the log cannot tell. The
// subscription is checked by a ping sent through it: one that does not
// come back in time counts as a lost subscription. A near copy never outlives the
// Redis entry it was read from (its expiry and soft expiry), nor its own
// ttl, which bounds how stale a value can be when a message is late.

// InvalidationChannel is the start of the pub/sub channels on which
// processes announce what they wrote or invalidated: the channel of a
// function is InvalidationChannel + ":" + its key prefix.
const InvalidationChannel = "redcache:invalidate"

// channelFor is the invalidation channel of a key prefix.
func channelFor(prefix string) string { return InvalidationChannel + ":" + prefix }

const (
	// nearEpochs is the number of invalidation counters per near cache:
	// an invalidation of one key refuses the fills of the keys that share
	// its counter, so there are many.
	nearEpochs = 1024
	// pingEvery and pingWait pace the subscription's health check.
	pingEvery = time.Second
	pingWait  = 3 * time.Second
)

// nearCache is one memoized function's near cache: shards of a map with
// a per-entry expiry, each bounded by entries and bytes under W-TinyLFU
// (near_policy.go).
type nearCache[V any] struct {
	ttl    int64 // nanoseconds
	seed   maphash.Seed
	mask   uint64
	shards []nearShard[V]
	// epochs count the invalidations of keys (hashed), all the
	// invalidations of everything; a value read from Redis is kept only
	// if none of its key arrived while it was being read, so a late reader
	// never puts back what a message or a write just dropped.
	epochs [nearEpochs]atomic.Uint32
	all    atomic.Uint32
}

// newNearCache makes a near cache of at most size values, each kept for
// at most ttl.
func newNearCache[V any](size int, ttl time.Duration) *nearCache[V] {
	return newNearCacheBytes[V](size, ttl, 0)
}

// newNearCacheBytes makes a near cache of at most size values and
// maxBytes bytes of encoded payload (0: no byte bound), each kept for at
// most ttl.
func newNearCacheBytes[V any](size int, ttl time.Duration, maxBytes int64) *nearCache[V] {
	count := nearShardCount(size)
	n := &nearCache[V]{ttl: int64(ttl), seed: maphash.MakeSeed(), mask: uint64(count - 1), shards: make([]nearShard[V], count)}
	per := (size + count - 1) / count
	var perBytes int64
	if maxBytes > 0 {
		perBytes = max((maxBytes+int64(count)-1)/int64(count), 1)
	}
	for i := range n.shards {
		n.shards[i].init(per, perBytes, maphash.String(n.seed, strconv.Itoa(i)))
	}
	return n
}

func (n *nearCache[V]) hash(key string) uint64 { return maphash.String(n.seed, key) }

func (n *nearCache[V]) shard(h uint64) *nearShard[V] { return &n.shards[h&n.mask] }

// nearBase is the origin of the near cache's clock (see nearNow): the
// wall time when the process started, with its monotonic reading.
var (
	nearBase     = time.Now()
	nearBaseUnix = nearBase.UnixNano()
)

// nearNow is the near cache's clock, in unix nanoseconds: the wall time
// when the process started, moved on by the monotonic clock since. A
// near hit reads it once; it costs one clock read where time.Now costs
// two (wall and monotonic). A copy's expiry is set on this clock when it
// is put (see putSized), so that a step of the wall clock neither keeps
// a copy past its entry's expiry nor ends it early.
func nearNow() int64 { return nearBaseUnix + int64(time.Since(nearBase)) }

// get returns the value under key when it is there, unexpired at now (a
// reading of nearNow) and of generation gen.
func (n *nearCache[V]) get(key string, gen uint64, now int64) (V, bool) {
	s := n.shard(n.hash(key))
	return n.found(s, s.lookup(key), gen, now)
}

// getBytes is get for a key that was built in a buffer: it makes no
// string of it, and stores the value in *v when it reports true.
func (n *nearCache[V]) getBytes(key []byte, gen uint64, now int64, v *V) bool {
	s := n.shard(maphash.Bytes(n.seed, key)) // as maphash.String of the same key
	e := s.lookupBytes(key)
	if !usable(e, gen, now) {
		return false
	}
	s.record(e)
	*v = e.v
	return true
}

func (n *nearCache[V]) found(s *nearShard[V], e *nearNode[V], gen uint64, now int64) (V, bool) {
	if !usable(e, gen, now) {
		var zero V
		return zero, false
	}
	s.record(e)
	return e.v, true
}

// usable reports whether e may be served to a call that knows
// generation gen, at now.
func usable[V any](e *nearNode[V], gen uint64, now int64) bool {
	return e != nil && e.gen == gen && now < e.expires
}

func (n *nearCache[V]) keyEpoch(h uint64) *atomic.Uint32 {
	return &n.epochs[(h>>32)%nearEpochs]
}

// epoch returns the invalidation count of key, to be read before the
// value that put will keep.
func (n *nearCache[V]) epoch(key string) uint64 {
	return n.epochOf(n.hash(key))
}

func (n *nearCache[V]) epochOf(h uint64) uint64 {
	return uint64(n.all.Load())<<32 | uint64(n.keyEpoch(h).Load())
}

// put is putSized for a value whose encoded size is not known: it counts
// no bytes.
func (n *nearCache[V]) put(key string, v V, gen uint64, epoch uint64, now, expires int64) {
	n.putSized(key, v, 0, gen, epoch, now, expires)
}

// putSized keeps v (size bytes encoded) under key, unless an
// invalidation of key arrived since epoch was read, or the admission
// policy prefers what it holds. now is the wall time (unix nanoseconds)
// when the value was read, from which the near ttl counts; expires (the
// entry's soft expiry or expiry, on the wall clock) may cut it short.
// Both are turned into a time on the near cache's clock (nearNow) by
// what is left of them now.
func (n *nearCache[V]) putSized(key string, v V, size int, gen uint64, epoch uint64, now, expires int64) {
	h := n.hash(key)
	if n.epochOf(h) != epoch {
		return
	}
	clock, wall := nearNow(), time.Now().UnixNano()
	exp := clock + n.ttl - max(wall-now, 0)
	if expires > 0 {
		exp = min(exp, clock+expires-wall)
	}
	if exp <= clock {
		return
	}
	s := n.shard(h)
	node := &nearNode[V]{key: key, v: v, gen: gen, expires: exp, size: int64(max(size, 0)), hash: h}
	s.pol.Lock()
	defer s.pol.Unlock()
	if n.epochOf(h) != epoch {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxBytes > 0 && node.size > s.maxBytes {
		s.remove(key) // too big to keep: not even the older copy stays
		return
	}
	s.insert(node, s.m[key])
}

func (n *nearCache[V]) drop(key string) {
	h := n.hash(key)
	s := n.shard(h)
	s.pol.Lock()
	n.keyEpoch(h).Add(1)
	s.mu.Lock()
	s.remove(key)
	s.mu.Unlock()
	s.pol.Unlock()
}

func (n *nearCache[V]) clear() {
	n.all.Add(1)
	for i := range n.shards {
		s := &n.shards[i]
		s.pol.Lock()
		s.mu.Lock()
		s.reset()
		s.mu.Unlock()
		s.pol.Unlock()
	}
}

// len returns the number of values held and their bytes.
func (n *nearCache[V]) len() (entries int, bytes int64) {
	for i := range n.shards {
		s := &n.shards[i]
		s.pol.Lock()
		entries += s.window.n + s.probation.n + s.protect.n
		bytes += s.window.bytes + s.probation.bytes + s.protect.bytes
		s.pol.Unlock()
	}
	return entries, bytes
}

// invalidator is what the Manager's subscriber knows of a near cache.
type invalidator interface {
	dropKey(key string)
	dropAll()
	alive() bool
}

// nearHub is a Manager's side of the near cache protocol: one
// subscription (to the channels of the prefixes its near caches use), the
// near caches it feeds, and an ID that lets a process skip its own
// messages.
type nearHub struct {
	id     string
	once   sync.Once
	active atomic.Bool  // the subscription is up: near caches may serve
	driver atomic.Value // holds a driverBox: the Redis the subscription watches

	mu       sync.RWMutex
	caches   []invalidator
	prefixes map[string]bool
	// renew is signalled when a prefix is added: the subscription is made
	// again with its channel.
	renew chan struct{}
	// seen holds, per prefix, the ID of the last entry of its
	// invalidation log the subscription delivered or the log read
	// (near_log.go). Only the subscription's goroutine uses it.
	seen map[string]string
	// logOff is set once Redis turned out unable to keep the log.
	logOff atomic.Bool
}

func newNearHub() *nearHub {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &nearHub{id: hex.EncodeToString(b), prefixes: map[string]bool{}, renew: make(chan struct{}, 1), seen: map[string]string{}}
}

type driverBox struct{ d conn.Driver }

// serves reports whether near caches may serve a call that resolved d:
// the subscription is up, on d. A near cache watches one Redis; calls
// to another go to that Redis.
func (h *nearHub) serves(d conn.Driver) bool {
	if !h.active.Load() {
		return false
	}
	b, _ := h.driver.Load().(driverBox)
	return b.d != nil && sameDriver(b.d, d)
}

func (h *nearHub) add(c invalidator) {
	h.mu.Lock()
	defer h.mu.Unlock()
	live := h.caches[:0]
	for _, old := range h.caches {
		if old.alive() {
			live = append(live, old)
		}
	}
	clear(h.caches[len(live):])
	h.caches = append(live, c)
}

func (h *nearHub) each(f func(invalidator)) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, c := range h.caches {
		f(c)
	}
}

// watch adds prefix to the channels the subscription listens to; it
// reports whether it is new.
func (h *nearHub) watch(prefix string) bool {
	h.mu.RLock()
	known := h.prefixes[prefix]
	h.mu.RUnlock()
	if known {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.prefixes[prefix] {
		return false
	}
	h.prefixes[prefix] = true
	return true
}

// channels returns the channels to subscribe to, the first one used for
// the health check's pings.
func (h *nearHub) channels() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	chs := make([]string, 0, len(h.prefixes))
	for p := range h.prefixes {
		chs = append(chs, channelFor(p))
	}
	return chs
}

// Messages on an invalidation channel: "k <sender> <key>" drops one key;
// "g <sender> <prefix>:<name>" says a generation was bumped (the new
// value is read from Redis by the usual refresh; near entries of older
// generations are dropped at once); "t <sender> <tag key>" says a tag's
// generation was bumped (tags.go); "p <sender> <nonce>" is a health
// check, for its sender only. A message published with its entry in the
// invalidation log (near_log.go) has the entry's ID after the sender:
// "k <sender>/<id> <key>".
func keyMessage(sender, key string) string { return "k " + sender + " " + key }

func genMessage(sender, fn string) string { return "g " + sender + " " + fn }

// startNear runs the subscription loop once per Manager, on the first
// driver a near-cached call uses, and makes it listen to prefix's
// channel.
func (m *Manager) startNear(d conn.Driver, prefix string) {
	if m.near.watch(prefix) {
		select {
		case m.near.renew <- struct{}{}:
		default:
		}
	}
	m.near.once.Do(func() {
		m.near.driver.Store(driverBox{d})
		if !m.enter() {
			return
		}
		go func() {
			defer m.bg.Done()
			m.subscribeLoop(d)
		}()
	})
}

func (m *Manager) subscribeLoop(d conn.Driver) {
	ctx := m.closeCtx
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		select {
		case <-m.near.renew: // the channels below include every prefix known now
		default:
		}
		chs := m.near.channels()
		sub, err := d.Subscribe(ctx, chs...)
		if err != nil {
			if ctx.Err() == nil {
				m.report(ctx, &m.cfg, d, OpSubscribe, "", strings.Join(chs, " "), err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		// What was held before may have missed messages, generations
		// included: the log says which (near_log.go), or else
		// everything goes. Until then the near caches serve nothing.
		if !m.catchUp(ctx, d, prefixesOf(chs)) {
			m.lostMessages()
		}
		m.near.active.Store(true)
		err = m.receive(ctx, d, sub, chs[0])
		m.near.active.Store(false)
		_ = sub.Close()
		if ctx.Err() == nil && err != nil && !errors.Is(err, conn.ErrClosed) {
			m.report(ctx, &m.cfg, d, OpSubscribe, "", strings.Join(chs, " "), err)
		}
	}
}

// lostMessages drops every near value and marks every generation stale.
func (m *Manager) lostMessages() {
	m.near.each(func(c invalidator) { c.dropAll() })
	m.mu.Lock()
	var all []generationHolder
	for _, hs := range m.engines {
		all = append(all, hs...)
	}
	m.mu.Unlock()
	for _, h := range all {
		h.generationChanged()
	}
	m.tagsStale()
}

// errPingLost reports a subscription whose health check did not come
// back in time: the connection may be half open.
var errPingLost = fmt.Errorf("%w: no answer to the health check within %v", conn.ErrSubscriptionLost, pingWait)

// receive handles messages until the subscription fails, its health
// check goes unanswered, or a new prefix needs a new subscription (nil).
func (m *Manager) receive(ctx context.Context, d conn.Driver, sub conn.Subscription, pingChannel string) error {
	var nonce uint64
	var sent time.Time // of the ping not yet answered; zero: none
	lastPing := time.Now()
	for {
		select {
		case <-m.near.renew:
			return nil
		default:
		}
		now := time.Now()
		if !sent.IsZero() && now.Sub(sent) > pingWait {
			return errPingLost
		}
		if sent.IsZero() && now.Sub(lastPing) >= pingEvery {
			nonce++
			sent, lastPing = now, now
			pctx, cancel := context.WithTimeout(ctx, pingWait)
			_, err := d.Do(pctx, "PUBLISH", pingChannel, "p "+m.near.id+" "+strconv.FormatUint(nonce, 10))
			cancel()
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("%w: health check: %w", conn.ErrSubscriptionLost, err)
			}
		}
		rctx, cancel := context.WithTimeout(ctx, pingEvery/4)
		msg, err := sub.Receive(rctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			return err
		}
		kind, rest, _ := strings.Cut(string(msg.Payload), " ")
		sender, target, ok := strings.Cut(rest, " ")
		if !ok {
			continue
		}
		if kind == "p" {
			if sender == m.near.id && target == strconv.FormatUint(nonce, 10) {
				sent = time.Time{}
			}
			continue
		}
		if _, id, ok := strings.Cut(sender, "/"); ok {
			m.near.heard(prefixOf(msg.Channel), id)
		}
		m.apply(string(msg.Payload))
	}
}

// prefixesOf returns the key prefixes of invalidation channels.
func prefixesOf(chs []string) []string {
	ps := make([]string, len(chs))
	for i, ch := range chs {
		ps[i] = prefixOf(ch)
	}
	return ps
}

// WithNearCacheBytes bounds each near cache (see [WithNearCache]) by the
// encoded size of the values it holds as well as by their number: a
// near cache keeps at most n bytes of payload, as the codec wrote them
// to Redis (compressed, when the codec compresses), whichever bound is
// reached first. The decoded values in memory are usually larger than
// their encoding, by a factor that depends on the type: the bound is
// meant to keep a few huge values from taking the place of many small
// ones, and to cap memory in proportion. A value larger than a near
// cache's share of n is read from Redis every time. n <= 0 lifts the
// byte bound, the default. Given to [New] it holds for every function's
// near cache; given to [Memoize], for that function's.
//
// Within its bounds a near cache keeps the values that are asked for
// most, by W-TinyLFU: a new value is admitted on trial and stays only if
// its key is asked for more often than the value it would push out.
func WithNearCacheBytes(n int64) Option {
	return option(func(c *config) { c.nearBytes = max(n, 0) })
}
