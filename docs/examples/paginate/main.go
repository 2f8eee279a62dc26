// Command paginate is the program of the pagination guide
// (docs/pagination.md): a list of objects cached item by item and read
// page by page with paginate.List, cursors that hold their place while
// the list grows, a feed with paginate.Sorted, and a loader's list
// memoized with paginate.Memoize.
//
//	go run ./docs/examples/paginate    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
	"github.com/redcache/redcache/paginate"
)

// Product is one item of the list.
type Product struct {
	ID       int
	Name     string
	Category string
}

// productID is a product's id within a list: its primary key.
func productID(p Product) string { return strconv.Itoa(p.ID) }

// Store stands for the database that holds the products. It counts its
// queries, so that the output shows what the cache saved.
type Store struct {
	mu       sync.Mutex
	products []Product
	queries  int
}

// ByCategory returns every product of a category: the query whose result
// is cached as a list.
func (s *Store) ByCategory(ctx context.Context, category string) ([]Product, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries++
	var out []Product
	for _, p := range s.products {
		if p.Category == category {
			out = append(out, p)
		}
	}
	return out, nil
}

// Queries returns how many queries the store answered.
func (s *Store) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// Post is an item of a feed; its score is its time.
type Post struct {
	ID   string
	Text string
}

func describe(items []Product) string {
	if len(items) == 0 {
		return "no items"
	}
	return fmt.Sprintf("items %d-%d", items[0].ID, items[len(items)-1].ID)
}

// lists shows a list of objects read page by page, and a cursor that
// keeps its place while products are added at both ends.
func lists(ctx context.Context, w io.Writer, store *Store) error {
	all, err := store.ByCategory(ctx, "tools")
	if err != nil {
		return err
	}
	products, err := paginate.NewList("products:tools", productID)
	if err != nil {
		return err
	}
	if err := products.Replace(ctx, all, time.Hour); err != nil {
		return err
	}
	page, err := products.Page(ctx, 3, 10)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "page %d: %s of %d, more: %v\n", page.Number, describe(page.Items), page.Total, page.HasNext)

	first, err := products.Page(ctx, 1, 10)
	if err != nil {
		return err
	}
	// New products arrive at both ends; page 2 by number would shift by
	// one, the cursor does not.
	if _, err := products.Prepend(ctx, Product{ID: 0, Name: "Product 0", Category: "tools"}); err != nil {
		return err
	}
	if _, err := products.Append(ctx, Product{ID: 26, Name: "Product 26", Category: "tools"}); err != nil {
		return err
	}
	next, err := products.After(ctx, first.Next, 10)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "after page 1's cursor: %s of %d\n", describe(next.Items), next.Total)
	shifted, err := products.Page(ctx, 2, 10)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "page 2 by number now: %s\n", describe(shifted.Items))
	return nil
}

// feed shows a feed, newest first, and a score range.
func feed(ctx context.Context, w io.Writer) error {
	posts, err := paginate.NewSorted("feed:alice", func(p Post) string { return p.ID })
	if err != nil {
		return err
	}
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var items []paginate.Scored[Post]
	for i := range 6 {
		at := start.Add(time.Duration(i) * time.Hour)
		items = append(items, paginate.Scored[Post]{
			Item:  Post{ID: fmt.Sprint("p", i), Text: "posted at " + at.Format("15:04")},
			Score: float64(at.Unix()),
		})
	}
	if err := posts.Replace(ctx, items, time.Hour); err != nil {
		return err
	}
	newest, err := posts.Page(ctx, 1, 3)
	if err != nil {
		return err
	}
	for _, p := range newest.Items {
		fmt.Fprintf(w, "newest: %s, %s\n", p.Item.ID, p.Item.Text)
	}
	from, to := start.Add(2*time.Hour), start.Add(3*time.Hour)
	morning, err := posts.ByScore(ctx, float64(from.Unix()), float64(to.Unix()), 0, 10)
	if err != nil {
		return err
	}
	for _, p := range morning.Items {
		fmt.Fprintf(w, "between 11:00 and 12:00: %s\n", p.Item.ID)
	}
	return nil
}

// memoized shows a loader's list, filled once and read page by page.
func memoized(ctx context.Context, w io.Writer, m *core.Manager, store *Store) error {
	byCategory := paginate.Memoize(m, "products.by-category", store.ByCategory, paginate.WithTTL(time.Hour))
	for _, number := range []int{1, 2, 3} {
		page, err := byCategory.Get(ctx, "garden", number, 4)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "garden page %d: %s of %d, database queries so far: %d\n",
			number, describe(page.Items), page.Total, store.Queries())
	}
	// The catalogue changed: drop the list, in every process.
	if err := byCategory.Invalidate(ctx, "garden"); err != nil {
		return err
	}
	page, err := byCategory.Get(ctx, "garden", 1, 4)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "after Invalidate, garden page 1: %s, database queries so far: %d\n",
		describe(page.Items), store.Queries())
	return nil
}

func run(ctx context.Context, w io.Writer, redisURL string) error {
	d, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer d.Close()
	// Lists and memoized functions resolve the driver of each call: this
	// one, for every call made with ctx.
	ctx = conn.With(ctx, d)
	m := core.New()
	defer m.Close()

	store := &Store{}
	for id := 1; id <= 35; id++ {
		category := "tools"
		if id > 25 {
			category = "garden"
		}
		store.products = append(store.products, Product{ID: id, Name: fmt.Sprint("Product ", id), Category: category})
	}
	for _, step := range []func() error{
		func() error { return lists(ctx, w, store) },
		func() error { return feed(ctx, w) },
		func() error { return memoized(ctx, w, m, store) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	redisURL, stop, err := devredis.URL() // $REDIS_URL, or an embedded Redis
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	if err := run(context.Background(), os.Stdout, redisURL); err != nil {
		log.Fatal(err)
	}
}
