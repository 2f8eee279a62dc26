package paginate

import (
	"context"
	"time"
)

// List is an ordered list cached in Redis item by item, read page by
// page at O(log N + page size) however deep the page. Create one with
// [NewList]; it holds no state of its own beyond its settings, so
// creating one per request (a list per user) is cheap. It is safe for
// concurrent use.
//
// Items are identified by the id function given to NewList: an id names
// one item of the list, for Remove, and appending an id the list holds
// already moves that item to the end.
type List[T any] struct {
	f *family[T]
}

// NewList returns the list called name. id returns an item's id, unique
// within the list (a primary key). It refuses an empty name, one that
// starts with '}', and a nil id, with an error matching conn.ErrBadArg.
func NewList[T any](name string, id func(T) string, opts ...Option) (*List[T], error) {
	f, err := newFamily(name, id, opts)
	if err != nil {
		return nil, err
	}
	return &List[T]{f: f}, nil
}

// Replace writes items as the whole list, kept for ttl (0: until deleted).
// It is atomic: the new version is built under keys of its own, in
// pipelines, then a script switches the list to it, so a reader sees the
// whole old list or the whole new one, never a mix and never an empty
// gap. Items with the same id, or a negative ttl, are refused before
// anything is written. When the new version does not reach Redis whole,
// Replace returns an error matching [ErrIncomplete] and the old list
// stays.
func (l *List[T]) Replace(ctx context.Context, items []T, ttl time.Duration) error {
	entries := make([]entry[T], len(items))
	for i, it := range items {
		entries[i] = entry[T]{item: it, score: float64(i)}
	}
	return l.f.replace(ctx, entries, ttl)
}

// Append adds items at the end of the list, in order, and returns its new
// length. An item whose id the list holds already is moved to the end
// with its new value. On a list that is not in Redis it returns
// [ErrMiss] and writes nothing: a cache must not start a partial list.
// Its cost is O(log N) per item, in one round trip.
func (l *List[T]) Append(ctx context.Context, items ...T) (int, error) {
	return l.push(ctx, "append", items)
}

// Prepend adds items at the front of the list, each before the list's
// first, so the last of items ends up first. Otherwise as [List.Append].
func (l *List[T]) Prepend(ctx context.Context, items ...T) (int, error) {
	return l.push(ctx, "prepend", items)
}

func (l *List[T]) push(ctx context.Context, op string, items []T) (int, error) {
	if len(items) == 0 {
		return l.Len(ctx)
	}
	args, err := l.f.encodeAll(items, nil)
	if err != nil {
		return 0, err
	}
	n, err := l.f.write(ctx, op, args...)
	return int(n), err
}

// Remove removes the items with the given ids and returns how many the
// list held, at O(log N) each, in one round trip. On a list that is not
// in Redis it returns [ErrMiss].
func (l *List[T]) Remove(ctx context.Context, ids ...string) (int, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	n, err := l.f.write(ctx, "remove", args...)
	return int(n), err
}

// Len returns the length of the list, or [ErrMiss].
func (l *List[T]) Len(ctx context.Context) (int, error) { return l.f.length(ctx) }

// Delete drops the list. Deleting a list that is not there is no error.
func (l *List[T]) Delete(ctx context.Context) error { return l.f.delete(ctx) }

// Page returns page number (from 1) of size items, in one round trip. A
// size below 1 or a number below 1 is an error matching conn.ErrBadArg; a
// page past the end is empty, with Total, HasPrev and HasNext set. A
// list that is not in Redis, or a page holding an item that cannot be
// read, is [ErrMiss].
func (l *List[T]) Page(ctx context.Context, number, size int) (Page[T], error) {
	start, stop, err := pageBounds(number, size)
	if err != nil {
		return Page[T]{}, err
	}
	p, err := l.window(ctx, start, stop)
	p.Number, p.Size = number, size
	return p, err
}

// Range returns up to limit items from offset (0-based), as a Page whose
// Number is 0. Its errors are Page's.
func (l *List[T]) Range(ctx context.Context, offset, limit int) (Page[T], error) {
	start, stop, err := rangeBounds(offset, limit)
	if err != nil {
		return Page[T]{}, err
	}
	p, err := l.window(ctx, start, stop)
	p.Size = limit
	return p, err
}

func (l *List[T]) window(ctx context.Context, start, stop int64) (Page[T], error) {
	w, err := l.f.read(ctx, "", "rank", itoa(start), itoa(stop), "0")
	if err != nil {
		return Page[T]{}, err
	}
	return l.page(w, start > 0 && w.total > 0, start+int64(len(w.items)) < int64(w.total)), nil
}

func (l *List[T]) page(w window[T], hasPrev, hasNext bool) Page[T] {
	p := Page[T]{Items: w.items, Total: w.total, HasPrev: hasPrev, HasNext: hasNext}
	if n := len(w.items); n > 0 {
		p.Next = newCursor(l.f.cfg, l.f.keys, kindList, w.pointer, w.scores[n-1], w.ids[n-1])
	}
	return p
}

// After returns up to limit items that follow cursor (a page's Next), as
// a Page whose Number is 0. The place a cursor marks does not move when
// items are appended or prepended, or when other items are removed, so
// paging on with After neither repeats nor skips an item. A cursor that
// this list did not issue is [ErrBadCursor]; one issued before the last
// Replace is [ErrStaleCursor].
func (l *List[T]) After(ctx context.Context, cur Cursor, limit int) (Page[T], error) {
	if limit <= 0 {
		return Page[T]{}, badArg("limit %d, must be at least 1", limit)
	}
	c, err := parseCursor(l.f.cfg, l.f.keys, kindList, cur)
	if err != nil {
		return Page[T]{}, err
	}
	w, err := l.f.read(ctx, c.version, "after", formatScore(c.score), c.member, itoa(int64(limit)+1), "0")
	if err != nil {
		return Page[T]{}, err
	}
	if err := c.verify(l.f.cfg, l.f.keys, w.pointer); err != nil {
		return Page[T]{}, err
	}
	more := w.trim(limit)
	p := l.page(w, true, more)
	p.Size = limit
	return p, nil
}
