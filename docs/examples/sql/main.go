// Command sql is the program of the SQL guide (docs/sql.md): database/sql
// queries on SQLite, cached with core.Memoize, invalidated on writes.
//
//	go run ./docs/examples/sql    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, in pure Go

	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// Product is a row of the products table.
type Product struct {
	ID       int64
	Name     string
	Category string
	Price    float64
}

// openDB opens an in-memory SQLite database with a few products.
func openDB(ctx context.Context) (*sql.DB, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // every connection to ":memory:" is a database of its own
	_, err = db.ExecContext(ctx, `
		CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category TEXT, price REAL);
		INSERT INTO products (name, category, price) VALUES
			('Blue widget', 'widgets', 9.5),
			('Red widget', 'widgets', 12),
			('Green gadget', 'gadgets', 30);`)
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Repo runs the queries. It knows nothing about the cache.
type Repo struct {
	db  *sql.DB
	log io.Writer // every query is printed, to show when the cache saved one
}

// ProductByID returns one product, or sql.ErrNoRows.
func (r *Repo) ProductByID(ctx context.Context, id int64) (Product, error) {
	fmt.Fprintln(r.log, "  sql: product", id)
	var p Product
	err := r.db.QueryRowContext(ctx,
		`SELECT id, name, category, price FROM products WHERE id = ?`, id,
	).Scan(&p.ID, &p.Name, &p.Category, &p.Price)
	return p, err
}

// ProductsIn returns a page of the products of a category, by name.
func (r *Repo) ProductsIn(ctx context.Context, category string, page int) ([]Product, error) {
	fmt.Fprintf(r.log, "  sql: products in %s, page %d\n", category, page)
	const size = 20
	rows, err := r.db.QueryContext(ctx,
		`SELECT id, name, category, price FROM products WHERE category = ? ORDER BY name LIMIT ? OFFSET ?`,
		category, size, (page-1)*size)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []Product
	for rows.Next() {
		var p Product
		if err := rows.Scan(&p.ID, &p.Name, &p.Category, &p.Price); err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// CachedRepo is Repo with its reads cached in Redis.
type CachedRepo struct {
	repo       *Repo
	byID       *core.Memo[int64, Product]
	byCategory *core.Memo2[string, int, []Product]
}

// NewCachedRepo caches the queries of r with the settings of m.
func NewCachedRepo(m *core.Manager, r *Repo) *CachedRepo {
	return &CachedRepo{
		repo: r,
		byID: core.Memoize(m, "sql.product", r.ProductByID,
			core.WithTTL(10*time.Minute),
			core.WithNegativeCaching(time.Minute, sql.ErrNoRows)), // a missing row is remembered too
		byCategory: core.Memoize2(m, "sql.products-in", r.ProductsIn,
			core.WithTTL(time.Minute)),
	}
}

// Product returns one product, or an error that matches sql.ErrNoRows.
func (c *CachedRepo) Product(ctx context.Context, id int64) (Product, error) {
	return c.byID.Get(ctx, id)
}

// ProductsIn returns a page of the products of a category.
func (c *CachedRepo) ProductsIn(ctx context.Context, category string, page int) ([]Product, error) {
	return c.byCategory.Get(ctx, category, max(page, 1))
}

// SetPrice changes a price, then drops what the change made stale: the
// product, and every cached page of every category (one command each).
func (c *CachedRepo) SetPrice(ctx context.Context, id int64, price float64) error {
	_, err := c.repo.db.ExecContext(ctx, `UPDATE products SET price = ? WHERE id = ?`, price, id)
	if err != nil {
		return err
	}
	// If Redis is down these fail, and the old values stay until their
	// ttl ends: return the error, or report it and rely on the ttl.
	return errors.Join(
		c.byID.Invalidate(ctx, id),
		c.byCategory.InvalidateAll(ctx),
	)
}

func run(ctx context.Context, w io.Writer, redisURL string) error {
	d, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer d.Close()
	m := core.New(core.WithDriver(d))
	defer m.Close()

	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	repo := NewCachedRepo(m, &Repo{db: db, log: w})

	for i := 0; i < 2; i++ {
		p, err := repo.Product(ctx, 1)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "product 1: %s at %.2f\n", p.Name, p.Price)
	}
	for i := 0; i < 2; i++ {
		_, err := repo.Product(ctx, 42)
		fmt.Fprintf(w, "product 42: %v (sql.ErrNoRows: %v, from the cache: %v)\n",
			err, errors.Is(err, sql.ErrNoRows), errors.Is(err, core.ErrCached))
	}
	for i := 0; i < 2; i++ {
		ps, err := repo.ProductsIn(ctx, "widgets", 1)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "widgets: %d, first %s at %.2f\n", len(ps), ps[0].Name, ps[0].Price)
	}

	fmt.Fprintln(w, "set the price of product 1:")
	if err := repo.SetPrice(ctx, 1, 8.75); err != nil {
		return err
	}
	p, err := repo.Product(ctx, 1)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "product 1: %s at %.2f\n", p.Name, p.Price)
	ps, err := repo.ProductsIn(ctx, "widgets", 1)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "widgets: %d, first %s at %.2f\n", len(ps), ps[0].Name, ps[0].Price)
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
