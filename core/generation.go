package core

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/conn"
)

// Generations. Every entry records the generation of its function it was
// written in; InvalidateAll moves the generation on, so every older entry
// reads as a miss. Two rules keep that from ever going backwards:
//
//   - a process adopts a generation only when it is larger than the one
//     it knows, so a read that started before this process's own
//     InvalidateAll cannot roll it back;
//   - a missing generation key (evicted, lost in a failover or a restart,
//     deleted) is created from the clock, in microseconds since 1970,
//     which is larger than any count of invalidations: the entries
//     written before the loss read as misses, never as hits.

// genState is what a process knows of one function on one Redis: the
// generation, when it was last read, and the flights of its loads (a
// flight belongs to one resolved driver, so tenants never share one).
type genState struct {
	gen   atomic.Uint64
	seen  atomic.Int64 // unix nanoseconds of the last read; 0: never; 1: stale
	retry atomic.Int64 // after a failed read, unix nanoseconds before which none is tried
	// solo marks the state of drivers that cannot be told apart (their
	// type is not comparable): their calls share no flight.
	solo    bool
	flights flightGroup
	// crossSlot is set once Redis refused a script over a key and its
	// generation keys (a cluster, where they live in other slots): the
	// store then checks the generation and writes in two steps.
	crossSlot atomic.Bool

	// first is open while one call reads a generation never read: the
	// calls that arrive meanwhile wait for that read rather than all
	// asking Redis at once (a cold function under a stampede).
	firstMu sync.Mutex
	first   chan struct{}
}

// firstRead makes the caller the one reader of a generation never read,
// returning the function to call when its read is over, or returns the
// channel to wait on when another caller is reading it already.
func (s *genState) firstRead() (wait <-chan struct{}, done func()) {
	s.firstMu.Lock()
	defer s.firstMu.Unlock()
	if s.first != nil {
		return s.first, nil
	}
	ch := make(chan struct{})
	s.first = ch
	return nil, func() {
		s.firstMu.Lock()
		s.first = nil
		s.firstMu.Unlock()
		close(ch)
	}
}

// adopt makes gen the current generation, read or written just now,
// unless a larger one is already known.
func (s *genState) adopt(gen uint64, now int64) {
	for {
		cur := s.gen.Load()
		if gen <= cur || s.gen.CompareAndSwap(cur, gen) {
			break
		}
	}
	s.seen.Store(now)
	s.retry.Store(0)
}

// stale makes the next call re-read the generation.
func (s *genState) stale() {
	if s.seen.Load() != 0 {
		s.seen.Store(1)
	}
}

// genStates keeps a genState per Redis, so that a function whose calls
// resolve different drivers (a Redis per tenant) never judges one
// server's entries by another's generation, nor lets one tenant join
// another's load. The first driver seen takes the fast path; others go
// through a map.
type genStates struct {
	first  atomic.Pointer[driverGen]
	others sync.Map // conn.Driver -> *genState
	types  sync.Map // reflect.Type -> *genState, for drivers that are not comparable
}

type driverGen struct {
	d  conn.Driver
	st genState
}

func (g *genStates) of(d conn.Driver) *genState {
	f := g.first.Load()
	if f != nil && f.d == d {
		return &f.st
	}
	t := reflect.TypeOf(d)
	if !t.Comparable() {
		if st, ok := g.types.Load(t); ok {
			return st.(*genState)
		}
		st, _ := g.types.LoadOrStore(t, &genState{solo: true})
		return st.(*genState)
	}
	if f == nil {
		g.first.CompareAndSwap(nil, &driverGen{d: d})
		if f = g.first.Load(); f.d == d {
			return &f.st
		}
	}
	if st, ok := g.others.Load(d); ok {
		return st.(*genState)
	}
	st, _ := g.others.LoadOrStore(d, new(genState))
	return st.(*genState)
}

// each calls fn for every state, for messages that do not say which
// Redis they came from.
func (g *genStates) each(fn func(*genState)) {
	if f := g.first.Load(); f != nil {
		fn(&f.st)
	}
	for _, m := range []*sync.Map{&g.others, &g.types} {
		m.Range(func(_, st any) bool {
			fn(st.(*genState))
			return true
		})
	}
}

// sameDriver compares drivers without panicking on types that are not
// comparable (those are never the same, unless identical in type, when
// they are treated as one).
func sameDriver(a, b conn.Driver) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb {
		return false
	}
	if !ta.Comparable() {
		return true
	}
	return a == b
}

// errGenerationDown is returned, without a Redis call, for a function
// whose generation has never been read while the breaker of the node
// that holds it is open.
var errGenerationDown = errors.New("redcache: generation unreadable, retrying later")

// generation returns the function's generation on d as this process
// knows it, re-reading it from Redis when the last read is older than the
// refresh interval (or force is set). Only one caller re-reads; the others
// go on with the value they have. rctx bounds the Redis calls; b is the
// breaker the call already passed (nil for the explicit writes, which
// skip breakers).
//
// A generation that cannot be read fails open for its own function: once
// known, its calls go on with the last generation read, and only one read
// is tried per retry interval, so a node that is down does not cost every
// call a timeout. One never read is read by one call at a time: the calls
// that arrive meanwhile wait for that read within their own timeout, and
// go to their loader without Redis if it fails. Each such failed read
// feeds the breaker of its node; once that is open, the function's calls
// go to their loader without Redis.
func (e *engine[V]) generation(ctx, rctx context.Context, d conn.Driver, b *breaker, st *genState, now int64, force bool) (uint64, error) {
	return e.generationAt(ctx, rctx, d, b, st, e.genKey, now, force)
}

