package tests_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// After Redis comes back, the breaker's next probe closes it and hits
// come back: with the default breaker, within 1s of Redis answering.
func TestHitsComeBackAfterRestart(t *testing.T) {
	for _, name := range []string{"goredis", "radix"} {
		t.Run(name, func(t *testing.T) {
			r := conntest.StartRedis(t)
			var d conn.Driver
			if name == "goredis" {
				d = openGoredis(t, "redis://"+r.Addr())
			} else {
				d = openRadix(t, "redis://"+r.Addr())
			}
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t))) // the default timeout and breaker
			t.Cleanup(func() { m.Close() })
			get := core.Memoize(m, "recovery", func(_ context.Context, i int) (int, error) { return i, nil })
			ctx := testCtx(t)

			var stop atomic.Bool
			done := make(chan error, 1)
			go func() {
				for i := 0; !stop.Load(); i++ {
					if v, err := get.Get(ctx, i%4); err != nil || v != i%4 {
						done <- fmt.Errorf("Get = %v, %v", v, err)
						return
					}
					time.Sleep(time.Millisecond)
				}
				done <- nil
			}()
			t.Cleanup(func() { stop.Store(true) })
			eventually(t, "hits on a healthy Redis", func() bool { return m.Stats().Hits > 10 })

			r.Kill()
			eventually(t, "the breaker to open", func() bool { return m.Stats().Breaker == core.BreakerOpen })
			// A few failed probes, and Redis back at any point of a cooldown.
			time.Sleep(1200*time.Millisecond + time.Duration(rand.Int64N(int64(time.Second))))
			r.Start() // returns once the server answers PING
			back := time.Now()
			hits := m.Stats().Hits
			eventually(t, "hits after the restart", func() bool { return m.Stats().Hits > hits })
			took := time.Since(back)
			stop.Store(true)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: first hit %v after Redis answered again", name, took.Round(time.Millisecond))
			if took > time.Second {
				t.Errorf("first hit %v after Redis came back, want within 1s", took)
			}
		})
	}
}
