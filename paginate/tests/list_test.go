package tests_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/paginate"
)

func newList(t *testing.T, d conn.Driver, name string, opts ...paginate.Option) *paginate.List[product] {
	t.Helper()
	l, err := paginate.NewList(name, productID, append([]paginate.Option{paginate.WithDriver(d), paginate.WithPrefix(uniquePrefix(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// pageOf is what a page says, without its cursor.
type pageOf struct {
	IDs              []string
	Number, Size     int
	Total            int
	HasPrev, HasNext bool
}

func summary[E any](p paginate.Page[E], id func(E) string) pageOf {
	s := pageOf{Number: p.Number, Size: p.Size, Total: p.Total, HasPrev: p.HasPrev, HasNext: p.HasNext}
	for _, it := range p.Items {
		s.IDs = append(s.IDs, id(it))
	}
	return s
}

func ids(gen int, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, itemID(gen, i))
	}
	return out
}

func TestListPage(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		l := newList(t, d, "products")
		if err := l.Replace(ctx, products(1, 25), time.Minute); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			number, size int
			want         pageOf
		}{
			{1, 10, pageOf{ids(1, 0, 10), 1, 10, 25, false, true}},
			{2, 10, pageOf{ids(1, 10, 20), 2, 10, 25, true, true}},
			{3, 10, pageOf{ids(1, 20, 25), 3, 10, 25, true, false}},
			{4, 10, pageOf{nil, 4, 10, 25, true, false}}, // past the end
			{1, 100, pageOf{ids(1, 0, 25), 1, 100, 25, false, false}},
			{25, 1, pageOf{ids(1, 24, 25), 25, 1, 25, true, false}},
		} {
			p, err := l.Page(ctx, tc.number, tc.size)
			if err != nil {
				t.Fatalf("Page(%d, %d): %v", tc.number, tc.size, err)
			}
			if diff := cmp.Diff(tc.want, summary(p, productID)); diff != "" {
				t.Errorf("Page(%d, %d) (-want +got):\n%s", tc.number, tc.size, diff)
			}
			for i, it := range p.Items {
				if want := products(1, 25)[(tc.number-1)*tc.size+i]; it != want {
					t.Errorf("Page(%d, %d) item %d = %+v, want %+v", tc.number, tc.size, i, it, want)
				}
			}
		}
		r, err := l.Range(ctx, 3, 4)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pageOf{ids(1, 3, 7), 0, 4, 25, true, true}, summary(r, productID)); diff != "" {
			t.Errorf("Range(3, 4) (-want +got):\n%s", diff)
		}
		if n, err := l.Len(ctx); err != nil || n != 25 {
			t.Errorf("Len = %d, %v; want 25", n, err)
		}
	})
}

func TestListBadArguments(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		l := newList(t, d, "args")
		if err := l.Replace(ctx, products(1, 3), time.Minute); err != nil {
			t.Fatal(err)
		}
		for name, call := range map[string]func() error{
			"size 0":        func() error { _, err := l.Page(ctx, 1, 0); return err },
			"size -1":       func() error { _, err := l.Page(ctx, 1, -1); return err },
			"page 0":        func() error { _, err := l.Page(ctx, 0, 10); return err },
			"huge page":     func() error { _, err := l.Page(ctx, 1<<62, 1<<10); return err },
			"range limit 0": func() error { _, err := l.Range(ctx, 0, 0); return err },
			"range offset":  func() error { _, err := l.Range(ctx, -1, 3); return err },
			"after limit 0": func() error { _, err := l.After(ctx, "x", 0); return err },
			"duplicate ids": func() error { return l.Replace(ctx, append(products(1, 2), products(1, 1)...), 0) },
			"negative ttl":  func() error { return l.Replace(ctx, products(1, 2), -time.Second) },
		} {
			err := call()
			if !errors.Is(err, conn.ErrBadArg) && !errors.Is(err, conn.ErrInvalidTTL) {
				t.Errorf("%s: %v, want an error matching conn.ErrBadArg", name, err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "redcache/paginate: ") {
				t.Errorf("%s: %q lacks the package's prefix", name, err)
			}
		}
		if n, err := l.Len(ctx); err != nil || n != 3 {
			t.Errorf("after refused calls, Len = %d, %v; want the list untouched (3)", n, err)
		}
	})
	for _, name := range []string{"", "}x"} {
		if _, err := paginate.NewList(name, productID); !errors.Is(err, conn.ErrBadArg) {
			t.Errorf("NewList(%q): %v, want conn.ErrBadArg", name, err)
		}
	}
	if _, err := paginate.NewList[product]("x", nil); !errors.Is(err, conn.ErrBadArg) {
		t.Errorf("NewList with a nil id: %v, want conn.ErrBadArg", err)
	}
}

func TestListEmptyAndMissing(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		l := newList(t, d, "empty")
		if _, err := l.Page(ctx, 1, 10); !errors.Is(err, paginate.ErrMiss) {
			t.Errorf("Page of a list never written: %v, want ErrMiss", err)
		}
		if _, err := l.Len(ctx); !errors.Is(err, paginate.ErrMiss) {
			t.Errorf("Len of a list never written: %v, want ErrMiss", err)
		}
		if _, err := l.Append(ctx, products(1, 1)...); !errors.Is(err, paginate.ErrMiss) {
			t.Errorf("Append to a list never written: %v, want ErrMiss", err)
		}
		if _, err := l.Page(ctx, 1, 10); !errors.Is(err, paginate.ErrMiss) {
			t.Errorf("Append to a missing list started one: %v", err)
		}
		if err := l.Replace(ctx, nil, time.Minute); err != nil {
			t.Fatal(err)
		}
		p, err := l.Page(ctx, 1, 10)
		if err != nil {
			t.Fatalf("Page of an empty list: %v", err)
		}
		if diff := cmp.Diff(pageOf{nil, 1, 10, 0, false, false}, summary(p, productID)); diff != "" {
			t.Errorf("empty list's page (-want +got):\n%s", diff)
		}
		if p.Next != "" {
			t.Errorf("an empty page has a cursor %q", p.Next)
		}
		// The first item of an empty list creates its keys: they take the
		// list's remaining ttl rather than live on.
		if n, err := l.Append(ctx, products(1, 2)...); err != nil || n != 2 {
			t.Fatalf("Append to the empty list = %d, %v", n, err)
		}
		if err := l.Delete(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Page(ctx, 1, 10); !errors.Is(err, paginate.ErrMiss) {
			t.Errorf("Page after Delete: %v, want ErrMiss", err)
		}
		if err := l.Delete(ctx); err != nil {
			t.Errorf("Delete of a missing list: %v", err)
		}
	})
}