// generationAt is [engine.generation] for the generation under genKey:
// the function's, or one of its tags' (see tags.go).
func (e *engine[V]) generationAt(ctx, rctx context.Context, d conn.Driver, b *breaker, st *genState, genKey string, now int64, force bool) (uint64, error) {
	seen := st.seen.Load()
	if !force && seen > 1 && now-seen < int64(e.cfg.genRefresh) {
		return st.gen.Load(), nil
	}
	if seen == 0 {
		wait, done := st.firstRead()
		if wait != nil {
			select {
			case <-wait:
			case <-rctx.Done():
				return 0, rctx.Err()
			}
			if st.seen.Load() != 0 {
				return st.gen.Load(), nil
			}
			return 0, errGenerationDown // the read failed: this call goes to its loader
		}
		defer done()
		if st.seen.Load() != 0 {
			return st.gen.Load(), nil // read by the caller that was reading it
		}
	}
	if seen != 0 {
		if retry := st.retry.Load(); retry != 0 && now < retry {
			return st.gen.Load(), nil
		}
		if !st.seen.CompareAndSwap(seen, now) {
			return st.gen.Load(), nil // another caller is re-reading it
		}
	}
	// The generation key has a node of its own on a cluster: its reads feed
	// that node's breaker, not the breaker of the key being read.
	gb := e.m.breakerForKey(&e.cfg, d, genKey)
	if b != nil && gb != b && !gb.allow(now) {
		if seen != 0 {
			st.seen.CompareAndSwap(now, 1)
			return st.gen.Load(), nil
		}
		return 0, errGenerationDown
	}
	sctx, step := e.redisStart(rctx, OpGeneration, genKey)
	gen, err := e.readGenerationAt(ctx, sctx, d, gb, st, genKey)
	step.end(err)
	if err != nil {
		if seen != 0 {
			st.retry.Store(time.Now().UnixNano() + int64(max(min(e.cfg.genRefresh, time.Second), 50*time.Millisecond)))
			st.seen.CompareAndSwap(now, 1) // re-read once the retry interval is over
			return st.gen.Load(), nil
		}
		return 0, err
	}
	st.adopt(gen, now)
	return st.gen.Load(), nil
}

// readGeneration reads the generation key, creating it from the clock
// when it is missing. A value that is not a number is reported and read
// as 0 (the next InvalidateAll replaces it).
func (e *engine[V]) readGeneration(ctx, rctx context.Context, d conn.Driver, b *breaker, st *genState) (uint64, error) {
	return e.readGenerationAt(ctx, rctx, d, b, st, e.genKey)
}

// readGenerationAt is [engine.readGeneration] for the generation under
// genKey.
func (e *engine[V]) readGenerationAt(ctx, rctx context.Context, d conn.Driver, b *breaker, st *genState, genKey string) (uint64, error) {
	data, err := d.Get(rctx, genKey)
	if errors.Is(err, conn.ErrMiss) {
		// Never start again from 0: entries written before the key was
		// lost would be hits again.
		clock := max(uint64(time.Now().UnixMicro()), st.gen.Load()+1)
		var set bool
		if set, err = d.SetNX(rctx, genKey, []byte(strconv.FormatUint(clock, 10)), e.generationKeyTTL(genKey)); err == nil {
			if set {
				b.success()
				return clock, nil
			}
			data, err = d.Get(rctx, genKey) // another process created it first
		}
	}
	if err != nil {
		e.m.redisResult(ctx, &e.cfg, d, b, OpGeneration, e.name, genKey, err)
		return 0, &Error{Op: OpGeneration, Name: e.name, Key: genKey, Err: err}
	}
	b.success()
	gen, perr := strconv.ParseUint(string(data), 10, 64)
	if perr != nil {
		e.m.report(ctx, &e.cfg, d, OpGeneration, e.name, genKey,
			fmt.Errorf("%w: generation %q is not a number", ErrCorruptEntry, data))
		return 0, nil
	}
	return gen, nil
}

// bumpScript moves a generation on: INCR when the key holds a number, the
// clock (ARGV[1], microseconds) when it is missing or holds something
// else, so that a lost key never restarts the count below what entries
// already carry. ARGV[2] is the key's TTL in milliseconds: negative
// leaves it as it is (a function's generation key has none), 0 removes
// it, more (re)sets it, so that a tag that is bumped keeps its key alive
// and one that is not lets it go.
var bumpScript = conn.NewScript(`
local n
if redis.call('EXISTS', KEYS[1]) == 1 then
  local ok, v = pcall(redis.call, 'INCR', KEYS[1])
  if ok then n = v end
end
if not n then
  redis.call('SET', KEYS[1], ARGV[1])
  n = tonumber(ARGV[1])
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
elseif ttl == 0 then
  redis.call('PERSIST', KEYS[1])
end
return n
`)

// keepTTL is the ttl of bumpGenerationKey that leaves the key's TTL as
// it is.
const keepTTL time.Duration = -1

// bumpGenerationKey moves the generation under key on and returns the
// new value. ttl is the key's TTL afterwards: keepTTL leaves it as it is
// (a function's generation key), 0 removes it, more sets it (a tag's).
func bumpGenerationKey(ctx context.Context, d conn.Driver, key string, ttl time.Duration) (uint64, error) {
	ms := int64(-1)
	switch {
	case ttl == 0:
		ms = 0
	case ttl > 0:
		ms = max(ttl.Milliseconds(), 1)
	}
	v, err := d.Eval(ctx, bumpScript, []string{key},
		strconv.FormatInt(time.Now().UnixMicro(), 10), strconv.FormatInt(ms, 10))
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok || n < 0 {
		return 0, fmt.Errorf("redcache: generation bump of %s returned %T %v, not a count", key, v, v)
	}
	return uint64(n), nil
}
