package tests_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/paginate"
)

// post is a feed item; its score is its time.
type post struct {
	ID   string
	Text string
}

func postID(p post) string { return p.ID }

func newFeed(t *testing.T, d conn.Driver, name string) *paginate.Sorted[post] {
	t.Helper()
	s, err := paginate.NewSorted(name, postID, paginate.WithDriver(d), paginate.WithPrefix(uniquePrefix(t)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// feed returns n posts p00..p(n-1) with scores 100, 110, ... so that the
// newest (highest) is last.
func feed(n int) []paginate.Scored[post] {
	out := make([]paginate.Scored[post], n)
	for i := range out {
		id := string(rune('a'+i/10)) + string(rune('0'+i%10))
		out[i] = paginate.Scored[post]{Item: post{ID: id, Text: "post " + id}, Score: float64(100 + 10*i)}
	}
	return out
}

func scoredIDs(p paginate.Page[paginate.Scored[post]]) []string {
	var out []string
	for _, it := range p.Items {
		out = append(out, it.Item.ID)
	}
	return out
}

func TestSortedNewestFirst(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		s := newFeed(t, d, "feed")
		if err := s.Replace(ctx, feed(25), time.Minute); err != nil {
			t.Fatal(err)
		}
		p, err := s.Page(ctx, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		want := []paginate.Scored[post]{feed(25)[24], feed(25)[23], feed(25)[22]}
		if diff := cmp.Diff(want, p.Items); diff != "" {
			t.Errorf("page 1, newest first (-want +got):\n%s", diff)
		}
		if p.Total != 25 || p.HasPrev || !p.HasNext {
			t.Errorf("page 1: Total %d, HasPrev %v, HasNext %v", p.Total, p.HasPrev, p.HasNext)
		}
		p9, err := s.Page(ctx, 9, 3)
		if err != nil {
			t.Fatal(err)
		}
		if got := scoredIDs(p9); !cmp.Equal(got, []string{"a0"}) || p9.HasNext || !p9.HasPrev {
			t.Errorf("last page: %v, HasNext %v, HasPrev %v", got, p9.HasNext, p9.HasPrev)
		}
		if _, err := s.Page(ctx, 1, 0); !errors.Is(err, conn.ErrBadArg) {
			t.Errorf("size 0: %v, want conn.ErrBadArg", err)
		}
	})
}

func TestSortedByScore(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		s := newFeed(t, d, "range")
		if err := s.Replace(ctx, feed(25), time.Minute); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			min, max      float64
			offset, limit int
			want          []string
			hasNext       bool
		}{
			{150, 200, 0, 10, []string{"b0", "a9", "a8", "a7", "a6", "a5"}, false},
			{150, 200, 0, 4, []string{"b0", "a9", "a8", "a7"}, true},
			{150, 200, 4, 4, []string{"a6", "a5"}, false},
			{151, 159, 0, 4, nil, false},
			{math.Inf(-1), 120, 0, 10, []string{"a2", "a1", "a0"}, false},
			{330, math.Inf(1), 0, 10, []string{"c4", "c3"}, false},
		} {
			p, err := s.ByScore(ctx, tc.min, tc.max, tc.offset, tc.limit)
			if err != nil {
				t.Fatalf("ByScore(%v, %v, %d, %d): %v", tc.min, tc.max, tc.offset, tc.limit, err)
			}
			if got := scoredIDs(p); !cmp.Equal(got, tc.want) || p.HasNext != tc.hasNext || p.HasPrev != (tc.offset > 0) || p.Total != 25 {
				t.Errorf("ByScore(%v, %v, %d, %d) = %v (HasNext %v, HasPrev %v, Total %d), want %v (HasNext %v)",
					tc.min, tc.max, tc.offset, tc.limit, got, p.HasNext, p.HasPrev, p.Total, tc.want, tc.hasNext)
			}
		}
		if _, err := s.ByScore(ctx, math.NaN(), 1, 0, 1); !errors.Is(err, conn.ErrBadArg) {
			t.Errorf("NaN bound: %v, want conn.ErrBadArg", err)
		}
	})
}

// TestSortedCursor pages a feed with a cursor while posts arrive, scores
// change and the cursor's own post leaves: the cursor (score, id) keeps
// its place, ties included.
func TestSortedCursor(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		s := newFeed(t, d, "cursor")
		items := feed(10)
		// Three posts tied at 150 with a5: ties are ordered by id, descending.
		items = append(items,
			paginate.Scored[post]{Item: post{ID: "a5a"}, Score: 150},
			paginate.Scored[post]{Item: post{ID: "a4z"}, Score: 150},
			paginate.Scored[post]{Item: post{ID: "a5b"}, Score: 150})
		if err := s.Replace(ctx, items, time.Minute); err != nil {
			t.Fatal(err)
		}
		p, err := s.Page(ctx, 1, 5)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := scoredIDs(p), []string{"a9", "a8", "a7", "a6", "a5b"}; !cmp.Equal(got, want) {
			t.Fatalf("page 1 = %v, want %v", got, want)
		}
		// New posts arrive on top, the cursor's post leaves, one post
		// behind the cursor is rescored above it, one above it below.
		if _, err := s.Add(ctx, paginate.Scored[post]{Item: post{ID: "new"}, Score: 1000}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Remove(ctx, "a5b"); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.SetScore(ctx, "a2", 500); err != nil || !ok {
			t.Fatalf("SetScore(a2) = %v, %v", ok, err)
		}
		if ok, err := s.SetScore(ctx, "a8", 115); err != nil || !ok {
			t.Fatalf("SetScore(a8) = %v, %v", ok, err)
		}
		if ok, err := s.SetScore(ctx, "gone", 1); err != nil || ok {
			t.Errorf("SetScore of an absent id = %v, %v; want false, and no item added", ok, err)
		}
		var got []string
		cur := p.Next
		for {
			q, err := s.After(ctx, cur, 2)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, scoredIDs(q)...)
			if !q.HasNext {
				break
			}
			cur = q.Next
		}
		want := []string{"a5a", "a5", "a4z", "a4", "a3", "a8", "a1", "a0"}
		if !cmp.Equal(got, want) {
			t.Errorf("after the cursor: %v, want %v", got, want)
		}
		if n, err := s.Len(ctx); err != nil || n != 13 {
			t.Errorf("Len = %d, %v; want 13", n, err)
		}
		if _, err := s.Add(ctx, paginate.Scored[post]{Item: post{ID: "x"}, Score: math.Inf(1)}); !errors.Is(err, conn.ErrBadArg) {
			t.Errorf("an infinite score: %v, want conn.ErrBadArg", err)
		}
		if err := s.Delete(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetScore(ctx, "a1", 1); !errors.Is(err, paginate.ErrMiss) {
			t.Errorf("SetScore on a missing list: %v, want ErrMiss", err)
		}
	})
}
