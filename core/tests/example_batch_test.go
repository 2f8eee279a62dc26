package tests_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redcache/redcache/core"
)

// A loader of many ids at once (one query with IN, one request that
// takes a list), memoized with MemoizeBatch: GetMany reads every id in
// one round trip and calls the loader once, with the ids that were not
// cached. An id the loader does not return is left out of the result.
func Example_memoizeBatch() {
	d := exampleDriver()
	defer d.Close()
	m := core.New(core.WithDriver(d), core.WithPrefix(fmt.Sprint("example-", time.Now().UnixNano())))
	defer m.Close()

	products := core.MemoizeBatch(m, "products.get", func(ctx context.Context, ids []int) (map[int]Product, error) {
		fmt.Println("loading products", ids) // SELECT ... WHERE id IN (...)
		out := map[int]Product{}
		for _, id := range ids {
			if id != 404 {
				out[id] = Product{ID: id, Name: fmt.Sprint("Widget ", id)}
			}
		}
		return out, nil
	}, core.WithTTL(time.Minute))

	ctx := context.Background()
	got, _ := products.GetMany(ctx, []int{1, 2, 3})
	fmt.Println(len(got), got[2].Name)

	// 1, 2 and 3 are cached: the loader is asked for 4 and 404 only.
	got, _ = products.GetMany(ctx, []int{1, 2, 3, 4, 404})
	fmt.Println(len(got), got[4].Name)

	// A single id reads the same entries.
	p, _ := products.Get(ctx, 3)
	fmt.Println(p.Name)
	_, err := products.Get(ctx, 404)
	fmt.Println(err)
	// Output:
	// loading products [1 2 3]
	// 3 Widget 2
	// loading products [4 404]
	// 4 Widget 4
	// Widget 3
	// loading products [404]
	// redcache: the batch loader returned no value for this id
}
