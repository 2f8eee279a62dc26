package tests_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/paginate"
)

// walk pages on with After from cur until the list ends, and returns the
// ids it saw.
func walk(ctx context.Context, t *testing.T, l *paginate.List[product], cur paginate.Cursor, limit int) []string {
	t.Helper()
	var seen []string
	for range 1000 {
		p, err := l.After(ctx, cur, limit)
		if err != nil {
			t.Fatalf("After: %v", err)
		}
		if len(p.Items) > limit || p.Size != limit || p.Number != 0 || !p.HasPrev {
			t.Fatalf("After page: %d items, Size %d, Number %d, HasPrev %v", len(p.Items), p.Size, p.Number, p.HasPrev)
		}
		for _, it := range p.Items {
			seen = append(seen, it.ID)
		}
		if !p.HasNext {
			return seen
		}
		cur = p.Next
	}
	t.Fatal("After never reached the end")
	return nil
}

// TestListCursorStable pages on with a cursor while items are prepended,
// appended and removed around it: nothing is repeated or skipped.
func TestListCursorStable(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		l := newList(t, d, "cursor")
		if err := l.Replace(ctx, products(1, 10), time.Minute); err != nil {
			t.Fatal(err)
		}
		p, err := l.Page(ctx, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Prepend(ctx, products(2, 4)...); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, products(3, 2)...); err != nil {
			t.Fatal(err)
		}
		// Removing the cursor's own item does not lose the place.
		if _, err := l.Remove(ctx, itemID(1, 2), itemID(1, 5)); err != nil {
			t.Fatal(err)
		}
		got := walk(ctx, t, l, p.Next, 3)
		want := append(append(ids(1, 3, 5), ids(1, 6, 10)...), ids(3, 0, 2)...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("items after the cursor (-want +got):\n%s", diff)
		}
	})
}

func TestListCursorRefused(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		l := newList(t, d, "cursor")
		other := newList(t, d, "other")
		sorted, err := paginate.NewSorted("cursor", productID, paginate.WithDriver(d), paginate.WithPrefix(uniquePrefix(t)))
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []*paginate.List[product]{l, other} {
			if err := x.Replace(ctx, products(1, 10), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if err := sorted.Replace(ctx, []paginate.Scored[product]{{Item: products(1, 1)[0], Score: 1}}, time.Minute); err != nil {
			t.Fatal(err)
		}
		p, err := l.Page(ctx, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		foreign, err := other.Page(ctx, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := sorted.Page(ctx, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		flipped := []byte(p.Next)
		flipped[len(flipped)/2] ^= 1
		for name, cur := range map[string]paginate.Cursor{
			"empty":             "",
			"not base64":        "!!!",
			"short":             p.Next[:10],
			"one bit changed":   paginate.Cursor(flipped),
			"another list's":    foreign.Next,
			"a sorted list's":   sp.Next,
			"truncated mac":     p.Next[:len(p.Next)-2],
			"extended":          p.Next + "AA",
			"garbage same size": paginate.Cursor(make([]byte, len(p.Next))),
		} {
			if _, err := l.After(ctx, cur, 3); !errors.Is(err, paginate.ErrBadCursor) || errors.Is(err, paginate.ErrStaleCursor) {
				t.Errorf("%s cursor: %v, want ErrBadCursor", name, err)
			}
		}
		if err := l.Replace(ctx, products(2, 10), time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := l.After(ctx, p.Next, 3); !errors.Is(err, paginate.ErrStaleCursor) || !errors.Is(err, paginate.ErrBadCursor) {
			t.Errorf("cursor from before a Replace: %v, want ErrStaleCursor", err)
		}
	})
}

// TestListCursorKey signs cursors with a key every process shares: a
// cursor signed with another key is refused before Redis is asked.
func TestListCursorKey(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		open := func(key string) *paginate.List[product] {
			l, err := paginate.NewList("keyed", productID, paginate.WithDriver(d), paginate.WithPrefix(prefix), paginate.WithCursorKey([]byte(key)))
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		a, b, other := open("0123456789abcdef"), open("0123456789abcdef"), open("fedcba9876543210")
		if err := a.Replace(ctx, products(1, 6), time.Minute); err != nil {
			t.Fatal(err)
		}
		p, err := a.Page(ctx, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := walk(ctx, t, b, p.Next, 2); !cmp.Equal(got, ids(1, 2, 6)) {
			t.Errorf("a process with the same key read %v", got)
		}
		if _, err := other.After(ctx, p.Next, 2); !errors.Is(err, paginate.ErrBadCursor) {
			t.Errorf("a cursor signed with another key: %v, want ErrBadCursor", err)
		}
	})
}
