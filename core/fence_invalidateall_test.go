package core_test

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
			first := make(chan int32, 1)
			go func() {
				cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				v, err := get.Get(cctx, "k")
				if err != nil {
					t.Error(err)
				}
				first <- v
			}()
			<-started
			if err := get.InvalidateAll(ctx); err != nil {
				t.Fatal(err)
			}
			done := make(chan int32, 1)
			go func() {
				cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				v, err := get.Get(cctx, "k")
				if err != nil {
					t.Error(err)
				}
				done <- v
			}()
			var after int32
			select {
			case after = <-done:
			case <-time.After(5 * time.Second):
				close(release)
				after = <-done
			}
			close2(release)
			if v := <-first; v != 1 {
				t.Errorf("the first call got %d; want its own load's value 1", v)
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

// close2 closes c unless it is closed already.
func close2(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
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
		first := make(chan int32, 1)
		go func() {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			v, _ := get.Get(cctx, "k")
			first <- v
		}()
		<-started
		if err := get.InvalidateAll(ctx); err != nil {
			t.Fatal(err)
		}
		done := make(chan int32, 1)
		go func() {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			v, _ := get.Get(cctx, "k")
			done <- v
		}()
		var after int32
		select {
		case after = <-done:
		case <-time.After(5 * time.Second):
			close(release)
			after = <-done
		}
		close2(release)
		if v := <-first; v != 2 {
			t.Errorf("the first call got %d; want its own load's value 2", v)
		}
		if after != 3 {
			t.Fatalf("a Get after InvalidateAll returned got %d; want 3, a load that began after it", after)
		}
	})
}
