package goredis_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redis/go-redis/v9"
)

// The benchmarks compare the driver with go-redis called directly, on the
// same client (the one Open builds), so that the difference is the
// driver's own cost. Serial runs measure latency, which the round trip
// dominates; parallel runs load the CPU and show the overhead better.

func benchSetup(b *testing.B) (*goredis.Driver, *redis.Client, []byte) {
	b.Helper()
	d, err := goredis.Open(context.Background(), "redis://"+conntest.RedisAddr(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	return d, d.Client().(*redis.Client), bytes.Repeat([]byte("v"), 1024)
}

func benchKey(name string) string { return "goredis-bench:" + name }

func BenchmarkGet(b *testing.B) {
	d, c, val := benchSetup(b)
	ctx := context.Background()
	key := benchKey("get") // not a constant, as in real use: boxing it costs what it costs
	if err := c.Set(ctx, key, val, time.Minute).Err(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Del(ctx, key) })

	run := func(name string, parallel bool, get func() ([]byte, error)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(val)))
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if v, err := get(); err != nil || len(v) != len(val) {
							b.Error(err)
							return
						}
					}
				})
				return
			}
			for i := 0; i < b.N; i++ {
				if v, err := get(); err != nil || len(v) != len(val) {
					b.Fatal(err)
				}
			}
		})
	}
	driver := func() ([]byte, error) { return d.Get(ctx, key) }
	raw := func() ([]byte, error) { return c.Get(ctx, key).Bytes() }
	run("driver", false, driver)
	run("go-redis", false, raw)
	run("driver-parallel", true, driver)
	run("go-redis-parallel", true, raw)
}

func BenchmarkSet(b *testing.B) {
	d, c, val := benchSetup(b)
	ctx := context.Background()
	key := benchKey("set")
	b.Cleanup(func() { c.Del(ctx, key) })
	const ttl = 90 * time.Second

	run := func(name string, parallel bool, set func() error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(val)))
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := set(); err != nil {
							b.Error(err)
							return
						}
					}
				})
				return
			}
			for i := 0; i < b.N; i++ {
				if err := set(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	driver := func() error { return d.Set(ctx, key, val, ttl) }
	raw := func() error { return c.Set(ctx, key, val, ttl).Err() }
	run("driver", false, driver)
	run("go-redis", false, raw)
	run("driver-parallel", true, driver)
	run("go-redis-parallel", true, raw)
}

// BenchmarkAutoPipeline measures hits (a GET of a 1 KiB value) with a
// fixed number of goroutines, auto-pipelining on and off, side by side on
// one server: "hits/s" is the throughput, ns/op the wall time per hit
// across all goroutines, and "cpu-ns/op" the process's CPU time (user and
// system, Redis not included) per hit. LANES=n (an environment variable) also runs the
// driver with n lanes per node, to compare with the default.
func BenchmarkAutoPipeline(b *testing.B) {
	addr := conntest.RedisAddr(b)
	val := bytes.Repeat([]byte("v"), 1024)
	ctx := context.Background()
	key := benchKey("autopipeline")
	type variant struct {
		name  string
		lanes int // 0: the default
		on    bool
	}
	variants := []variant{{"on", 0, true}, {"off", 0, false}}
	if n, err := strconv.Atoi(os.Getenv("LANES")); err == nil && n > 0 {
		variants = append(variants, variant{"on-lanes" + strconv.Itoa(n), n, true})
	}
	for _, g := range []int{1, 16, 64} {
		for _, v := range variants {
			b.Run(fmt.Sprintf("goroutines=%d/%s", g, v.name), func(b *testing.B) {
				if v.lanes > 0 {
					defer goredis.SetLanesPerNode(v.lanes)()
				}
				d, err := goredis.Open(ctx, "redis://"+addr, goredis.WithAutoPipeline(v.on))
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close()
				if err := d.Set(ctx, key, val, time.Minute); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				var left atomic.Int64
				left.Store(int64(b.N))
				var wg sync.WaitGroup
				cpu0 := processCPU()
				b.ResetTimer()
				for range g {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for left.Add(-1) >= 0 {
							if v, err := d.Get(ctx, key); err != nil || len(v) != len(val) {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hits/s")
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// processCPU returns the CPU time the process used so far, user and
// system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
