package tests_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/redcacheotel"
)

// BenchmarkObservedHit measures what the Observer adds to a hit from
// Redis and to a near hit: spans sampled and dropped by the SDK (no
// exporter), metrics into a manual reader.
func BenchmarkObservedHit(b *testing.B) {
	for _, dk := range drivers {
		for _, near := range []bool{false, true} {
			for _, observed := range []bool{false, true} {
				name := dk.name + "/redis"
				if near {
					name = dk.name + "/near"
				}
				if observed {
					name += "/otel"
				}
				b.Run(name, func(b *testing.B) {
					d := dk.open(b, "redis://"+conntest.RedisAddr(b))
					opts := []core.ManagerOption{core.WithDriver(d), core.WithPrefix("otelbench"), core.WithTimeout(5 * time.Second)}
					if near {
						opts = append(opts, core.WithNearCache(100, time.Minute))
					}
					if observed {
						tp := sdktrace.NewTracerProvider()
						mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
						b.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
						obs, err := redcacheotel.New(redcacheotel.WithTracerProvider(tp), redcacheotel.WithMeterProvider(mp))
						if err != nil {
							b.Fatal(err)
						}
						opts = append(opts, core.WithObserver(obs))
					}
					m := core.New(opts...)
					b.Cleanup(func() { _ = m.Close() })
					f := core.Memoize(m, "bench.square", square)
					ctx := context.Background()
					_, _ = f.Get(ctx, 7)
					for i := 0; near && i < 400 && !m.Stats().NearActive; i++ {
						time.Sleep(5 * time.Millisecond)
					}
					_, _ = f.Get(ctx, 7)
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := f.Get(ctx, 7); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
