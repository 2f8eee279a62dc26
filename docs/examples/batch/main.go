// Command batch is the program of the batch guide (docs/batch.md): a
// product catalog whose rows are read many at a time, with one query per
// page of products, and cached in Redis per product.
//
//	go run ./docs/examples/batch    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"time"

	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// Product is a row of the products table.
type Product struct {
	ID    int
	Name  string
	Price float64
}

// DB stands for a database with a products table. It prints every query,
// so that the output shows which ids each one asks for.
type DB struct {
	log      io.Writer
	products map[int]Product
}

// Products reads the rows of ids in one query (SELECT ... WHERE id IN
// (...)). An id without a row is left out of the result.
func (db *DB) Products(ctx context.Context, ids []int) (map[int]Product, error) {
	asked := slices.Sorted(slices.Values(ids))
	fmt.Fprintln(db.log, "  db: products", asked)
	out := make(map[int]Product, len(ids))
	for _, id := range ids {
		if p, ok := db.products[id]; ok {
			out[id] = p
		}
	}
	return out, nil
}

// NewCatalog memoizes the query per product: each product has an entry
// of its own, read and written many at a time. Ids without a row are
// cached as missing for a minute, so that a page that shows a deleted
// product does not query for it on every view.
func NewCatalog(m *core.Manager, db *DB) *core.Batch[int, Product] {
	return core.MemoizeBatch(m, "catalog.product", db.Products,
		core.WithTTL(time.Hour), core.WithNegativeCaching(time.Minute))
}

func run(ctx context.Context, w io.Writer, redisURL string) error {
	d, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer d.Close()

	m := core.New(core.WithDriver(d), core.WithPrefix("catalog"))
	defer m.Close()
	db := &DB{log: w, products: map[int]Product{}}
	for id := 1; id <= 9; id++ {
		db.products[id] = Product{ID: id, Name: fmt.Sprint("Widget ", id), Price: float64(id)}
	}
	catalog := NewCatalog(m, db)

	page := func(ids ...int) error {
		products, err := catalog.GetMany(ctx, ids)
		if err != nil {
			return err
		}
		var names []string
		for _, id := range ids {
			if p, ok := products[id]; ok {
				names = append(names, fmt.Sprintf("%d:%.0f", p.ID, p.Price))
			} else {
				names = append(names, fmt.Sprintf("%d:-", id))
			}
		}
		fmt.Fprintln(w, "  page:", names)
		return nil
	}

	fmt.Fprintln(w, "first page: one query for every product")
	if err := page(1, 2, 3, 4, 5); err != nil {
		return err
	}
	fmt.Fprintln(w, "the same page again: no query")
	if err := page(1, 2, 3, 4, 5); err != nil {
		return err
	}
	fmt.Fprintln(w, "a page that overlaps it: a query for the new ids only")
	if err := page(4, 5, 6, 7, 404); err != nil {
		return err
	}
	fmt.Fprintln(w, "404 has no row: it is cached as missing")
	if err := page(6, 7, 404); err != nil {
		return err
	}

	fmt.Fprintln(w, "a price changes: invalidate that product only")
	p := db.products[5]
	p.Price = 50
	db.products[5] = p
	if err := catalog.Invalidate(ctx, 5); err != nil {
		return err
	}
	if err := page(1, 2, 3, 4, 5); err != nil {
		return err
	}

	fmt.Fprintln(w, "one product: the same entries")
	one, err := catalog.Get(ctx, 3)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "  product 3:", one.Name)

	// Code that reads one product at a time can memoize the same query
	// under the same name (in another process, or with another Manager):
	// it reads and writes the same entries.
	other := core.New(core.WithDriver(d), core.WithPrefix("catalog"))
	defer other.Close()
	single := core.Memoize(other, "catalog.product", func(ctx context.Context, id int) (Product, error) {
		products, err := db.Products(ctx, []int{id})
		return products[id], err
	}, core.WithTTL(time.Hour))
	for _, id := range []int{7, 8} {
		p, err := single.Get(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  one at a time, product %d: %s\n", id, p.Name)
	}
	if err := page(7, 8, 9); err != nil {
		return err
	}

	st := catalog.Stats()
	fmt.Fprintf(w, "stats: %d hits, %d misses, %d queries\n", st.Hits, st.Misses, st.Loads)
	return nil
}

func main() {
	url, stop, err := devredis.URL()
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	if err := run(context.Background(), os.Stdout, url); err != nil {
		log.Fatal(err)
	}
}