func TestListAppendPrependRemove(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		l := newList(t, d, "edit")
		if err := l.Replace(ctx, products(1, 3), time.Minute); err != nil {
			t.Fatal(err)
		}
		if n, err := l.Append(ctx, products(2, 2)...); err != nil || n != 5 {
			t.Fatalf("Append = %d, %v; want 5", n, err)
		}
		if n, err := l.Prepend(ctx, products(3, 2)...); err != nil || n != 7 {
			t.Fatalf("Prepend = %d, %v; want 7", n, err)
		}
		if n, err := l.Remove(ctx, itemID(1, 1), "no such id"); err != nil || n != 1 {
			t.Fatalf("Remove = %d, %v; want 1", n, err)
		}
		// Appending an id the list holds moves it to the end, with its new value.
		moved := product{ID: itemID(1, 0), Name: "moved"}
		if n, err := l.Append(ctx, moved); err != nil || n != 6 {
			t.Fatalf("Append of a present id = %d, %v; want 6", n, err)
		}
		p, err := l.Page(ctx, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{itemID(3, 1), itemID(3, 0), itemID(1, 2), itemID(2, 0), itemID(2, 1), itemID(1, 0)}
		if diff := cmp.Diff(pageOf{want, 1, 10, 6, false, false}, summary(p, productID)); diff != "" {
			t.Errorf("after the edits (-want +got):\n%s", diff)
		}
		if last := p.Items[len(p.Items)-1]; last != moved {
			t.Errorf("the moved item is %+v, want %+v", last, moved)
		}
		if n, err := l.Remove(ctx, want...); err != nil || n != 6 {
			t.Fatalf("Remove of every item = %d, %v", n, err)
		}
		if n, err := l.Len(ctx); err != nil || n != 0 {
			t.Errorf("emptied list: Len = %d, %v; want 0, the list still cached", n, err)
		}
	})
}

func TestListKeepsTTL(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		l, err := paginate.NewList("ttl", productID, paginate.WithDriver(d), paginate.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Replace(ctx, nil, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, products(1, 2)...); err != nil {
			t.Fatal(err)
		}
		// Every key of the list expires with it: none is left forever.
		ptr := prefix + ":{ttl}:ptr"
		v, err := d.Get(ctx, ptr)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{ptr, prefix + ":{ttl}:" + string(v[:16]) + ":z", prefix + ":{ttl}:" + string(v[:16]) + ":h"} {
			r, err := d.Do(ctx, "PTTL", k)
			if err != nil {
				t.Fatal(err)
			}
			if ms := r.(int64); ms <= 0 || ms > 60_000 {
				t.Errorf("PTTL %s = %d, want the list's minute", k, ms)
			}
		}
	})
}

// TestListExpiresBetweenPages reads page 1, lets the list expire, and
// reads page 2: a miss, never a page of nothing that claims to be the
// end.
func TestListExpiresBetweenPages(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		l := newList(t, d, "expiring")
		if err := l.Replace(ctx, products(1, 20), 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		p, err := l.Page(ctx, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(600 * time.Millisecond)
		if _, err := l.Page(ctx, 2, 10); !errors.Is(err, paginate.ErrMiss) {
			t.Errorf("page 2 after the list expired: %v, want ErrMiss", err)
		}
		if _, err := l.After(ctx, p.Next, 10); !errors.Is(err, paginate.ErrMiss) {
			t.Errorf("After on an expired list: %v, want ErrMiss", err)
		}
	})
}

func TestListBigItems(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		l := newList(t, d, "big")
		items := products(1, 3)
		for i := range items {
			items[i].Name = strings.Repeat(string(rune('a'+i)), 1<<20+i*1000) // over 1 MiB each
		}
		if err := l.Replace(ctx, items, time.Minute); err != nil {
			t.Fatal(err)
		}
		big := product{ID: "appended", Name: strings.Repeat("z", 3<<20)}
		if _, err := l.Append(ctx, big); err != nil {
			t.Fatal(err)
		}
		p, err := l.Page(ctx, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(append(items, big), p.Items); diff != "" {
			t.Errorf("big items came back different (-want +got):\n%.300s", diff)
		}
	})
}

func TestListCodecs(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		for _, cd := range []codec.Codec{codec.Gob, codec.JSON, codec.Compress(codec.JSON)} {
			l := newList(t, d, "codec-"+cd.Name(), paginate.WithCodec(cd))
			if err := l.Replace(ctx, products(1, 5), time.Minute); err != nil {
				t.Fatal(err)
			}
			p, err := l.Page(ctx, 2, 2)
			if err != nil {
				t.Fatalf("%s: %v", cd.Name(), err)
			}
			if diff := cmp.Diff(products(1, 5)[2:4], p.Items); diff != "" {
				t.Errorf("%s (-want +got):\n%s", cd.Name(), diff)
			}
		}
	})
}
