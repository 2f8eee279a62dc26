package core

import (
	"context"
	"fmt"
	"reflect"
	"weak"
)

// Memo is a function of one argument memoized with [Memoize]. Call it
// with Get, as the function itself; the other methods act on its cache.
// A struct argument carries as many values as a call needs.
type Memo[A, V any] struct {
	e   *engine[V]
	fn  func(context.Context, A) (V, error)
	enc argEncoder
}

// Memoize caches fn's results in Redis under keys
// "<prefix>:<name>:<encoded argument>", with the Manager's settings and
// opts on top. name identifies the function in keys, so it must be
// unique under a prefix and stay the same across releases (a Go function
// name is neither); it may not contain ':', '{', '}', spaces or control
// characters.
//
// Call Memoize once per function, when the program starts (a package
// variable or a constructor), not per call: the Manager keeps every
// memoized function so that [Manager.InvalidateAll] reaches it at once.
//
// Memoize panics when name is invalid, when A can never be encoded in
// a key (it holds a channel, a function or an unsafe pointer), or when a
// function still in use was memoized with m under the same prefix and
// name ([ErrDuplicateName]): all are mistakes in the program, found when
// it starts.
func Memoize[A, V any](m *Manager, name string, fn func(context.Context, A) (V, error), opts ...Option) *Memo[A, V] {
	enc, err := encoderFor(reflect.TypeOf((*A)(nil)).Elem())
	if err != nil {
		panic(fmt.Errorf("redcache: Memoize(%q): %w", name, err))
	}
	return &Memo[A, V]{e: memoizeEngine[V](m, name, opts), fn: fn, enc: enc}
}

// memoizeEngine makes the engine of a memoized function, after checking
// that no live function has its prefix and name, and records it for
// Manager.InvalidateAll.
func memoizeEngine[V any](m *Manager, name string, opts []Option) *engine[V] {
	if m != nil {
		cfg := m.cfg
		applyOptions(&cfg, opts)
		m.claim(cfg.prefix, name)
	}
	e := newEngine[V](m, name, opts)
	m.track(name, e.cfg, weakEngine[V]{weak.Make(e)})
	return e
}

// Get returns fn(ctx, a), from the cache when it holds it, calling fn and
// storing its result otherwise. Concurrent calls with the same argument
// share one call of fn. Redis trouble never fails Get: it returns fn's
// result and reports the trouble (see [WithErrorHandler]). The error is
// fn's error, ctx.Err() when ctx ends while waiting, a [*PanicError] when
// fn panicked, a [*CachedError] from negative caching, or ErrUnsupportedKey.
func (c *Memo[A, V]) Get(ctx context.Context, a A, opts ...CallOption) (V, error) {
	var buf [keyBuf]byte
	kb, err := c.appendKey(buf[:0], a)
	if err != nil {
		var zero V
		return zero, err
	}
	if len(opts) == 0 {
		var v V
		if c.e.nearHit(ctx, kb, &v) {
			return v, nil
		}
	}
	key := string(kb)
	v, p, err := c.e.read(ctx, key, opts)
	if !p.load && !p.stale {
		return v, err
	}
	return c.e.finish(ctx, key, v, p, func(ctx context.Context) (V, error) { return c.fn(ctx, a) })
}

// Func returns Get as a plain function value, for code that takes a
// func(context.Context, A) (V, error).
func (c *Memo[A, V]) Func() func(context.Context, A) (V, error) {
	return func(ctx context.Context, a A) (V, error) { return c.Get(ctx, a) }
}

// Refresh calls fn(ctx, a) without reading the cache, stores the result
// and returns it.
func (c *Memo[A, V]) Refresh(ctx context.Context, a A) (V, error) {
	return c.Get(ctx, a, Refresh())
}

// Peek returns the cached value for a without calling fn. found is false
// on a miss. A cached error (negative caching) returns found and the
// [*CachedError]; Redis trouble returns an [*Error]. [Tags] is the only
// CallOption it heeds: a value a Get stored with call tags is read under
// the same tags, so give Peek the tags the Get was given (without them
// the entry's generation is not the one Peek expects, and it is a miss).
func (c *Memo[A, V]) Peek(ctx context.Context, a A, opts ...CallOption) (v V, found bool, err error) {
	key, err := c.Key(a)
	if err != nil {
		return v, false, err
	}
	return c.e.peek(ctx, key, opts)
}

