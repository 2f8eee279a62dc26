package tests_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redcache/redcache/core"
)

// BenchmarkHitTags measures a hit of a function with 0, 1 and 3 tags,
// served by Redis and by the near cache: a hit sums the cached tag
// generations and reads no tag key, so tags should cost next to nothing
// on top of the plain hit.
func BenchmarkHitTags(b *testing.B) {
	tagSets := [][]string{nil, {"table:users"}, {"table:users", "table:orders", "path:/shop/"}}
	for _, tg := range benchDrivers(b) {
		for _, near := range []bool{false, true} {
			for _, tags := range tagSets {
				where := "redis"
				if near {
					where = "near"
				}
				b.Run(fmt.Sprintf("%s/%s/tags=%d", tg.name, where, len(tags)), func(b *testing.B) {
					d := tg.open(b)
					ctx := context.Background()
					opts := []core.ManagerOption{core.WithDriver(d), core.WithPrefix(uniquePrefix(b))}
					if near {
						opts = append(opts, core.WithNearCache(100, time.Minute))
					}
					m := core.New(opts...)
					b.Cleanup(func() { m.Close() })
					get := core.Memoize(m, "bench", func(context.Context, int) (benchValue, error) { return newBenchValue(), nil },
						core.WithTags(tags...))
					for i := 0; i < 200; i++ { // near: until the subscription is up and serves
						if _, err := get.Get(ctx, 7); err != nil {
							b.Fatal(err)
						}
						if !near || m.Stats().NearHits > 0 {
							break
						}
						time.Sleep(5 * time.Millisecond)
					}
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := get.Get(ctx, 7); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					b.ReportMetric(float64(m.Stats().Loads-1), "reloads")
				})
			}
		}
	}
}
