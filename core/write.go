package core

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core/format"
)

// The write path: entries built from values and errors, the fenced store
// of a load, and the explicit writes (Set, Invalidate, InvalidateAll).
//
// The fence. A load remembers what its lookup saw under the key: nothing,
// or some bytes B (a stale entry, an entry of an older generation, a
// tombstone, a corrupt value). It stores with SET NX when it saw nothing,
// and otherwise with a script that writes only while the key still holds
// B. Invalidate writes a tombstone (a short entry with a random nonce)
// instead of deleting, Set writes its value, and an explicit Refresh
// writes a tombstone before it loads: each changes the bytes under the
// key, so a load in flight from before any of them cannot store, in any
// process. A tombstone lives for the fence window; a load older than the
// window (from its lookup, by the local clock) does not store at all, so
// the tombstone's expiry cannot let it through. Before it stores, a load
// reads the generation again and stores only if it did not move: a
// Redis that restarted and lost the tombstone lost the generation key
// too, which is then created anew from the clock.

func (e *engine[V]) encode(ctx context.Context, key string, v V) ([]byte, error) {
	if e.cfg.beforeSave != nil {
		return e.cfg.beforeSave(ctx, key, v)
	}
	return e.cfg.codec.Marshal(v)
}

// entryFor encodes v as the entry to store under key in generation gen,
// with the ttl to store it for and the time a near copy must be gone by
// (its soft expiry, else its expiry; 0 for none).
func (e *engine[V]) entryFor(ctx context.Context, key string, gen uint64, v V, cc callConfig, now time.Time) (ent format.Entry, ttl time.Duration, until int64, err error) {
	payload, err := e.encode(ctx, key, v)
	if err != nil {
		return ent, 0, 0, err
	}
	ttl = e.cfg.ttl
	if cc.ttlSet {
		ttl = cc.ttl
	}
	if s := cc.chosen; s != nil && s.ttlSet {
		ttl = s.ttl // the loader's choice (loaderopts.go)
	}
	if ttl > 0 && e.cfg.jitter > 0 {
		ttl -= time.Duration(rand.Float64() * e.cfg.jitter * float64(ttl))
		ttl = max(ttl, time.Millisecond)
	}
	ent = format.Entry{Codec: e.codecID, Compressed: e.compress, Generation: gen, Payload: payload}
	ttl, until = e.expiries(&ent, ttl, now) // refresh.go
	return ent, ttl, until, nil
}

// store writes v under key, fenced (see above), and reports whether it
// did and the time a near copy must be gone by (see entryFor). Trouble is
// reported, not returned.
func (e *engine[V]) store(ctx context.Context, p *pending, key string, v V) (stored bool, until int64) {
	if p.cc.chosen.dropped() {
		return false, 0
	}
	now := time.Now()
	if e.tooLate(p.obs, now) {
		count(&e.m.stats.fenced, &e.stats.fenced)
		return false, 0
	}
	ent, ttl, until, err := e.entryFor(ctx, key, p.gen, v, p.cc, now)
	if err != nil {
		e.m.report(ctx, &e.cfg, p.d, OpEncode, e.name, key, err)
		return false, 0
	}
	p.size = len(ent.Payload)
	return e.save(ctx, p, key, ent, ttl), until
}

// tooLate reports whether a load that looked at obs is past the fence
// window, counting the write's own timeout: its write could land after
// the tombstone that fences it expired.
func (e *engine[V]) tooLate(obs, now time.Time) bool {
	return e.fenced() && now.Sub(obs)+e.cfg.timeout >= e.cfg.fenceWindow
}

func (e *engine[V]) storeNegative(ctx context.Context, p *pending, key string, err error) {
	// A context's end says nothing about the value: never cache it.
	if e.cfg.negTTL <= 0 || p.cc.chosen.dropped() || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	var sentinel error
	if !e.cfg.negAll {
		for _, target := range e.cfg.negErrs {
			if errors.Is(err, target) {
				sentinel = target
				break
			}
		}
		if sentinel == nil {
			return
		}
	}
	now := time.Now()
	if e.tooLate(p.obs, now) {
		count(&e.m.stats.fenced, &e.stats.fenced)
		return
	}
	ent := format.Entry{Negative: true, Codec: e.codecID, Compressed: e.compress, Generation: p.gen,
		Expiry: now.Add(e.cfg.negTTL), Payload: encodeNegative(sentinel, err.Error())}
	e.save(ctx, p, key, ent, e.cfg.negTTL)
}

