package tests_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/paginate"
)

// The benchmarks run on the standalone server, with both drivers: a
// cluster adds a hop, not a different structure.
//
//	go test -run '^$' -bench . -benchtime 2000x ./paginate/tests
//
// with the servers of tools/test.sh (REDCACHE_TEST_REDIS).

type benchItem struct {
	ID   string
	Name string
}

func benchID(it benchItem) string { return it.ID }

func benchItems(from, n int) []benchItem {
	out := make([]benchItem, n)
	for i := range out {
		id := strconv.Itoa(from + i)
		out[i] = benchItem{ID: id, Name: "item " + id}
	}
	return out
}

func benchTargets(b *testing.B) []target {
	var out []target
	for _, tg := range targets() {
		if strings.HasSuffix(tg.name, "standalone") {
			out = append(out, tg)
		}
	}
	return out
}

// benchList returns a list of n items on d, deleted when b ends.
func benchList(b *testing.B, d conn.Driver, n int) *paginate.List[benchItem] {
	b.Helper()
	l, err := paginate.NewList("bench", benchID, paginate.WithDriver(d), paginate.WithPrefix(uniquePrefix(b)), paginate.WithCodec(codec.JSON))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := l.Replace(ctx, benchItems(0, n), 0); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Delete(context.Background()) })
	return l
}

// BenchmarkPageDepth reads a page of 20 at the front and at depth 500,000
// of a 1,000,000-item list: a sorted set by position makes both
// O(log N + 20), where LRANGE would walk half a million nodes.
func BenchmarkPageDepth(b *testing.B) {
	const n, size = 1_000_000, 20
	for _, tg := range benchTargets(b) {
		b.Run(tg.name, func(b *testing.B) {
			d := tg.open(b)
			l := benchList(b, d, n)
			for _, depth := range []int{0, 500_000} {
				b.Run("depth="+strconv.Itoa(depth), func(b *testing.B) {
					ctx := context.Background()
					number := depth/size + 1
					b.ReportAllocs()
					for b.Loop() {
						p, err := l.Page(ctx, number, size)
						if err != nil {
							b.Fatal(err)
						}
						if len(p.Items) != size || p.Items[0].ID != strconv.Itoa(depth) {
							b.Fatalf("page %d: %d items from %v", number, len(p.Items), p.Items[0])
						}
					}
				})
			}
			b.Run("after-depth=500000", func(b *testing.B) {
				ctx := context.Background()
				p, err := l.Page(ctx, 500_000/size, size)
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					q, err := l.After(ctx, p.Next, size)
					if err != nil || len(q.Items) != size {
						b.Fatal(len(q.Items), err)
					}
				}
			})
		})
	}
}

// BenchmarkAppendRemove appends one item to, then removes it from, a list
// of 1,000 and of 1,000,000 items: the cost is O(log N), one round trip
// each, so the two sizes cost about the same.
func BenchmarkAppendRemove(b *testing.B) {
	for _, tg := range benchTargets(b) {
		b.Run(tg.name, func(b *testing.B) {
			d := tg.open(b)
			for _, n := range []int{1_000, 1_000_000} {
				l := benchList(b, d, n)
				ctx := context.Background()
				b.Run("append/n="+strconv.Itoa(n), func(b *testing.B) {
					i := 0
					for b.Loop() {
						if _, err := l.Append(ctx, benchItem{ID: "x" + strconv.Itoa(i), Name: "appended"}); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
				b.Run("remove/n="+strconv.Itoa(n), func(b *testing.B) {
					i := 0
					for b.Loop() {
						if _, err := l.Remove(ctx, strconv.Itoa(i)); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
			}
		})
	}
}

// BenchmarkReplace100k replaces a list with 100,000 items: pipelined, a
// few round trips of 1,000-item commands, then the switch.
func BenchmarkReplace100k(b *testing.B) {
	items := benchItems(0, 100_000)
	for _, tg := range benchTargets(b) {
		b.Run(tg.name, func(b *testing.B) {
			d := tg.open(b)
			l := benchList(b, d, 0)
			ctx := context.Background()
			for b.Loop() {
				if err := l.Replace(ctx, items, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
