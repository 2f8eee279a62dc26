package paginate

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/core"
)

// Memo is a memoized list: a loader's whole list, filled into Redis once
// under core's stampede control, then served page by page from there.
// Create one with [Memoize]. It is safe for concurrent use.
//
// A Memo keeps two things per argument: the list itself (as a [List]
// does, under "paginate:{<key>}:...") and, through core, a small entry
// under the argument's key that names the version of the list a fill
// wrote. A page is served from Redis only when that entry names the
// version Redis holds, and core never stores the entry of a fill that an
// Invalidate overtook (its fence): so an Invalidate is never undone by a
// fill that was in flight, in this process or another.
type Memo[A, T any] struct {
	marker *core.Memo[A, marker[T]]
	cfg    memoConfig
}

// marker is what core stores for one argument: the pointer of the
// version the fill wrote (version and cursor secret; empty when the fill
// could not write it). items is the loader's list, kept in memory for the
// callers of the flight that loaded it only: codecs skip unexported
// fields, so it never reaches Redis.
type marker[T any] struct {
	Pointer string
	Total   int
	items   []T
	loaded  bool
}

// MemoOption configures a [Memo] (given to [Memoize]). A nil MemoOption
// is ignored.
type MemoOption func(*memoConfig)

type memoConfig struct {
	ttl   time.Duration
	codec codec.Codec
	core  []core.Option
}

// WithTTL keeps each argument's list for ttl (0, the default: until
// invalidated or evicted). It is also the ttl of core's entry for the
// argument, so that neither outlives the other.
func WithTTL(ttl time.Duration) MemoOption { return func(c *memoConfig) { c.ttl = ttl } }

// WithItemCodec sets the codec of the list's items. The default is the
// codec of the core function that guards the fills (core.Memo.Codec: its
// WithCodec, else its Manager's, else codec.Gob), so that a Manager's
// codec holds for its lists too.
func WithItemCodec(cd codec.Codec) MemoOption {
	return func(c *memoConfig) {
		if cd != nil {
			c.codec = cd
		}
	}
}

// WithCoreOptions passes options to the core function that guards the
// fills (a timeout, a breaker, an error handler, a driver). WithTTL sets
// core's ttl already.
func WithCoreOptions(opts ...core.Option) MemoOption {
	return func(c *memoConfig) { c.core = append(c.core, opts...) }
}

// Memoize memoizes loader, which returns the whole list for an argument,
// as a function of (argument, page number, page size); see [Memo]. m's
// driver resolution, stampede control, fences, breaker and error handler
// guard the fills; name is the function's name in m, as for
// core.Memoize.
//
// Lists live in the Redis that core's entry for the argument does
// (core.Memo.Driver: a fixed core.WithDriver, else the call's context
// (conn.With), else the connection stack), so with a driver per request
// each tenant's lists live in its own Redis. A Manager with a near cache (core.WithNearCache) keeps
// the list a fill loaded in process memory, and serves pages from it, for
// its near ttl.
func Memoize[A, T any](m *core.Manager, name string, loader func(ctx context.Context, a A) ([]T, error), opts ...MemoOption) *Memo[A, T] {
	var cfg memoConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	mo := &Memo[A, T]{cfg: cfg}
	fill := func(ctx context.Context, a A) (marker[T], error) {
		items, err := loader(ctx, a)
		if err != nil {
			return marker[T]{}, err
		}
		mk := marker[T]{Total: len(items), items: items, loaded: true}
		f, err := mo.family(a)
		if err != nil {
			return marker[T]{}, err
		}
		entries := make([]entry[T], len(items))
		for i, it := range items {
			entries[i] = entry[T]{item: it, score: float64(i), id: strconv.Itoa(i)}
		}
		// A fill that cannot write the list still serves its callers from
		// memory; the empty pointer it leaves in core is a miss.
		mk.Pointer, _ = f.replacePointer(ctx, entries, cfg.ttl)
		return mk, nil
	}
	mo.marker = core.Memoize(m, name, fill, append([]core.Option{core.WithTTL(cfg.ttl)}, cfg.core...)...)
	if mo.cfg.codec == nil {
		mo.cfg.codec = mo.marker.Codec()
	}
	return mo
}

