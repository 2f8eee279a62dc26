package tests_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// A call made after this process's InvalidateAll returned never gets the
// value of a load that began before it, even when both saw the same
// thing under the key (nothing): the load of the older generation is a
// flight of its own. The consistency soak found this one.
func TestInvalidateAllIsNotJoinedAcross(t *testing.T) {
	for _, tg := range raceTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			d := tg.open(t)
			ctx := testCtx(t)
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
			t.Cleanup(func() { m.Close() })
			var loads atomic.Int32
			started, release := make(chan struct{}), make(chan struct{})
			get := core.Memoize(m, "gens", func(ctx context.Context, k string) (int32, error) {
				n := loads.Add(1)
				if n == 1 {
					close(started)
					select { // the first load reads its source, then is held
					case <-release:
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				}
				return n, nil
			})
			first, after := getAcrossInvalidateAll(t, ctx, get, started, release)
			if first != 1 {
				t.Errorf("the first call got %d; want its own load's value 1", first)
			}
			if after != 2 {
				t.Fatalf("a Get after InvalidateAll returned got %d; want 2, a load that began after it", after)
			}
			if v, err := get.Get(ctx, "k"); err != nil || v != 2 {
				t.Fatalf("next Get = %d, %v; want the stored value 2 (the older load must not store)", v, err)
			}
		})
	}
}

// The same when the calls cannot read the entry (Redis failing for
// reads, or the breaker open): a call after this process's InvalidateAll
// does not join a load that began before it.
func TestInvalidateAllIsNotJoinedAcrossWhenReadsFail(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		h := newHookDriver(d)
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		t.Cleanup(func() { m.Close() })
		var loads atomic.Int32
		started, release := make(chan struct{}), make(chan struct{})
		get := core.Memoize(m, "gensdown", func(ctx context.Context, k string) (int32, error) {
			n := loads.Add(1)
			if n == 2 {
				close(started)
				select {
				case <-release:
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}
			return n, nil
		})
		if _, err := get.Get(ctx, "warm"); err != nil { // the generation is known
			t.Fatal(err)
		}
		h.setBefore(func(_ context.Context, op, key string) error {
			if op == "get" && !strings.HasSuffix(key, "~gen") {
				return errors.New("injected: entry reads fail")
			}
			return nil
		})
		first, after := getAcrossInvalidateAll(t, ctx, get, started, release)
		if first != 2 {
			t.Errorf("the first call got %d; want its own load's value 2", first)
		}
		if after != 3 {
			t.Fatalf("a Get after InvalidateAll returned got %d; want 3, a load that began after it", after)
		}
	})
}

// getAcrossInvalidateAll starts a Get of "k" whose load holds until
// release is closed, calls InvalidateAll once that load started, then
// makes a second Get. It returns what the two got. A second Get that
// wrongly joined the first load would wait for it: after 5s the load is
// released, so that the test fails rather than hangs.
func getAcrossInvalidateAll(t *testing.T, ctx context.Context, get *core.Memo[string, int32], started, release chan struct{}) (first, after int32) {
	t.Helper()
	getAsync := func() chan int32 {
		c := make(chan int32, 1)
		go func() {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			v, _ := get.Get(cctx, "k") // its value is what is checked
			c <- v
		}()
		return c
	}
	firstc := getAsync()
	<-started
	if err := get.InvalidateAll(ctx); err != nil {
		t.Fatal(err)
	}
	afterc := getAsync()
	select {
	case after = <-afterc:
		close(release)
	case <-time.After(5 * time.Second):
		close(release)
		after = <-afterc
	}
	return <-firstc, after
}
