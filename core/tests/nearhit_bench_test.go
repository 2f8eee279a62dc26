package tests_test

import (
	"context"
	"testing"
	"time"

	"github.com/redcache/redcache/core"
)

// BenchmarkNearHitPath is a near hit by the shape of the memoized
// function: the argument's encoding in the key is the only part of the
// call that differs. parallel is the int case with every core calling,
// where the near cache's shared state (its shard's lock and read buffer,
// the counters) is contended. The target is a near hit within
// 270ns and one allocation (tools/cmd/redcache-bench, workload hit1).
func BenchmarkNearHitPath(b *testing.B) {
	for _, tg := range benchDrivers(b) {
		b.Run(tg.name, func(b *testing.B) {
			d := tg.open(b)
			ctx := context.Background()
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(b)), core.WithNearCache(10000, time.Minute))
			defer m.Close()
			byInt := core.Memoize(m, "int", func(_ context.Context, id int) (benchValue, error) { return newBenchValue(), nil })
			byString := core.Memoize(m, "string", func(_ context.Context, s string) (benchValue, error) { return newBenchValue(), nil })
			byTwo := core.Memoize2(m, "two", func(_ context.Context, id int, s string) (benchValue, error) { return newBenchValue(), nil })
			none := core.Memoize0(m, "none", func(context.Context) (benchValue, error) { return newBenchValue(), nil })
			cases := []struct {
				name string
				get  func(i int) error
			}{
				{"int", func(int) error { _, err := byInt.Get(ctx, 7); return err }},
				{"string", func(int) error { _, err := byString.Get(ctx, "user:42"); return err }},
				{"two", func(int) error { _, err := byTwo.Get(ctx, 7, "eu"); return err }},
				{"none", func(int) error { _, err := none.Get(ctx); return err }},
				// 1,000 keys: the lookups spread over the shards and
				// the node is rarely in the CPU's cache.
				{"int-1000keys", func(i int) error { _, err := byInt.Get(ctx, i%1000); return err }},
			}
			for i := range 1000 {
				if err := cases[4].get(i); err != nil {
					b.Fatal(err)
				}
			}
			for _, c := range cases[:4] {
				if err := c.get(0); err != nil {
					b.Fatal(err)
				}
			}
			for !m.Stats().NearActive {
				time.Sleep(time.Millisecond)
			}
			for _, c := range cases {
				for i := range 1000 { // read back from Redis into the near cache
					if err := c.get(i); err != nil {
						b.Fatal(err)
					}
				}
			}
			run := func(b *testing.B, get func(i int) error) {
				before := m.Stats().NearHits
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := get(i); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(m.Stats().NearHits-before)/float64(b.N), "near-hits/op")
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) { run(b, c.get) })
			}
			b.Run("parallel", func(b *testing.B) {
				before := m.Stats().NearHits
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						i++
						if _, err := byInt.Get(ctx, i%1000); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(m.Stats().NearHits-before)/float64(b.N), "near-hits/op")
			})
		})
	}
}
