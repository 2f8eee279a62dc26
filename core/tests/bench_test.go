package tests_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/memory"
	"github.com/redcache/redcache/core"
)

// benchValue is about 1 KiB once encoded.
type benchValue struct {
	ID          int
	Name        string
	Price       float64
	Tags        []string
	Description string
}

func newBenchValue() benchValue {
	return benchValue{ID: 7, Name: "Widget", Price: 9.5, Tags: []string{"a", "b", "c"}, Description: strings.Repeat("x", 900)}
}

// benchDrivers are the standalone targets: a cluster adds a hop, not a
// different code path in core.
func benchDrivers(b *testing.B) []target {
	var out []target
	for _, tg := range targets(b) {
		if strings.HasSuffix(tg.name, "standalone") {
			out = append(out, tg)
		}
	}
	return out
}

// BenchmarkHit compares a memoized hit with what it replaces at the
// least: a driver GET plus a decode of the same bytes. The difference is
// the memoizer's own cost: key, header, checksum, generation, breaker,
// stats.
func BenchmarkHit(b *testing.B) {
	for _, cd := range []codec.Codec{codec.Gob, codec.JSON} {
		for _, tg := range benchDrivers(b) {
			b.Run(cd.Name()+"/"+tg.name+"/memoized", func(b *testing.B) {
				benchMemoizedHit(context.Background(), b, tg, cd)
			})
			b.Run(cd.Name()+"/"+tg.name+"/memoized/cancellable", func(b *testing.B) {
				// An HTTP handler's context: one that can be cancelled.
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				benchMemoizedHit(ctx, b, tg, cd)
			})
			b.Run(cd.Name()+"/"+tg.name+"/get+decode", func(b *testing.B) {
				d := tg.open(b)
				ctx := context.Background()
				key := uniquePrefix(b) + ":plain"
				data, _ := cd.Marshal(newBenchValue())
				if err := d.Set(ctx, key, data, 0); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					raw, err := d.Get(ctx, key)
					if err != nil {
						b.Fatal(err)
					}
					var v benchValue
					if err := cd.Unmarshal(raw, &v); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchMemoizedHit measures hits of a memoized function on tg, called
// with ctx.
func benchMemoizedHit(ctx context.Context, b *testing.B, tg target, cd codec.Codec) {
	d := tg.open(b)
	m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(b)), core.WithCodec(cd))
	get := core.Memoize(m, "bench", func(context.Context, int) (benchValue, error) { return newBenchValue(), nil })
	if _, err := get.Get(ctx, 7); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := get.Get(ctx, 7); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// A miss here means a Redis call timed out on a busy machine:
	// report it rather than fail, the figure says how far to trust.
	b.ReportMetric(float64(m.Stats().Loads-1), "reloads")
}

// BenchmarkHitParallel is the hit path from many goroutines, where
// radix's implicit pipelining shows.
func BenchmarkHitParallel(b *testing.B) {
	for _, tg := range benchDrivers(b) {
		b.Run(tg.name, func(b *testing.B) {
			d := tg.open(b)
			ctx := context.Background()
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(b)))
			get := core.Memoize(m, "bench", func(context.Context, int) (benchValue, error) { return newBenchValue(), nil })
			get.Get(ctx, 7)
			b.ReportAllocs()
			b.SetParallelism(32) // 32 x GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := get.Get(ctx, 7); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkBreakerOpen is the cost of a call while Redis is being
// skipped: the loader's cost plus next to nothing.
func BenchmarkBreakerOpen(b *testing.B) {
	m := core.New(core.WithDriver(deadDriver{}), core.WithBreaker(1, 1<<62))
	get := core.Memoize(m, "dead", func(context.Context, int) (int, error) { return 1, nil })
	ctx := context.Background()
	get.Get(ctx, 1) // opens the breaker
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		get.Get(ctx, 1)
	}
}

// deadDriver fails every call, as a Redis that is gone.
type deadDriver struct{ conn.Driver }

func (deadDriver) Get(context.Context, string) ([]byte, error) { return nil, errDead }

var errDead = &deadErr{}

type deadErr struct{}

func (*deadErr) Error() string { return "connection refused" }

// BenchmarkNearHit is a hit served from the near cache, against the
// Redis hit it replaces (BenchmarkHit/gob/.../memoized).
func BenchmarkNearHit(b *testing.B) {
	for _, tg := range benchDrivers(b) {
		b.Run(tg.name, func(b *testing.B) {
			d := tg.open(b)
			ctx := context.Background()
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(b)), core.WithNearCache(1000, time.Minute))
			defer m.Close()
			get := core.Memoize(m, "bench", func(context.Context, int) (benchValue, error) { return newBenchValue(), nil })
			get.Get(ctx, 7)
			for !m.Stats().NearActive {
				time.Sleep(time.Millisecond)
			}
			get.Get(ctx, 7) // read back from Redis into the near cache
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := get.Get(ctx, 7); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(m.Stats().NearHits)/float64(b.N), "near-hits/op")
		})
	}
}

// BenchmarkHitOverhead is the memoizer's own work on a hit, and nothing
// else: a driver that answers a GET from process memory at the cost of a
// map read (servedDriver) and the raw codec (a copy of the bytes),
// against a GET and the same decode on the same driver. The difference
// between the two is what core adds to a hit: key, entry header and
// checksum, generation, breaker, deadline, stats.
func BenchmarkHitOverhead(b *testing.B) {
	value := []byte(strings.Repeat("x", 1000))
	ctxs := []struct {
		name string
		ctx  func(b *testing.B) context.Context
	}{
		{"background", func(*testing.B) context.Context { return context.Background() }},
		{"cancellable", func(b *testing.B) context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			b.Cleanup(cancel)
			return ctx
		}},
	}
	for _, c := range ctxs {
		b.Run(c.name+"/memoized", func(b *testing.B) {
			d := newServedDriver(b)
			ctx := c.ctx(b)
			m := core.New(core.WithDriver(d), core.WithCodec(codec.Raw))
			b.Cleanup(func() { _ = m.Close() })
			get := core.Memoize(m, "bench.overhead", func(context.Context, int) ([]byte, error) { return value, nil })
			if _, err := get.Get(ctx, 7); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := get.Get(ctx, 7); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if s := m.Stats(); s.Loads != 1 {
				b.Fatalf("%d loads: some calls were not hits", s.Loads)
			}
		})
		b.Run(c.name+"/get+decode", func(b *testing.B) {
			d := newServedDriver(b)
			ctx := c.ctx(b)
			if err := d.Set(ctx, "plain", value, 0); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				raw, err := d.Get(ctx, "plain")
				if err != nil {
					b.Fatal(err)
				}
				var v []byte
				if err := codec.Raw.Unmarshal(raw, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// servedDriver is the in-memory driver whose GETs, once a key was read,
// are answered from a map of what it read until the key is written: a
// Redis that costs next to nothing, so that a benchmark's figure is the
// caller's own work.
type servedDriver struct {
	conn.Driver
	seen sync.Map // key -> []byte
}

func newServedDriver(b *testing.B) *servedDriver {
	d := memory.New()
	b.Cleanup(func() { _ = d.Close() })
	return &servedDriver{Driver: d}
}

func (s *servedDriver) Get(ctx context.Context, key string) ([]byte, error) {
	if v, ok := s.seen.Load(key); ok {
		return v.([]byte), nil
	}
	v, err := s.Driver.Get(ctx, key)
	if err == nil {
		s.seen.Store(key, v)
	}
	return v, err
}

func (s *servedDriver) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	s.seen.Delete(key)
	return s.Driver.Set(ctx, key, v, ttl)
}
