package tests_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// A stampede on a function whose generation was never read reads it once
// (and once more before each load stores):
// the callers that arrive while one reads it wait for that read, instead
// of a thousand GETs of one key that, on a small pool, time out together
// and send every caller to its loader.
func TestColdGenerationIsReadOnce(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		const callers = 1000
		h := newHookDriver(d)
		var genReads atomic.Int32
		h.setBefore(func(_ context.Context, op, key string) error {
			if op == "get" && strings.HasSuffix(key, "~gen") {
				genReads.Add(1)
			}
			return nil
		})
		// A thousand callers under -race can take longer than the default
		// 1s refresh, which would read the generation again on purpose.
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithGenerationRefresh(time.Minute))
		t.Cleanup(func() { m.Close() })
		var loads atomic.Int32
		get := core.Memoize(m, "cold", func(_ context.Context, k int) (int, error) { loads.Add(1); return k, nil })
		ctx := testCtx(t)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if v, err := get.Get(ctx, 7); err != nil || v != 7 {
					t.Errorf("Get = %d, %v", v, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		// One read for the callers, and one by each load before it stores
		// (every load checks that the generation did not move), and on a
		// cluster one more right after (see TestRestartBeforeStoreKeepsLoadOut).
		perLoad := int32(1)
		if strings.Contains(t.Name(), "cluster") {
			perLoad = 2
		}
		if n, l := genReads.Load(), loads.Load(); n > 1+perLoad*l {
			t.Fatalf("%d reads of the generation for %d callers of a cold function and %d loads; want at most %d", n, callers, l, 1+perLoad*l)
		}
	})
}
