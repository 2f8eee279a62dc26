package radix_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

// The benchmarks compare the driver with radix used directly, on the same
// server and the same kind of pool, for a 1 KiB value:
//
//	radix        client.Do(ctx, rdx.Cmd(&buf, "GET", k)) on a radix pool
//	driver/New   the driver over that same radix pool
//	driver/Open  the driver from Open, over this package's pool
//
// Run them with, for example,
//
//	REDCACHE_TEST_REDIS=127.0.0.1:6379 go test -run - -bench . -benchmem
//
// "parallel" runs 16 goroutines per CPU, where radix's connection sharing
// (implicit pipelining) matters.
//
// Besides ns/op, which on a loaded machine mostly measures the scheduler,
// each benchmark reports cpu-ns/op: the CPU time the client process spent
// per call, driver and radix goroutines together, which is the cost the
// driver adds to or saves from radix.

const benchParallelism = 16

type benchTarget struct {
	name string
	get  func(ctx context.Context, k string) ([]byte, error)
	set  func(ctx context.Context, k string, v []byte) error
}

// benchTargets returns the three ways to call; val is the value the SETs
// store, converted once to the string radix's Cmd takes, outside the loop.
func benchTargets(b *testing.B, val []byte) []benchTarget {
	b.Helper()
	addr := conntest.RedisAddr(b)
	ctx := context.Background()
	pool, err := rdx.PoolConfig{}.New(ctx, "tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pool.Close() })
	viaNew := radix.New(pool)
	viaOpen := openT(b, "redis://"+addr)
	sval := string(val)
	return []benchTarget{
		{
			name: "radix",
			get: func(ctx context.Context, k string) ([]byte, error) {
				var buf []byte
				err := pool.Do(ctx, rdx.Cmd(&buf, "GET", k))
				return buf, err
			},
			set: func(ctx context.Context, k string, _ []byte) error {
				return pool.Do(ctx, rdx.Cmd(nil, "SET", k, sval))
			},
		},
		{
			name: "driver/New",
			get:  viaNew.Get,
			set:  func(ctx context.Context, k string, v []byte) error { return viaNew.Set(ctx, k, v, 0) },
		},
		{
			name: "driver/Open",
			get:  viaOpen.Get,
			set:  func(ctx context.Context, k string, v []byte) error { return viaOpen.Set(ctx, k, v, 0) },
		},
	}
}

// measure runs fn b.N times, serially or from parallel goroutines, and
// reports the process CPU time per call.
func measure(b *testing.B, parallel bool, size int, fn func() error) {
	b.ReportAllocs()
	b.SetBytes(int64(size))
	start := processCPU()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := fn(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for i := 0; i < b.N; i++ {
			if err := fn(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if cpu := processCPU() - start; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	val := bytes.Repeat([]byte("x"), 1024)
	targets := benchTargets(b, val)
	d := openT(b, "redis://"+conntest.RedisAddr(b))
	k := key(b, d, "bench-get")
	if err := d.Set(ctx, k, val, time.Hour); err != nil {
		b.Fatal(err)
	}
	get := func(tg benchTarget) func() error {
		return func() error {
			v, err := tg.get(ctx, k)
			if err == nil && len(v) != len(val) {
				err = fmt.Errorf("got %d bytes", len(v))
			}
			return err
		}
	}
	for _, tg := range targets {
		b.Run(tg.name+"/serial", func(b *testing.B) { measure(b, false, len(val), get(tg)) })
		b.Run(tg.name+"/parallel", func(b *testing.B) { measure(b, true, len(val), get(tg)) })
	}
}

func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	val := bytes.Repeat([]byte("y"), 1024)
	targets := benchTargets(b, val)
	d := openT(b, "redis://"+conntest.RedisAddr(b))
	k := key(b, d, "bench-set")
	for _, tg := range targets {
		set := func() error { return tg.set(ctx, k, val) }
		b.Run(tg.name+"/serial", func(b *testing.B) { measure(b, false, len(val), set) })
		b.Run(tg.name+"/parallel", func(b *testing.B) { measure(b, true, len(val), set) })
	}
}

// BenchmarkAutoPipeline measures hits (a GET of a 1 KiB value) with a
// fixed number of goroutines, auto-pipelining on and off, side by side on
// one server. Each goroutine calls with a context that can be cancelled,
// as core's calls are. "hits/s" is the throughput, ns/op the wall time per
// hit across all goroutines, and "cpu-ns/op" the process's CPU time (user
// and system, Redis not included) per hit. LANES=n (an environment
// variable) also runs the driver with n lanes per pool.
func BenchmarkAutoPipeline(b *testing.B) {
	addr := conntest.RedisAddr(b)
	val := bytes.Repeat([]byte("v"), 1024)
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
					defer radix.SetLanesPerNode(v.lanes)()
				}
				d := openT(b, "redis://"+addr, radix.WithAutoPipeline(v.on))
				k := key(b, d, "autopipeline")
				if err := d.Set(context.Background(), k, val, time.Minute); err != nil {
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
						ctx, cancel := context.WithCancel(context.Background())
						defer cancel()
						for left.Add(-1) >= 0 {
							if v, err := d.Get(ctx, k); err != nil || len(v) != len(val) {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hits/s")
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
				if batches, carried := radix.LaneStats(d); batches > 0 {
					b.ReportMetric(float64(carried)/float64(batches), "cmds/batch")
					b.ReportMetric(float64(carried)/float64(b.N), "batched/op")
				}
			})
		}
	}
}
