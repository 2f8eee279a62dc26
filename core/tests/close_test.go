package tests_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// Calls made while Close runs, and after it, go to their loader: the only
// error a caller may see is its loader's.
func TestGetRacingClose(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		const calls = 2000
		errLoader := errors.New("the loader's own error")
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		get := core.Memoize(m, "close.race", func(_ context.Context, i int) (int, error) {
			time.Sleep(time.Millisecond) // loads in flight when Close comes
			if i%10 == 0 {
				return 0, errLoader
			}
			return i, nil
		})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var bad []error
		var done atomic.Int64
		start := make(chan struct{})
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				for i := g; i < calls; i += 8 {
					// A context that can end: the load runs on a goroutine
					// of its own, the path Close races with.
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					v, err := get.Get(ctx, i) // every call a miss: every call a load
					cancel()
					done.Add(1)
					switch {
					case err == nil && v == i:
					case i%10 == 0 && errors.Is(err, errLoader):
					default:
						mu.Lock()
						bad = append(bad, err)
						mu.Unlock()
					}
				}
			}(g)
		}
		close(start)
		for done.Load() < calls/4 {
			time.Sleep(100 * time.Microsecond)
		}
		if err := m.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		wg.Wait()
		if len(bad) > 0 {
			t.Fatalf("%d of %d calls racing Close failed with an error not their loader's; first: %v", len(bad), calls, bad[0])
		}
	})
}
