package goredis_test

import (
	"bytes"
	"context"
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
