package tests_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redcache/redcache/core"
)

// A search whose empty results are kept a minute and the others a day:
// the loader chooses the TTL of the value it returns with SetTTL, and
// keeps a result out of the cache with DontCache.
func Example_loaderChosenTTL() {
	d := exampleDriver()
	defer d.Close()
	m := core.New(core.WithDriver(d), core.WithPrefix(fmt.Sprint("example-", time.Now().UnixNano())))
	defer m.Close()

	search := core.Memoize(m, "products.search", func(ctx context.Context, q string) ([]string, error) {
		switch q {
		case "":
			core.DontCache(ctx) // not worth a key
			return nil, nil
		case "unicorn":
			core.SetTTL(ctx, time.Minute) // nothing yet: ask again soon
			return nil, nil
		}
		return []string{q + " 1", q + " 2"}, nil
	}, core.WithTTL(24*time.Hour))

	ctx := context.Background()
	for _, q := range []string{"", "unicorn", "widget"} {
		hits, _ := search.Get(ctx, q)
		key, _ := search.Key(q)
		ttl, _ := d.Do(ctx, "PTTL", key)
		if ms := ttl.(int64); ms < 0 {
			fmt.Printf("%q: %d results, not cached\n", q, len(hits))
		} else {
			fmt.Printf("%q: %d results, kept for %v\n", q, len(hits), (time.Duration(ms) * time.Millisecond).Round(time.Minute))
		}
	}
	// Output:
	// "": 0 results, not cached
	// "unicorn": 0 results, kept for 1m0s
	// "widget": 2 results, kept for 24h0m0s
}