// family returns the list of argument a.
func (mo *Memo[A, T]) family(a A) (*family[T], error) {
	key, err := mo.marker.Key(a)
	if err != nil {
		return nil, err
	}
	k, err := newKeys("paginate", key)
	if err != nil {
		return nil, err
	}
	return &family[T]{cfg: config{codec: mo.cfg.codec}, keys: k, items: newItemCodec[T](mo.cfg.codec, k.id),
		resolve: mo.marker.Driver}, nil
}

// Get returns page number (from 1) of size items of a's list. On a miss
// it runs the loader once for every concurrent caller (core's stampede
// control), writes the whole list, and slices the page from the loaded
// list; after that, pages come from Redis in one script each. When Redis
// is down it falls back to the loader and slices the page itself. A size
// or number below 1 is an error matching conn.ErrBadArg; the loader's
// error is returned as it is. Pages of a Memo carry no cursor (Next is
// empty): read them by number.
func (mo *Memo[A, T]) Get(ctx context.Context, a A, number, size int) (Page[T], error) {
	start, stop, err := pageBounds(number, size)
	if err != nil {
		return Page[T]{}, err
	}
	mk, err := mo.marker.Get(ctx, a)
	if err != nil {
		return Page[T]{}, err
	}
	if !mk.loaded && mk.Pointer != "" {
		p, err := mo.read(ctx, a, mk.Pointer, start, stop)
		if err == nil {
			p.Number, p.Size = number, size
			return p, nil
		}
		if ctx.Err() != nil {
			return Page[T]{}, ctx.Err()
		}
		// The list is gone, corrupt, of another version, or out of reach:
		// fill it again, under the flight control.
		if mk, err = mo.marker.Get(ctx, a, core.Refresh()); err != nil {
			return Page[T]{}, err
		}
	} else if !mk.loaded {
		if mk, err = mo.marker.Get(ctx, a, core.Refresh()); err != nil {
			return Page[T]{}, err
		}
	}
	return slicePage(mk.items, start, number, size), nil
}

// read reads a page of the version that pointer names.
func (mo *Memo[A, T]) read(ctx context.Context, a A, pointer string, start, stop int64) (Page[T], error) {
	f, err := mo.family(a)
	if err != nil {
		return Page[T]{}, err
	}
	w, err := f.read(ctx, pointer[:min(len(pointer), 16)], "rank", itoa(start), itoa(stop), "0")
	if errors.Is(err, ErrStaleCursor) {
		err = ErrMiss
	}
	if err != nil {
		return Page[T]{}, err
	}
	return Page[T]{Items: w.items, Total: w.total, HasPrev: start > 0 && w.total > 0,
		HasNext: start+int64(len(w.items)) < int64(w.total)}, nil
}

// slicePage cuts a page out of a list held in memory.
func slicePage[T any](items []T, start int64, number, size int) Page[T] {
	n := int64(len(items))
	from := min(start, n)
	to := min(start+int64(size), n)
	p := Page[T]{Number: number, Size: size, Total: len(items), HasPrev: start > 0 && n > 0, HasNext: to < n}
	if from < to {
		p.Items = append([]T(nil), items[from:to]...)
	}
	return p
}

// Func returns Get as a plain function.
func (mo *Memo[A, T]) Func() func(ctx context.Context, a A, number, size int) (Page[T], error) {
	return mo.Get
}

// Invalidate drops a's list in every process: core's entry for a is
// replaced by a tombstone (which fences the fills in flight), and the
// list's keys are deleted. The next Get fills it again.
func (mo *Memo[A, T]) Invalidate(ctx context.Context, a A) error {
	if err := mo.marker.Invalidate(ctx, a); err != nil {
		return err
	}
	f, err := mo.family(a)
	if err != nil {
		return err
	}
	return f.delete(ctx)
}

// InvalidateAll drops the lists of every argument, in O(1): core's
// generation of the function moves on, so no entry names a list any
// more; the lists' keys expire with their ttl, or are replaced by the
// next fill of their argument.
func (mo *Memo[A, T]) InvalidateAll(ctx context.Context) error { return mo.marker.InvalidateAll(ctx) }

// Key returns the key of core's entry for a. The keys of a's list start
// with "paginate:{<key>}:" (its pointer is "paginate:{<key>}:ptr"), in the
// same Redis and, on a cluster, the same hash slot as one another.
func (mo *Memo[A, T]) Key(a A) (string, error) { return mo.marker.Key(a) }