// save writes ent under key for a load: only if the generation did not
// move since the lookup, and only over what the lookup saw.
func (e *engine[V]) save(ctx context.Context, p *pending, key string, ent format.Entry, ttl time.Duration) bool {
	now := time.Now().UnixNano()
	wctx, cancel := e.deadlines.bound(context.WithoutCancel(ctx), now)
	defer cancel()
	if e.fenced() {
		gctx, step := e.redisStart(wctx, OpGeneration, e.genKey)
		gen, err := e.readGenerations(ctx, gctx, p.d, p.b, p.st, p.tags, now)
		step.end(err)
		if err != nil {
			return false
		}
		if gen != ent.Generation {
			count(&e.m.stats.fenced, &e.stats.fenced) // invalidated (or Redis restarted) during the load
			return false
		}
	}
	data := ent.Append(make([]byte, 0, ent.Size()))
	sctx, step := e.redisStart(wctx, OpSave, key)
	var ok bool
	var err error
	if e.fenced() && p.seen == nil && !p.st.crossSlot.Load() {
		ok, err = e.saveNew(sctx, p, key, data, ttl)
	} else {
		ok, err = e.saveIf(sctx, p.d, key, data, ttl, p.seen)
	}
	step.end(err)
	e.m.redisResult(ctx, &e.cfg, p.d, p.b, OpSave, e.name, key, err)
	if err == nil && ok && p.seen == nil && p.st.crossSlot.Load() && e.fenced() {
		ok = e.recheck(ctx, wctx, p, key, data, ent.Generation)
	}
	if err == nil && !ok {
		count(&e.m.stats.fenced, &e.stats.fenced)
	}
	return err == nil && ok
}

// fenced reports whether the Store can write conditionally: the default
// RedisStore, or a Store that implements [FencedStore]. Other stores are
// written unconditionally, as before fences existed.
func (e *engine[V]) fenced() bool {
	switch e.cfg.store.(type) {
	case RedisStore, FencedStore:
		return true
	}
	return false
}

// fenceScript stores ARGV[1] under KEYS[1] for ARGV[2] milliseconds (0:
// no expiry) only while the key holds the bytes whose SHA-1 is ARGV[3].
var fenceScript = conn.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur or redis.sha1hex(cur) ~= ARGV[3] then return 0 end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
`)

// fenceNewScript stores ARGV[1] under KEYS[1] for ARGV[2] milliseconds
// (0: no expiry) only while KEYS[1] holds nothing and each generation key
// KEYS[i] (i > 1) still holds ARGV[i+1]: the SET NX of a load that saw
// nothing and the check that its generation did not move, in one step.
// A generation key that holds something else than a number reads as 0,
// as in readGeneration; a missing one refuses the write.
var fenceNewScript = conn.NewScript(`
for i = 2, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  if not cur then return 0 end
  if cur ~= ARGV[i + 1] and not (ARGV[i + 1] == '0' and not string.match(cur, '^%d+$')) then return 0 end
end
local ttl = tonumber(ARGV[2])
local ok
if ttl > 0 then
  ok = redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl, 'NX')
