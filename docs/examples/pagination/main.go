// Command pagination is the program of the pagination guide
// (docs/pagination.md): a list read page by page, each page cached with
// core.Memoize2, and every page dropped at once when the list changes.
//
//	go run ./docs/examples/pagination    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// Product is one item of the list.
type Product struct {
	ID   int
	Name string
}

// Page is one page of the list, with what a client needs to page on.
type Page struct {
	Items  []Product
	Number int // 1-based
	Size   int
	Total  int // items in the whole list
}

// Store stands for the database that holds the list. It counts its
// queries, so that the output shows what the cache saved.
type Store struct {
	mu       sync.Mutex
	products []Product
	queries  int
}

// Page returns page number (1-based) of the list, size items a page.
func (s *Store) Page(ctx context.Context, number, size int) (Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries++
	p := Page{Number: number, Size: size, Total: len(s.products)}
	start := min((number-1)*size, len(s.products))
	end := min(start+size, len(s.products))
	p.Items = append([]Product(nil), s.products[start:end]...)
	return p, nil
}

// Queries returns how many pages were read from the store.
func (s *Store) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// Add appends a product to the list.
func (s *Store) Add(ctx context.Context, p Product) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.products = append(s.products, p)
	return nil
}

// Products is the cached list.
type Products struct {
	store *Store
	page  *core.Memo2[int, int, Page]
}

// NewProducts caches the pages of store for a minute.
func NewProducts(m *core.Manager, store *Store) *Products {
	return &Products{
		store: store,
		page:  core.Memoize2(m, "products.page", store.Page, core.WithTTL(time.Minute)),
	}
}

// Page returns a page of the list, from Redis when it can. It clamps its
// arguments first: every distinct (number, size) is a key of its own, and
// a client must not be able to fill Redis with pages of any size.
func (p *Products) Page(ctx context.Context, number, size int) (Page, error) {
	number = max(number, 1)
	size = min(max(size, 1), 100)
	return p.page.Get(ctx, number, size)
}

// Add adds a product and drops every cached page, of every size, in one
// Redis command: the next read of any page is a miss.
func (p *Products) Add(ctx context.Context, product Product) error {
	if err := p.store.Add(ctx, product); err != nil {
		return err
	}
	return p.page.InvalidateAll(ctx)
}

func run(ctx context.Context, w io.Writer, redisURL string) error {
	d, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer d.Close()
	m := core.New(core.WithDriver(d))
	defer m.Close()

	store := &Store{}
	for id := 1; id <= 25; id++ {
		store.products = append(store.products, Product{ID: id, Name: fmt.Sprint("Product ", id)})
	}
	products := NewProducts(m, store)
	show := func(number, size int) error {
		p, err := products.Page(ctx, number, size)
		if err != nil {
			return err
		}
		first, last := 0, 0
		if len(p.Items) > 0 {
			first, last = p.Items[0].ID, p.Items[len(p.Items)-1].ID
		}
		fmt.Fprintf(w, "page %d (size %d): items %d-%d of %d, database queries so far: %d\n",
			p.Number, p.Size, first, last, p.Total, store.Queries())
		return nil
	}

	for _, args := range [][2]int{{1, 10}, {2, 10}, {1, 10}, {3, 10}, {2, 10}, {1, 1000}} {
		if err := show(args[0], args[1]); err != nil {
			return err
		}
	}
	key, err := products.page.Key(2, 10)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "page 2 is stored under", key)

	fmt.Fprintln(w, "add a product:")
	if err := products.Add(ctx, Product{ID: 26, Name: "Product 26"}); err != nil {
		return err
	}
	for _, args := range [][2]int{{3, 10}, {3, 10}} {
		if err := show(args[0], args[1]); err != nil {
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
