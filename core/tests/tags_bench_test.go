package tests_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redcache/redcache/core"
)

// BenchmarkHitTags measures a hit with 0, 1 and 3 tags, given to the
// function (WithTags) or to each call (Tags), served by Redis and by the
// near cache: a hit sums the cached tag generations and reads no tag key,
// so function tags should cost next to nothing on top of the plain hit;
// call tags add the resolution of the call's tag set.
func BenchmarkHitTags(b *testing.B) {
	tagSets := [][]string{nil, {"table:users"}, {"table:users", "table:orders", "path:/shop/"}}
	for _, tg := range benchDrivers(b) {
		for _, near := range []bool{false, true} {
			where := "redis"
			if near {
				where = "near"
			}
			for _, tags := range tagSets {
				for _, perCall := range []bool{false, true} {
					if perCall && len(tags) == 0 {
						continue
					}
					how := "function"
					if perCall {
						how = "call"
					}
					b.Run(fmt.Sprintf("%s/%s/tags=%d/%s", tg.name, where, len(tags), how), func(b *testing.B) {
						benchHitTags(b, tg, near, tags, perCall)
					})
				}
			}
		}
	}
}

func benchHitTags(b *testing.B, tg target, near bool, tags []string, perCall bool) {
	d := tg.open(b)
	ctx := context.Background()
	opts := []core.ManagerOption{core.WithDriver(d), core.WithPrefix(uniquePrefix(b))}
	if near {
		opts = append(opts, core.WithNearCache(100, time.Minute))
	}
	m := core.New(opts...)
	b.Cleanup(func() { m.Close() })
	var fnOpts []core.Option
	var callOpts []core.CallOption
	if perCall {
		callOpts = []core.CallOption{core.Tags(tags...)}
	} else {
		fnOpts = []core.Option{core.WithTags(tags...)}
	}
	get := core.Memoize(m, "bench", func(context.Context, int) (benchValue, error) { return newBenchValue(), nil }, fnOpts...)
	for i := 0; i < 200; i++ { // near: until the subscription is up and serves
		if _, err := get.Get(ctx, 7, callOpts...); err != nil {
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
		if _, err := get.Get(ctx, 7, callOpts...); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// A miss here means a Redis call timed out on a busy machine: report
	// it rather than fail, the figure says how far to trust.
	b.ReportMetric(float64(m.Stats().Loads-1), "reloads")
}
