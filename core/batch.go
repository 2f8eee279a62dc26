package core

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/redcache/redcache/conn"
)

// Batch is a function of many ids memoized with [MemoizeBatch]: its
// loader fetches many values in one call (one SQL query with IN, one
// request to a service that takes a list), and its cache reads and writes
// them in one round trip each.
type Batch[K comparable, V any] struct {
	e   *engine[V]
	fn  func(context.Context, []K) (map[K]V, error)
	enc argEncoder
}

// ErrNotFound is what [Batch.Get] returns for an id that the batch loader
// did not return a value for. [Batch.GetMany] leaves such ids out of its
// result without an error. With negative caching ([WithNegativeCaching])
// such ids are cached as missing, so that they are not asked for again
// until the negative ttl is over.
var ErrNotFound = errors.New("redcache: the batch loader returned no value for this id")

// MemoizeBatch caches the values of fn, a loader of many ids at once, in
// Redis under the keys "<prefix>:<name>:<encoded id>": the keys and the
// entries that [Memoize] of the same name and an argument of type K
// would use, so that a function memoized one id at a time (in another
// process, or with another Manager) and its batch form share their
// entries, their generation ([Manager.InvalidateAll]) and their tags.
// The rules for name, options and panics are those of [Memoize].
//
// fn is called with the ids that are not in the cache, each once, and
// returns the values it found; an id it leaves out is a miss (cached as
// missing with negative caching, see [ErrNotFound]). fn must be safe for
// concurrent use.
//
// The guarantees are those of [Memoize], per id: a value is stored only
// over what the call's read saw, in the generation it read, so an
// Invalidate, Set, InvalidateAll or tag invalidation that returned is
// never undone by a batch load that was in flight; the near cache and
// stale-while-revalidate apply to each id.
func MemoizeBatch[K comparable, V any](m *Manager, name string, fn func(context.Context, []K) (map[K]V, error), opts ...Option) *Batch[K, V] {
	enc, err := encoderFor(reflect.TypeOf((*K)(nil)).Elem())
	if err != nil {
		panic(fmt.Errorf("redcache: MemoizeBatch(%q): %w", name, err))
	}
	return &Batch[K, V]{e: memoizeEngine[V](m, name, opts), fn: fn, enc: enc}
}

// GetMany returns the values of ids, from the cache where it holds them,
// calling fn once with the others and storing what it returns. It reads
// the cache with one MGET (split per slot on a cluster, by the driver)
// and stores fn's values with one pipeline.
//
// Concurrent calls share loads per id: an id that another call's load is
// fetching is not asked for again, and its value is taken from that
// load, as a single [Memo.Get] joins a flight. A call joins only a load
// that saw under the id's key what it saw, in the same generation, so a
// call made after an invalidation never gets a value loaded before it.
//
// The result holds every id that has a value; an id fn did not return is
// left out. The error is nil when every id was answered (found or left
// out by fn); otherwise it joins the distinct errors of the loads that
// failed (fn's error, a [*PanicError], a [*CachedError] from negative
// caching), or is ctx.Err() when ctx ended while waiting, and the result
// still holds the ids that were answered. An error of a load is the error
// of every id it was fetching, in every call waiting for them. A call
// whose ctx ends leaves the loads it waits for; they go on for the other
// calls that wait for them. Redis trouble never fails GetMany: it loads
// what it could not read, and reports the trouble once (see
// [WithErrorHandler]).
//
// [TTL], [Tags], [SkipCache] and [Refresh] apply to every id of the call.
// An [Observer] hears of the call as of one Get (under the key of its
// first id, with the outcome of the id that cost the most: a miss when
// any id was loaded), with one LoadStart per loader call.
func (b *Batch[K, V]) GetMany(ctx context.Context, ids []K, opts ...CallOption) (map[K]V, error) {
	return getMany(ctx, b.e, ids, b.Key, b.fn, opts)
}

