package tests_test

import (
	"context"
	"testing"
	"time"

	"github.com/redcache/redcache/core"
)

// BenchmarkResilience measures the latency of a read in each state a
// value can be in, against a plain miss: a fresh hit, a read past the
// soft expiry of stale-while-revalidate (served at once, reloaded in the
// background), a read past the eager-refresh point, and a read under
// fail-safe (the loader failed: the expired value is served while its
// retries are throttled). Each read is one Get of one key but for the
// miss, which loads and stores a new key per read.
func BenchmarkResilience(b *testing.B) {
	value := func(context.Context, int) (benchValue, error) { return newBenchValue(), nil }
	failing := func(ctx context.Context, _ int) (benchValue, error) { return benchValue{}, errSourceDown }
	cases := []struct {
		name string
		opts []core.Option
		// prime makes the key's state; nil: no key, every read a miss.
		prime func(ctx context.Context, b *testing.B, get *core.Memo[int, benchValue])
		load  func(context.Context, int) (benchValue, error)
	}{
		{name: "miss", load: value, opts: []core.Option{core.WithTTL(time.Minute)}},
		{name: "hit", load: value, opts: []core.Option{core.WithTTL(time.Hour)}},
		{name: "stale", load: value, opts: []core.Option{core.WithTTL(time.Millisecond), core.WithStaleWhileRevalidate(time.Hour)}},
		{name: "eager", load: value, opts: []core.Option{core.WithTTL(time.Second), core.WithEagerRefresh(0.001)}},
		{name: "failsafe", load: failing, opts: []core.Option{core.WithTTL(time.Millisecond), core.WithFailSafe(time.Hour, time.Hour)},
			prime: func(ctx context.Context, b *testing.B, get *core.Memo[int, benchValue]) {
				if err := get.Set(ctx, 7, newBenchValue()); err != nil {
					b.Fatal(err)
				}
				time.Sleep(5 * time.Millisecond)
				if _, err := get.Get(ctx, 7); err != nil { // fails, is throttled
					b.Fatal(err)
				}
			}},
	}
	for _, tc := range cases {
		for _, tg := range benchDrivers(b) {
			b.Run(tc.name+"/"+tg.name, func(b *testing.B) {
				d := tg.open(b)
				ctx := context.Background()
				m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(b)))
				defer m.Close()
				get := core.Memoize(m, "bench", tc.load, tc.opts...)
				switch {
				case tc.prime != nil:
					tc.prime(ctx, b, get)
				case tc.name != "miss":
					if _, err := get.Get(ctx, 7); err != nil {
						b.Fatal(err)
					}
					time.Sleep(5 * time.Millisecond) // past the soft expiry or the eager point
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					k := 7
					if tc.name == "miss" {
						k = i + 100
					}
					if _, err := get.Get(ctx, k); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				s := get.Stats()
				b.ReportMetric(float64(s.Loads)/float64(b.N), "loads/op")
			})
		}
	}
}