else
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
end
if ok then return 1 end
return 0
`)

// saveNew writes data under key, for a load whose lookup saw nothing
// there, only while the key holds nothing and the generation keys hold
// what the store's check just read. Checked apart, a Redis that restarts
// between the check and the SET NX (an empty key, the tombstone of a
// write gone with the restart) would take a value loaded before that
// write; in one script the generation keys, gone too, refuse it. Where
// Redis refuses a script over keys of several slots (a cluster), it
// falls back to the SET NX and remembers to.
func (e *engine[V]) saveNew(ctx context.Context, p *pending, key string, data []byte, ttl time.Duration) (bool, error) {
	if _, ok := e.cfg.store.(RedisStore); !ok {
		return e.saveIf(ctx, p.d, key, data, ttl, nil)
	}
	n := 2
	if p.tags != nil {
		n += len(p.tags.refs)
	}
	keys := make([]string, 0, n)
	args := make([]any, 0, n+1)
	keys = append(keys, key)
	args = append(args, data, pxMillis(ttl))
	keys, args = e.appendGenerationChecks(keys, args, p.d, p.st, p.tags)
	r, err := p.d.Eval(ctx, fenceNewScript, keys, args...)
	if err != nil && conn.IsReplyError(err, "CROSSSLOT") {
		p.st.crossSlot.Store(true)
		return e.saveIf(ctx, p.d, key, data, ttl, nil)
	}
	return r == int64(1), err
}

// appendGenerationChecks appends the generation keys of a value (the
// function's, then its tags') to keys, and what this process knows of
// each to args: the checks fenceNewScript makes.
func (e *engine[V]) appendGenerationChecks(keys []string, args []any, d conn.Driver, st *genState, tags *tagSet) ([]string, []any) {
	keys = append(keys, e.genKey)
	args = append(args, strconv.FormatUint(st.gen.Load(), 10))
	if tags != nil {
		for _, t := range tags.refs {
			keys = append(keys, t.key)
			args = append(args, strconv.FormatUint(t.gens.of(d).gen.Load(), 10))
		}
	}
	return keys, args
}

// pxMillis is ttl as the milliseconds of a SET's PX: at least 1 for any
// positive ttl, 0 for none.
func pxMillis(ttl time.Duration) int64 {
	ms := ttl.Milliseconds()
	if ttl > 0 && ms == 0 {
		ms = 1
	}
	return ms
}

// unsaveScript deletes KEYS[1] while it holds ARGV[1].
var unsaveScript = conn.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// recheck follows a SET NX made apart from its generation check (on a
// cluster, see saveNew): it reads the generation again and, when it moved
// (a restart lost the key, or an invalidation came), takes the entry
// back while it is still the one written. It narrows the window of
// saveNew's fallback to the time between the write and this check.
func (e *engine[V]) recheck(ctx, wctx context.Context, p *pending, key string, data []byte, gen uint64) bool {
	now := time.Now().UnixNano()
	got, err := e.readGenerations(ctx, wctx, p.d, p.b, p.st, p.tags, now)
	if err != nil || got == gen {
		// Unreadable (its node is down or slow): as unknown as before
		// the write; taking it back would only cost a load per key while
		// that node is out.
		return true
	}
	_, derr := p.d.Eval(wctx, unsaveScript, []string{key}, data)
	if derr != nil {
		e.m.redisResult(ctx, &e.cfg, p.d, p.b, OpSave, e.name, key, derr)
	}
	return false
}

// saveIf writes data under key only while the key holds prev (nil: while
// it holds nothing).
func (e *engine[V]) saveIf(ctx context.Context, d conn.Driver, key string, data []byte, ttl time.Duration, prev []byte) (bool, error) {
	switch s := e.cfg.store.(type) {
	case RedisStore:
		if prev == nil {
			return d.SetNX(ctx, key, data, ttl)
		}
		sum := sha1.Sum(prev)
		r, err := d.Eval(ctx, fenceScript, []string{key}, data, pxMillis(ttl), hex.EncodeToString(sum[:]))
		return r == int64(1), err
	case FencedStore:
		return s.SaveIf(ctx, d, key, data, ttl, prev)
	}
	return true, e.cfg.store.Save(ctx, d, key, data, ttl)
}

// writeTombstone replaces whatever is under key by a new tombstone that
// lives for the fence window, and returns its bytes.
func (e *engine[V]) writeTombstone(ctx context.Context, d conn.Driver, st *genState, key string) ([]byte, error) {
	data := tombstone(st.gen.Load())
	bctx, cancel := e.deadlines.bound(ctx, time.Now().UnixNano())
	defer cancel()
	bctx, step := e.redisStart(bctx, OpSave, key)
	err := e.cfg.store.Save(bctx, d, key, data, e.cfg.fenceWindow)
	step.end(err)
	return data, err
}

// invalidate replaces the entry under key by a tombstone (or deletes it,
// with a Store that cannot fence), and announces it to every process.
func (e *engine[V]) invalidate(ctx context.Context, key string) error {
	d, err := conn.Resolve(ctx, e.cfg.driver)
	if err != nil {
		return &Error{Op: OpResolve, Name: e.name, Key: key, Err: err}
	}
	st := e.gens.of(d)
	st.flights.forget(key)
	e.dropKey(key)
	if e.fenced() {
		if _, err := e.writeTombstone(ctx, d, st, key); err != nil {
			return &Error{Op: OpSave, Name: e.name, Key: key, Err: err}
		}
	} else {
		bctx, cancel := e.deadlines.bound(ctx, time.Now().UnixNano())
		bctx, step := e.redisStart(bctx, OpDelete, key)
		err := e.cfg.store.Delete(bctx, d, key)
		step.end(err)
		cancel()
		if err != nil {
			return &Error{Op: OpDelete, Name: e.name, Key: key, Err: err}
		}
	}
	e.written(ctx, d, st, key)
	return nil
}

// written ends an explicit write of key: a read of this process that
// raced with it cannot put back what it read before, no later caller
// joins a load from before it, and the other processes hear of it.
func (e *engine[V]) written(ctx context.Context, d conn.Driver, st *genState, key string) {
	st.flights.forget(key)
	e.dropKey(key)
	e.m.publish(ctx, &e.cfg, d, keyMessage(e.m.near.id, key))
}

// set stores v under key as if the loader had returned it: a write
// through the cache. Unlike a call, it returns what went wrong.
func (e *engine[V]) set(ctx context.Context, key string, v V, opts []CallOption) error {
	cc := callOptions(opts)
	now := time.Now().UnixNano()
	d, err := conn.Resolve(ctx, e.cfg.driver)
	if err != nil {
		return &Error{Op: OpResolve, Name: e.name, Key: key, Err: err}
	}
	st := e.gens.of(d)
	bctx, cancel := e.deadlines.bound(ctx, now)
	defer cancel()
	gen, err := e.fullGeneration(ctx, bctx, d, nil, st, e.tagsFor(&cc), now, false)
	if err != nil {
		if errors.Is(err, errGenerationDown) {
			err = &Error{Op: OpGeneration, Name: e.name, Key: e.genKey, Err: err}
		}
		return err
	}
	ent, ttl, _, err := e.entryFor(ctx, key, gen, v, cc, time.Unix(0, now))
	if err != nil {
		return &Error{Op: OpEncode, Name: e.name, Key: key, Err: err}
	}
	st.flights.forget(key)
	e.dropKey(key)
	sctx, step := e.redisStart(bctx, OpSave, key)
	err = e.cfg.store.Save(sctx, d, key, ent.Append(nil), ttl)
	step.end(err)
	if err != nil {
		return &Error{Op: OpSave, Name: e.name, Key: key, Err: err}
	}
	e.written(ctx, d, st, key)
	return nil
}

// invalidateAll bumps the generation and adopts it at once in this process.
func (e *engine[V]) invalidateAll(ctx context.Context) error {
	_, err := e.m.bumpGeneration(ctx, &e.cfg, e.name)
	return err
}

// adoptGeneration makes gen, just written to d by this process, the
// current generation at once.
func (e *engine[V]) adoptGeneration(d conn.Driver, gen uint64) {
	e.gens.of(d).adopt(gen, time.Now().UnixNano())
	if e.near != nil {
		e.near.clear()
	}
}

// generationChanged is told by the near cache subscription that another
// process bumped the generation (or that messages may have been lost):
// re-read it on the next call, and drop the near values at once.
func (e *engine[V]) generationChanged() {
	e.gens.each((*genState).stale)
	if e.near != nil {
		e.near.clear()
	}
}
