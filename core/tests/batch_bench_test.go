package tests_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/core"
)

// BenchmarkBatch100 compares a GetMany of 100 ids with 100 Gets of the
// same ids, on both drivers: hits (every id cached), and misses (every
// id new: one loader call and one pipeline of stores, against 100 loader
// calls and 100 stores).
func BenchmarkBatch100(b *testing.B) {
	const n = 100
	for _, tg := range benchDrivers(b) {
		for _, kind := range []string{"hit", "miss"} {
			b.Run(tg.name+"/"+kind+"/GetMany", func(b *testing.B) {
				d := tg.open(b)
				ctx := context.Background()
				m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(b)), core.WithTTL(time.Minute))
				defer m.Close()
				batch := core.MemoizeBatch(m, "bench", func(_ context.Context, ids []int) (map[int]benchValue, error) {
					out := make(map[int]benchValue, len(ids))
					for _, id := range ids {
						out[id] = newBenchValue()
					}
					return out, nil
				})
				keys := make([]int, n)
				next := 0
				fill := func() {
					for i := range keys {
						keys[i] = next
						next++
					}
				}
				fill()
				if _, err := batch.GetMany(ctx, keys); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if kind == "miss" {
						fill()
					}
					got, err := batch.GetMany(ctx, keys)
					if err != nil || len(got) != n {
						b.Fatal(len(got), err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(batch.Stats().Loads-1)/float64(b.N), "loads/op")
			})
			b.Run(tg.name+"/"+kind+"/100Gets", func(b *testing.B) {
				d := tg.open(b)
				ctx := context.Background()
				m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(b)), core.WithTTL(time.Minute))
				defer m.Close()
				get := core.Memoize(m, "bench", func(context.Context, int) (benchValue, error) { return newBenchValue(), nil })
				base := 0
				for id := 0; id < n; id++ {
					if _, err := get.Get(ctx, id); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if kind == "miss" {
						base += n
					}
					for id := base; id < base+n; id++ {
						if _, err := get.Get(ctx, id); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(get.Stats().Loads-n)/float64(b.N), "loads/op")
			})
		}
	}
}

// BenchmarkBatchOverlap measures the dedup of overlapping batches: each
// operation is 8 concurrent GetMany calls of 100 new ids each, every
// window 25 ids after the one before (275 distinct ids), with a loader
// that takes a millisecond, as a database would. Without dedup each
// call would ask for its 100 ids: 800 ids asked in 8 loader calls.
func BenchmarkBatchOverlap(b *testing.B) {
	const callers, window, step = 8, 100, 25
	for _, tg := range benchDrivers(b) {
		b.Run(tg.name, func(b *testing.B) {
			d := tg.open(b)
			ctx := context.Background()
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(b)), core.WithTTL(time.Minute))
			defer m.Close()
			var calls, asked atomic.Int64
			batch := core.MemoizeBatch(m, "overlap", func(_ context.Context, ids []int) (map[int]int, error) {
				calls.Add(1)
				asked.Add(int64(len(ids)))
				time.Sleep(time.Millisecond)
				out := make(map[int]int, len(ids))
				for _, id := range ids {
					out[id] = id
				}
				return out, nil
			})
			base := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				for c := 0; c < callers; c++ {
					wg.Add(1)
					go func(from int) {
						defer wg.Done()
						ids := make([]int, window)
						for k := range ids {
							ids[k] = from + k
						}
						if got, err := batch.GetMany(ctx, ids); err != nil || len(got) != window {
							b.Error(len(got), err)
						}
					}(base + c*step)
				}
				wg.Wait()
				base += window + (callers-1)*step
			}
			b.StopTimer()
			b.ReportMetric(float64(calls.Load())/float64(b.N), "loader-calls/op")
			b.ReportMetric(float64(asked.Load())/float64(b.N), "ids-asked/op")
			b.ReportMetric(float64(window+(callers-1)*step), "distinct-ids/op")
		})
	}
}