// Get returns the value of one id, as GetMany does: from the cache when
// it holds it, else from fn (called with this id alone, or joined with a
// load of many ids in flight). It returns [ErrNotFound] when fn did not
// return the id (or a negative entry says so).
func (b *Batch[K, V]) Get(ctx context.Context, id K, opts ...CallOption) (V, error) {
	m, err := b.GetMany(ctx, []K{id}, opts...)
	if v, ok := m[id]; ok {
		return v, nil
	}
	if err == nil {
		err = ErrNotFound
	}
	var zero V
	return zero, err
}

// Invalidate drops the cached values of ids, in every process, as
// [Memo.Invalidate] does for one: no load in flight from before it, in
// any process, stores the value it read. The tombstones are written
// with one pipeline. The error joins those of the ids that failed.
func (b *Batch[K, V]) Invalidate(ctx context.Context, ids ...K) error {
	keys := make([]string, 0, len(ids))
	var errs []error
	for _, id := range ids {
		key, err := b.Key(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, key)
	}
	if err := b.e.invalidateMany(ctx, keys); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// InvalidateAll drops the cached values of every id in one O(1) call;
// see [Manager.InvalidateAll].
func (b *Batch[K, V]) InvalidateAll(ctx context.Context) error { return b.e.invalidateAll(ctx) }

// InvalidateTag makes every value that carries any of tags unreachable;
// see [Manager.InvalidateTag].
func (b *Batch[K, V]) InvalidateTag(ctx context.Context, tags ...string) error {
	return b.e.m.InvalidateTag(ctx, tags...)
}

// Key returns the Redis key under which the value of id is cached: the
// key [Memo.Key] of the same name returns for it.
func (b *Batch[K, V]) Key(id K) (string, error) {
	var buf [128]byte
	k := append(buf[:0], b.e.base...)
	start := len(k)
	k, err := appendArg(k, &b.enc, &id)
	if err != nil {
		return "", fmt.Errorf("redcache: key for %s: %w", b.e.name, err)
	}
	return string(hashTail(k, start, b.e.cfg.maxKeyLen)), nil
}

// Name returns the name the function was memoized under.
func (b *Batch[K, V]) Name() string { return b.e.name }

// Stats returns the counters of this function alone; see [Memo.Stats].
// Each id of a GetMany counts as one lookup (a hit, a miss...), and each
// call of fn as one load.
func (b *Batch[K, V]) Stats() Stats { return b.e.statsSnapshot() }

// invalidateMany writes tombstones over keys in one pipeline (or deletes
// them, with a Store that cannot fence), and announces them.
func (e *engine[V]) invalidateMany(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if _, ok := e.cfg.store.(RedisStore); !ok || len(keys) == 1 {
		var errs []error
		for _, key := range keys {
			if err := e.invalidate(ctx, key); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	d, err := conn.Resolve(ctx, e.cfg.driver)
	if err != nil {
		return &Error{Op: OpResolve, Name: e.name, Key: keys[0], Err: err}
	}
	st := e.gens.of(d)
	for _, key := range keys {
		st.flights.forget(key)
		e.dropKey(key)
	}
	gen := st.gen.Load()
	cmds := make([]*conn.Cmd, len(keys))
	ms := max(e.cfg.fenceWindow.Milliseconds(), 1)
	for i, key := range keys {
		cmds[i] = conn.NewCmd("SET", key, tombstone(gen), "PX", ms)
	}
	bctx, cancel := e.deadlines.bound(ctx, time.Now().UnixNano())
	defer cancel()
	sctx, step := e.redisStart(bctx, OpSave, keys[0])
	err = d.Pipeline(sctx, cmds...)
	step.end(err)
	var errs []error
	var msgs []string
	for i, key := range keys {
		cerr := err
		if cerr == nil {
			cerr = cmds[i].Err
		}
		if cerr != nil {
			errs = append(errs, &Error{Op: OpSave, Name: e.name, Key: key, Err: cerr})
			continue
		}
		// As written does for one key, with the announcements in one
		// script (published, and logged for near caches that reconnect).
		st.flights.forget(key)
		e.dropKey(key)
		msgs = append(msgs, keyMessage(e.m.near.id, key))
	}
	e.m.announce(ctx, &e.cfg, d, msgs...)
	return errors.Join(errs...)
}
