package tests_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn/memory"
	"github.com/redcache/redcache/core"
)

// BenchmarkHitPath measures the memoizer's own cost on a hit, without a
// network: a hit read from the in-memory driver, and a near hit. It is
// the figure an observer must not make worse when none is set, and what
// one that does nothing costs.
func BenchmarkHitPath(b *testing.B) {
	cases := []struct {
		name        string
		opts        []core.ManagerOption
		cancellable bool // called with a context that can be cancelled, as an HTTP handler's
	}{
		{"redis", nil, false},
		{"near", []core.ManagerOption{core.WithNearCache(100, time.Minute)}, false},
		{"redis/cancellable-ctx", nil, true},
		{"near/cancellable-ctx", []core.ManagerOption{core.WithNearCache(100, time.Minute)}, true},
		// What an observer that does nothing costs: the hooks' own calls.
		{"redis/nop-observer", []core.ManagerOption{core.WithObserver(core.NopObserver{})}, false},
		{"near/nop-observer", []core.ManagerOption{core.WithNearCache(100, time.Minute), core.WithObserver(core.NopObserver{})}, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := memory.New()
			b.Cleanup(func() { _ = d.Close() })
			ctx := context.Background()
			if c.cancellable {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				b.Cleanup(cancel)
			}
			m := core.New(append([]core.ManagerOption{core.WithDriver(d)}, c.opts...)...)
			b.Cleanup(func() { _ = m.Close() })
			get := core.Memoize(m, "bench.hit", func(context.Context, int) (string, error) { return "value", nil })
			if _, err := get.Get(ctx, 7); err != nil {
				b.Fatal(err)
			}
			if strings.HasPrefix(c.name, "near") {
				// The near cache serves once its subscription is up.
				for i := 0; i < 200 && !m.Stats().NearActive; i++ {
					time.Sleep(5 * time.Millisecond)
				}
				_, _ = get.Get(ctx, 7)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := get.Get(ctx, 7); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
