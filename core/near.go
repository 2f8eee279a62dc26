package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/conn"
)

// The near cache keeps decoded values in process memory in front of
// Redis, for reads that must not pay a round trip. It is kept coherent by
// pub/sub: every write, Invalidate and InvalidateAll of a process with a
// near cache publishes the key (or the generation) on InvalidationChannel,
// and every such process drops what it holds for it. While the
// subscription is down, the near cache serves nothing, and everything it
// held is dropped when it comes back, since messages may have been lost.
// Its own ttl bounds how stale a value can be when a message is late.

// InvalidationChannel is the pub/sub channel on which processes with a
// near cache announce what they wrote or invalidated.
const InvalidationChannel = "redcache:invalidate"

const nearShards = 16

// nearCache is one memoized function's near cache: a sharded map with a
// per-entry expiry and random eviction when a shard is full.
type nearCache[V any] struct {
	ttl      int64 // nanoseconds
	perShard int
	seed     maphash.Seed
	shards   [nearShards]nearShard[V]
}

type nearShard[V any] struct {
	mu sync.RWMutex
	m  map[string]nearEntry[V]
	// epoch counts the invalidations of the shard's keys; a value read
	// from Redis is kept only if none arrived while it was being read, so
	// a late reader never puts back what a message just dropped.
	epoch atomic.Uint64
}

type nearEntry[V any] struct {
	v       V
	gen     uint64
	expires int64 // unix nanoseconds
}

func newNearCache[V any](size int, ttl time.Duration) *nearCache[V] {
	n := &nearCache[V]{ttl: int64(ttl), perShard: max(size/nearShards, 1), seed: maphash.MakeSeed()}
	for i := range n.shards {
		n.shards[i].m = make(map[string]nearEntry[V])
	}
	return n
}

func (n *nearCache[V]) shard(key string) *nearShard[V] {
	return &n.shards[maphash.String(n.seed, key)%nearShards]
}

// get returns the value under key when it is there, unexpired and of
// generation gen.
func (n *nearCache[V]) get(key string, gen uint64, now int64) (V, bool) {
	s := n.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || e.gen != gen || now >= e.expires {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put keeps v under key, unless an invalidation arrived since epoch was
// read. expires may cut the near ttl short (a soft expiry).
// epoch returns the invalidation count of key's shard, to be read before
// the value that put will keep.
func (n *nearCache[V]) epoch(key string) uint64 { return n.shard(key).epoch.Load() }

func (n *nearCache[V]) put(key string, v V, gen uint64, epoch uint64, now, expires int64) {
	s := n.shard(key)
	if s.epoch.Load() != epoch {
		return
	}
	exp := now + n.ttl
	if expires > 0 && expires < exp {
		exp = expires
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch.Load() != epoch {
		return
	}
	if _, ok := s.m[key]; !ok && len(s.m) >= n.perShard {
		for k := range s.m { // Go's map order is random: a random eviction
			delete(s.m, k)
			break
		}
	}
	s.m[key] = nearEntry[V]{v: v, gen: gen, expires: exp}
}

func (n *nearCache[V]) drop(key string) {
	s := n.shard(key)
	s.mu.Lock()
	s.epoch.Add(1)
	delete(s.m, key)
	s.mu.Unlock()
}

func (n *nearCache[V]) clear() {
	for i := range n.shards {
		s := &n.shards[i]
		s.mu.Lock()
		s.epoch.Add(1)
		clear(s.m)
		s.mu.Unlock()
	}
}

// invalidator is what the Manager's subscriber knows of a near cache.
type invalidator interface {
	dropKey(key string)
	dropAll()
	alive() bool
}

// nearHub is a Manager's side of the near cache protocol: one
// subscription, the near caches it feeds, and an ID that lets a process
// skip its own messages.
type nearHub struct {
	id     string
	once   sync.Once
	active atomic.Bool  // the subscription is up: near caches may serve
	driver atomic.Value // holds a driverBox: the Redis the subscription watches

	mu     sync.RWMutex
	caches []invalidator
}

func newNearHub() *nearHub {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &nearHub{id: hex.EncodeToString(b)}
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

// Messages on InvalidationChannel: "k <sender> <key>" drops one key;
// "g <sender> <prefix>:<name>" says a generation was bumped (the new
// value is read from Redis by the usual refresh; near entries of older
// generations are dropped at once).
func keyMessage(sender, key string) string { return "k " + sender + " " + key }

func genMessage(sender, fn string) string { return "g " + sender + " " + fn }

// start runs the subscription loop once per Manager, on the first driver
// a near-cached call uses.
func (m *Manager) startNear(d conn.Driver) {
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
		sub, err := d.Subscribe(ctx, InvalidationChannel)
		if err != nil {
			if ctx.Err() == nil {
				m.report(ctx, &m.cfg, OpSubscribe, "", InvalidationChannel, err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		// Anything held before may have missed messages.
		m.near.each(func(c invalidator) { c.dropAll() })
		m.near.active.Store(true)
		err = m.receive(ctx, sub)
		m.near.active.Store(false)
		m.near.each(func(c invalidator) { c.dropAll() })
		_ = sub.Close()
		if ctx.Err() == nil && !errors.Is(err, conn.ErrClosed) {
			m.report(ctx, &m.cfg, OpSubscribe, "", InvalidationChannel, err)
		}
	}
}

func (m *Manager) receive(ctx context.Context, sub conn.Subscription) error {
	for {
		msg, err := sub.Receive(ctx)
		if err != nil {
			return err
		}
		kind, rest, _ := strings.Cut(string(msg.Payload), " ")
		sender, target, ok := strings.Cut(rest, " ")
		if !ok || sender == m.near.id {
			continue
		}
		switch kind {
		case "k":
			m.near.each(func(c invalidator) { c.dropKey(target) })
		case "g":
			for _, h := range m.holders(target) {
				h.generationChanged()
			}
		}
	}
}

// publish tells the other processes' near caches about a change. It is
// best effort: a lost message costs at most the near ttl of staleness.
func (m *Manager) publish(ctx context.Context, cfg *config, d conn.Driver, msg string) {
	bctx, cancel := m.deadlines.bound(ctx, time.Now().UnixNano())
	defer cancel()
	if _, err := d.Do(bctx, "PUBLISH", InvalidationChannel, msg); err != nil {
		m.report(ctx, cfg, OpPublish, "", InvalidationChannel, err)
	}
}
