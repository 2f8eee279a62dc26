// Command basics is the program of the getting-started guide
// (docs/getting-started.md): a product catalog whose lookups are cached in
// Redis, and what each call does to the cache.
//
//	go run ./docs/examples/basics    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// Product is what the catalog serves.
type Product struct {
	ID       int
	Name     string
	Category string
	Price    float64
}

var errNotFound = errors.New("product not found")

// DB stands for a database: slow, and worth not asking twice. It prints
// every query, so that the output shows when a loader runs.
type DB struct {
	log      io.Writer
	products []Product
}

// Product returns the product with the given id.
func (db *DB) Product(ctx context.Context, id int) (Product, error) {
	fmt.Fprintln(db.log, "  db: product", id)
	for _, p := range db.products {
		if p.ID == id {
			return p, nil
		}
	}
	return Product{}, errNotFound
}

// Search returns at most limit products whose name contains query.
func (db *DB) Search(ctx context.Context, query string, limit int) ([]Product, error) {
	fmt.Fprintf(db.log, "  db: search %q limit %d\n", query, limit)
	var found []Product
	for _, p := range db.products {
		if strings.Contains(p.Name, query) && len(found) < limit {
			found = append(found, p)
		}
	}
	return found, nil
}

// Count returns the number of products.
func (db *DB) Count(ctx context.Context) (int, error) {
	fmt.Fprintln(db.log, "  db: count")
	return len(db.products), nil
}

// Filter selects products: a struct carries as many arguments as a call
// needs, and every field is part of the key.
type Filter struct {
	Category string
	MaxPrice float64
}

// List returns the products that pass f.
func (db *DB) List(ctx context.Context, f Filter) ([]Product, error) {
	fmt.Fprintf(db.log, "  db: list %+v\n", f)
	var found []Product
	for _, p := range db.products {
		if p.Category == f.Category && p.Price <= f.MaxPrice {
			found = append(found, p)
		}
	}
	return found, nil
}

// Catalog serves products, from Redis when it can.
type Catalog struct {
	product *core.Memo[int, Product]
	search  *core.Memo2[string, int, []Product]
	count   *core.Memo0[int]
	list    *core.Memo[Filter, []Product]
}

// NewCatalog memoizes the queries of db with the settings of m.
func NewCatalog(m *core.Manager, db *DB) *Catalog {
	return &Catalog{
		product: core.Memoize(m, "catalog.product", db.Product),
		search:  core.Memoize2(m, "catalog.search", db.Search, core.WithTTL(time.Minute)),
		count:   core.Memoize0(m, "catalog.count", db.Count),
		list:    core.Memoize(m, "catalog.list", db.List),
	}
}

func run(ctx context.Context, w io.Writer, redisURL string) error {
	d, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer d.Close()

	m := core.New(
		core.WithDriver(d),           // this Redis, whatever the connection stack says
		core.WithPrefix("shop"),      // keys start with "shop:"
		core.WithTTL(10*time.Minute), // values expire after 10 minutes...
		core.WithJitter(0.1),         // ...or up to 10% sooner, so they do not all expire at once
	)
	defer m.Close() // stops background work (stale refreshes, abandoned loads) and waits for it

	db := &DB{log: w, products: []Product{
		{ID: 1, Name: "Blue widget", Category: "widgets", Price: 9.5},
		{ID: 2, Name: "Red widget", Category: "widgets", Price: 12},
		{ID: 3, Name: "Green gadget", Category: "gadgets", Price: 30},
	}}
	c := NewCatalog(m, db)

	fmt.Fprintln(w, "first call, a miss:")
	p, err := c.product.Get(ctx, 1)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, " ", p.Name)

	fmt.Fprintln(w, "second call, a hit:")
	p, err = c.product.Get(ctx, 1)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, " ", p.Name)

	key, err := c.product.Key(1)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "stored under", key)

	fmt.Fprintln(w, "two arguments, no arguments, a struct:")
	found, err := c.search.Get(ctx, "widget", 10)
	if err != nil {
		return err
	}
	n, err := c.count.Get(ctx)
	if err != nil {
		return err
	}
	cheap, err := c.list.Get(ctx, Filter{Category: "widgets", MaxPrice: 10})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  %d found, %d in all, %d cheap widgets\n", len(found), n, len(cheap))
	for _, k := range []func() (string, error){
		func() (string, error) { return c.search.Key("widget", 10) },
		func() (string, error) { return c.count.Key(), nil },
		func() (string, error) { return c.list.Key(Filter{Category: "widgets", MaxPrice: 10}) },
	} {
		key, err := k()
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "  key", key)
	}

	fmt.Fprintln(w, "a loader error is returned, and not cached:")
	for i := 0; i < 2; i++ {
		_, err := c.product.Get(ctx, 99)
		fmt.Fprintln(w, "  error:", err, errors.Is(err, errNotFound))
	}

	fmt.Fprintln(w, "per-call options:")
	if _, err := c.product.Get(ctx, 2, core.TTL(30*time.Second)); err != nil { // this value: 30 s
		return err
	}
	if _, err := c.product.Get(ctx, 1, core.Refresh()); err != nil { // reload and store
		return err
	}
	if _, err := c.product.Get(ctx, 3, core.SkipCache()); err != nil { // as if there were no cache
		return err
	}

	fmt.Fprintln(w, "peek, invalidate:")
	_, cached, err := c.product.Peek(ctx, 2)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "  product 2 cached:", cached)
	if err := c.product.Invalidate(ctx, 2); err != nil { // one value, in every process
		return err
	}
	_, cached, err = c.product.Peek(ctx, 2)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "  after Invalidate:", cached)
	if err := c.product.InvalidateAll(ctx); err != nil { // every product, in one command
		return err
	}
	if _, err := c.product.Get(ctx, 1); err != nil {
		return err
	}

	fmt.Fprintln(w, "a near cache in front of Redis:")
	hot := core.Memoize(m, "catalog.hot", db.Product, core.WithNearCache(1000, time.Second))
	if _, err := hot.Get(ctx, 1); err != nil { // a miss; starts the invalidation subscription
		return err
	}
	if err := waitNearActive(ctx, m); err != nil {
		return err
	}
	for i := 0; i < 3; i++ { // hits: from process memory once a copy is there
		if _, err := hot.Get(ctx, 1); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "  served from process memory:", m.Stats().NearHits > 0)

	s := m.Stats()
	fmt.Fprintf(w, "stats: %d hits, %d misses, %d loads (%d failed), %d redis errors, breaker %s\n",
		s.Hits, s.Misses, s.Loads, s.LoadErrors, s.RedisErrors, s.Breaker)
	return nil
}

// waitNearActive waits until m's near caches serve: their invalidation
// subscription is up. A program does not need to wait; near caches serve
// as soon as it is.
func waitNearActive(ctx context.Context, m *core.Manager) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for !m.Stats().NearActive {
		select {
		case <-ctx.Done():
			return fmt.Errorf("near cache subscription: %w", ctx.Err())
		case <-time.After(time.Millisecond):
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