// Set stores v as the cached value for a, as if fn had returned it: a
// write through the cache, for code that has just changed the value at
// its source. TTL is the only CallOption it heeds. Unlike Get, it
// returns Redis trouble, as an [*Error].
func (c *Memo[A, V]) Set(ctx context.Context, a A, v V, opts ...CallOption) error {
	key, err := c.Key(a)
	if err != nil {
		return err
	}
	return c.e.set(ctx, key, v, opts)
}

// Invalidate drops the cached value for a, in every process: it replaces
// the entry by a short-lived tombstone, so that no load in flight, in any
// process, stores the value it read before (see docs/format.md).
func (c *Memo[A, V]) Invalidate(ctx context.Context, a A) error {
	key, err := c.Key(a)
	if err != nil {
		return err
	}
	return c.e.invalidate(ctx, key)
}

// InvalidateAll drops the cached values for every argument in one O(1)
// call; see [Manager.InvalidateAll].
func (c *Memo[A, V]) InvalidateAll(ctx context.Context) error { return c.e.invalidateAll(ctx) }

// Key returns the Redis key under which the value for a is cached.
func (c *Memo[A, V]) Key(a A) (string, error) {
	var buf [keyBuf]byte
	b, err := c.appendKey(buf[:0], a)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// appendKey appends the key of a to dst. It takes a by value: a Get's
// argument, captured by its loader's closure, stays on the stack.
func (c *Memo[A, V]) appendKey(dst []byte, a A) ([]byte, error) {
	b := append(dst, c.e.base...)
	start := len(b)
	b, err := appendArg(b, &c.enc, &a)
	if err != nil {
		return nil, fmt.Errorf("redcache: key for %s: %w", c.e.name, err)
	}
	return hashTail(b, start, c.e.cfg.maxKeyLen), nil
}

// keyBuf is the size of the buffer on the stack in which a call builds
// its key: a key that fits is made a string only when the near cache
// does not serve the call.
const keyBuf = 256

// Name returns the name the function was memoized under.
func (c *Memo[A, V]) Name() string { return c.e.name }

// Memo0 is a function without arguments memoized with [Memoize0].
type Memo0[V any] struct {
	e   *engine[V]
	fn  func(context.Context) (V, error)
	key string
	kb  []byte // key, for the near cache's lookup
}

// Memoize0 caches the result of a function without arguments under the
// key "<prefix>:<name>"; see [Memoize] for the rules.
func Memoize0[V any](m *Manager, name string, fn func(context.Context) (V, error), opts ...Option) *Memo0[V] {
	e := memoizeEngine[V](m, name, opts)
	key := string(e.base[:len(e.base)-1])
	return &Memo0[V]{e: e, fn: fn, key: key, kb: []byte(key)}
}

// Get returns fn(ctx), from the cache when it holds it; see [Memo.Get].
func (c *Memo0[V]) Get(ctx context.Context, opts ...CallOption) (V, error) {
	if len(opts) == 0 {
		var v V
		if c.e.nearHit(ctx, c.kb, &v) {
			return v, nil
		}
	}
	v, p, err := c.e.read(ctx, c.key, opts)
	if !p.load && !p.stale {
		return v, err
	}
	return c.e.finish(ctx, c.key, v, p, c.fn)
}

// Func returns Get as a plain function value.
func (c *Memo0[V]) Func() func(context.Context) (V, error) {
	return func(ctx context.Context) (V, error) { return c.Get(ctx) }
}

// Refresh calls fn without reading the cache, stores the result and
// returns it.
func (c *Memo0[V]) Refresh(ctx context.Context) (V, error) { return c.Get(ctx, Refresh()) }

// Peek returns the cached value without calling fn; see [Memo.Peek].
func (c *Memo0[V]) Peek(ctx context.Context, opts ...CallOption) (V, bool, error) {
	return c.e.peek(ctx, c.key, opts)
}

// Set stores v as the cached value; see [Memo.Set].
func (c *Memo0[V]) Set(ctx context.Context, v V, opts ...CallOption) error {
	return c.e.set(ctx, c.key, v, opts)
}

// Invalidate drops the cached value, in every process; see [Memo.Invalidate].
func (c *Memo0[V]) Invalidate(ctx context.Context) error { return c.e.invalidate(ctx, c.key) }

// Key returns the Redis key of the cached value.
func (c *Memo0[V]) Key() string { return c.key }

// Name returns the name the function was memoized under.
func (c *Memo0[V]) Name() string { return c.e.name }

// Memo2 is a function of two arguments memoized with [Memoize2].
type Memo2[A, B, V any] struct {
	e          *engine[V]
	fn         func(context.Context, A, B) (V, error)
	encA, encB argEncoder
}

// Memoize2 caches a function of two arguments under keys
// "<prefix>:<name>:<a>,<b>"; see [Memoize] for the rules. For more
// arguments, pass a struct to Memoize.
func Memoize2[A, B, V any](m *Manager, name string, fn func(context.Context, A, B) (V, error), opts ...Option) *Memo2[A, B, V] {
	encA, err := encoderFor(reflect.TypeOf((*A)(nil)).Elem())
	if err == nil {
		var encB argEncoder
		if encB, err = encoderFor(reflect.TypeOf((*B)(nil)).Elem()); err == nil {
			return &Memo2[A, B, V]{e: memoizeEngine[V](m, name, opts), fn: fn, encA: encA, encB: encB}
		}
	}
	panic(fmt.Errorf("redcache: Memoize2(%q): %w", name, err))
}

// Get returns fn(ctx, a, b), from the cache when it holds it; see
// [Memo.Get].
func (c *Memo2[A, B, V]) Get(ctx context.Context, a A, b B, opts ...CallOption) (V, error) {
	var buf [keyBuf]byte
	kb, err := c.appendKey(buf[:0], a, b)
	if err != nil {
		var zero V
		return zero, err
	}
	if len(opts) == 0 {
		var v V
		if c.e.nearHit(ctx, kb, &v) {
			return v, nil
		}
	}
	key := string(kb)
	v, p, err := c.e.read(ctx, key, opts)
	if !p.load && !p.stale {
		return v, err
	}
	return c.e.finish(ctx, key, v, p, func(ctx context.Context) (V, error) { return c.fn(ctx, a, b) })
}

// Func returns Get as a plain function value.
func (c *Memo2[A, B, V]) Func() func(context.Context, A, B) (V, error) {
	return func(ctx context.Context, a A, b B) (V, error) { return c.Get(ctx, a, b) }
}

// Refresh calls fn(ctx, a, b) without reading the cache, stores the
// result and returns it.
func (c *Memo2[A, B, V]) Refresh(ctx context.Context, a A, b B) (V, error) {
	return c.Get(ctx, a, b, Refresh())
}

// Peek returns the cached value without calling fn; see [Memo.Peek].
func (c *Memo2[A, B, V]) Peek(ctx context.Context, a A, b B, opts ...CallOption) (V, bool, error) {
	key, err := c.Key(a, b)
	if err != nil {
		var zero V
		return zero, false, err
	}
	return c.e.peek(ctx, key, opts)
}

// Set stores v as the cached value for (a, b); see [Memo.Set].
func (c *Memo2[A, B, V]) Set(ctx context.Context, a A, b B, v V, opts ...CallOption) error {
	key, err := c.Key(a, b)
	if err != nil {
		return err
	}
	return c.e.set(ctx, key, v, opts)
}

// Invalidate drops the cached value for (a, b), in every process; see
// [Memo.Invalidate].
func (c *Memo2[A, B, V]) Invalidate(ctx context.Context, a A, b B) error {
	key, err := c.Key(a, b)
	if err != nil {
		return err
	}
	return c.e.invalidate(ctx, key)
}

// InvalidateAll drops the cached values for every argument; see
// [Manager.InvalidateAll].
func (c *Memo2[A, B, V]) InvalidateAll(ctx context.Context) error { return c.e.invalidateAll(ctx) }

// Key returns the Redis key under which the value for (a, b) is cached.
func (c *Memo2[A, B, V]) Key(a A, b B) (string, error) {
	var buf [keyBuf]byte
	k, err := c.appendKey(buf[:0], a, b)
	if err != nil {
		return "", err
	}
	return string(k), nil
}

// appendKey appends the key of (a, b) to dst; see [Memo.appendKey].
func (c *Memo2[A, B, V]) appendKey(dst []byte, a A, b B) ([]byte, error) {
	k := append(dst, c.e.base...)
	start := len(k)
	k, err := appendArg(k, &c.encA, &a)
	if err == nil {
		k, err = appendArg(append(k, ','), &c.encB, &b)
	}
	if err != nil {
		return nil, fmt.Errorf("redcache: key for %s: %w", c.e.name, err)
	}
	return hashTail(k, start, c.e.cfg.maxKeyLen), nil
}

// Name returns the name the function was memoized under.
func (c *Memo2[A, B, V]) Name() string { return c.e.name }
