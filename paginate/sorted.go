package paginate

import (
	"context"
	"math"
	"time"
)

// Sorted is a list ordered by score, highest first: a feed (the score is
// the time, newest first) or a leaderboard. Items with the same score are
// ordered by id, descending. Like [List] it is stored item by item and
// read at O(log N + page size), it is cheap to create per request, and it
// is safe for concurrent use.
type Sorted[T any] struct {
	f *family[T]
}

// NewSorted returns the sorted list called name; see [NewList] for name
// and id.
func NewSorted[T any](name string, id func(T) string, opts ...Option) (*Sorted[T], error) {
	f, err := newFamily(name, id, opts)
	if err != nil {
		return nil, err
	}
	return &Sorted[T]{f: f}, nil
}

// Replace writes items as the whole list, kept for ttl (0: until
// deleted), atomically as [List.Replace] does. Scores must be finite.
func (s *Sorted[T]) Replace(ctx context.Context, items []Scored[T], ttl time.Duration) error {
	entries := make([]entry[T], len(items))
	for i, it := range items {
		entries[i] = entry[T]{item: it.Item, score: it.Score}
	}
	return s.f.replace(ctx, entries, ttl)
}

// Add adds items, or updates the value and score of those whose id the
// list holds, and returns the list's new length: O(log N) per item, one
// round trip. On a list that is not in Redis it returns [ErrMiss] and
// writes nothing.
func (s *Sorted[T]) Add(ctx context.Context, items ...Scored[T]) (int, error) {
	if len(items) == 0 {
		return s.Len(ctx)
	}
	vals := make([]T, len(items))
	scores := make([]float64, len(items))
	for i, it := range items {
		vals[i], scores[i] = it.Item, it.Score
	}
	args, err := s.f.encodeAll(vals, scores)
	if err != nil {
		return 0, err
	}
	n, err := s.f.write(ctx, "add", args...)
	return int(n), err
}

// SetScore moves the item id to score and reports whether the list held
// it; it does not add an item. O(log N). On a list that is not in Redis
// it returns [ErrMiss].
func (s *Sorted[T]) SetScore(ctx context.Context, id string, score float64) (bool, error) {
	if math.IsNaN(score) || math.IsInf(score, 0) {
		return false, badArg("score %v (NaN and infinities are refused)", score)
	}
	n, err := s.f.write(ctx, "score", id, formatScore(score))
	return n == 1, err
}

// Remove removes the items with the given ids and returns how many the
// list held; see [List.Remove].
func (s *Sorted[T]) Remove(ctx context.Context, ids ...string) (int, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	n, err := s.f.write(ctx, "remove", args...)
	return int(n), err
}

// Len returns the length of the list, or [ErrMiss].
func (s *Sorted[T]) Len(ctx context.Context) (int, error) { return s.f.length(ctx) }

// Delete drops the list. Deleting a list that is not there is no error.
func (s *Sorted[T]) Delete(ctx context.Context) error { return s.f.delete(ctx) }

// Page returns page number (from 1) of size items, highest score first,
// in one round trip. Its arguments and errors are [List.Page]'s.
func (s *Sorted[T]) Page(ctx context.Context, number, size int) (Page[Scored[T]], error) {
	start, stop, err := pageBounds(number, size)
	if err != nil {
		return Page[Scored[T]]{}, err
	}
	w, err := s.f.read(ctx, "", "rank", itoa(start), itoa(stop), "1")
	if err != nil {
		return Page[Scored[T]]{}, err
	}
	p := s.page(w, start > 0 && w.total > 0, start+int64(len(w.items)) < int64(w.total))
	p.Number, p.Size = number, size
	return p, nil
}

// ByScore returns up to limit items whose score is between min and max
// (both included; -Inf and +Inf are open ends), highest first, skipping
// the first offset of them. Its cost is O(log N + offset + limit): page
// deep score ranges with After rather than with a large offset. HasPrev
// is offset > 0; HasNext tells whether more items of the range follow.
func (s *Sorted[T]) ByScore(ctx context.Context, min, max float64, offset, limit int) (Page[Scored[T]], error) {
	if _, _, err := rangeBounds(offset, limit); err != nil {
		return Page[Scored[T]]{}, err
	}
	if math.IsNaN(min) || math.IsNaN(max) {
		return Page[Scored[T]]{}, badArg("NaN score bound")
	}
	w, err := s.f.read(ctx, "", "score", bound(min), bound(max), itoa(int64(offset)), itoa(int64(limit)+1), "1")
	if err != nil {
		return Page[Scored[T]]{}, err
	}
	more := w.trim(limit)
	p := s.page(w, offset > 0, more)
	p.Size = limit
	return p, nil
}

// After returns up to limit items that follow cursor (a page's Next), in
// the list's order. A cursor is a score and an id: the items after it
// are those with a lower score, or the same score and a lower id, so it
// holds its place when items are added, removed or rescored, the cursor's
// own item included. Its errors are [List.After]'s.
func (s *Sorted[T]) After(ctx context.Context, cur Cursor, limit int) (Page[Scored[T]], error) {
	if limit <= 0 {
		return Page[Scored[T]]{}, badArg("limit %d, must be at least 1", limit)
	}
	c, err := parseCursor(s.f.cfg, s.f.keys, kindSorted, cur)
	if err != nil {
		return Page[Scored[T]]{}, err
	}
	w, err := s.f.read(ctx, c.version, "after", formatScore(c.score), c.member, itoa(int64(limit)+1), "1")
	if err != nil {
		return Page[Scored[T]]{}, err
	}
	if err := c.verify(s.f.cfg, s.f.keys, w.pointer); err != nil {
		return Page[Scored[T]]{}, err
	}
	more := w.trim(limit)
	p := s.page(w, true, more)
	p.Size = limit
	return p, nil
}

func (s *Sorted[T]) page(w window[T], hasPrev, hasNext bool) Page[Scored[T]] {
	p := Page[Scored[T]]{Items: make([]Scored[T], len(w.items)), Total: w.total, HasPrev: hasPrev, HasNext: hasNext}
	for i := range w.items {
		p.Items[i] = Scored[T]{Item: w.items[i], Score: w.scores[i]}
	}
	if n := len(w.items); n > 0 {
		p.Next = newCursor(s.f.cfg, s.f.keys, kindSorted, w.pointer, w.scores[n-1], w.ids[n-1])
	}
	return p
}

// bound formats a score range's end, infinities included.
func bound(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return formatScore(v)
}
