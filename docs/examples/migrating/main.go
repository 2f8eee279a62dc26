// Command migrating is the program of the migration guide
// (docs/migrating.md): the same cached lookup written with
// github.com/go-redis/cache/v9 and with redcache, on the same go-redis
// client, side by side.
//
//	go run ./docs/examples/migrating    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"sync/atomic"
	"time"

	"github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// Product is what both versions cache.
type Product struct {
	ID   int
	Name string
}

var queries atomic.Int32

func loadProduct(ctx context.Context, id int) (Product, error) {
	queries.Add(1)
	return Product{ID: id, Name: fmt.Sprint("Product ", id)}, nil
}

// Before: go-redis/cache. Each call names its key, its TTL and where the
// value goes.
func productBefore(ctx context.Context, mycache *cache.Cache, id int) (Product, error) {
	var p Product
	err := mycache.Once(&cache.Item{
		Ctx:   ctx,
		Key:   fmt.Sprintf("product:%d", id),
		Value: &p, // destination
		TTL:   time.Hour,
		Do: func(*cache.Item) (any, error) {
			return loadProduct(ctx, id)
		},
	})
	return p, err
}

// After: redcache. The function is memoized once; the key comes from its
// name and argument, the TTL from its options, the value's type from its
// signature.
var product = core.Memoize(core.Default, "product", loadProduct, core.WithTTL(time.Hour))

func productAfter(ctx context.Context, id int) (Product, error) {
	return product.Get(ctx, id)
}

func run(ctx context.Context, w io.Writer, redisURL string) error {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()

	// Before:
	mycache := cache.New(&cache.Options{
		Redis:      rdb,
		LocalCache: cache.NewTinyLFU(1000, time.Minute),
	})

	// After: the same client, wrapped as a redcache driver.
	d := goredis.New(rdb) // rdb stays yours: d.Close leaves it open
	if err := conn.Use(d); err != nil {
		return err
	}
	defer conn.Pop()

	for _, v := range []struct {
		name string
		get  func(context.Context, int) (Product, error)
	}{
		{"go-redis/cache", func(ctx context.Context, id int) (Product, error) { return productBefore(ctx, mycache, id) }},
		{"redcache", productAfter},
	} {
		queries.Store(0)
		for i := 0; i < 3; i++ {
			p, err := v.get(ctx, 7)
			if err != nil {
				return err
			}
			if p.Name != "Product 7" {
				return fmt.Errorf("%s: got %+v", v.name, p)
			}
		}
		fmt.Fprintf(w, "%-15s 3 calls, %d query\n", v.name+":", queries.Load())
	}

	// Invalidation: cache.Delete(ctx, key) becomes Invalidate(ctx, args).
	if err := mycache.Delete(ctx, "product:7"); err != nil {
		return err
	}
	if err := product.Invalidate(ctx, 7); err != nil {
		return err
	}
	// A direct write: cache.Set(&cache.Item{...}) becomes Set(ctx, args, v),
	// after the value changed at its source.
	renamed := Product{ID: 7, Name: "Product 7, renamed"}
	if err := mycache.Set(&cache.Item{Ctx: ctx, Key: "product:7", Value: renamed, TTL: time.Hour}); err != nil {
		return err
	}
	if err := product.Set(ctx, 7, renamed); err != nil {
		return err
	}
	before, err := productBefore(ctx, mycache, 7)
	if err != nil {
		return err
	}
	after, err := productAfter(ctx, 7)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "after Set:      %q and %q\n", before.Name, after.Name)
	// Stats: opt-in there (StatsEnabled), always on here.
	s := core.Default.Stats()
	fmt.Fprintf(w, "redcache stats: %d hits, %d misses\n", s.Hits, s.Misses)
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
