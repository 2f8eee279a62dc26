package tests_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/paginate"
)

// catalogue is a loader of lists by category, counting its calls; the
// items it returns carry the number of the call (Gen), so a test sees
// which fill a page came from.
type catalogue struct {
	calls atomic.Int64
	size  int
	hold  func(call int64) // called inside the loader, before it returns
}

func (c *catalogue) load(_ context.Context, category string) ([]product, error) {
	call := c.calls.Add(1)
	if c.hold != nil {
		c.hold(call)
	}
	items := products(int(call), c.size)
	for i := range items {
		items[i].Name = category + " " + items[i].Name
	}
	return items, nil
}

func newManager(t *testing.T, opts ...core.ManagerOption) *core.Manager {
	t.Helper()
	m := core.New(append([]core.ManagerOption{core.WithPrefix(uniquePrefix(t)), core.WithTimeout(5 * time.Second)}, opts...)...)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestMemoizeFillsOnceThenServesFromRedis(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := conn.With(testCtx(t), d)
		cat := &catalogue{size: 25}
		memo := paginate.Memoize(newManager(t), "catalogue", cat.load, paginate.WithTTL(time.Minute))
		p, err := memo.Get(ctx, "tools", 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pageOf{ids(1, 0, 10), 1, 10, 25, false, true}, summary(p, productID)); diff != "" {
			t.Errorf("page 1 (-want +got):\n%s", diff)
		}
		for _, tc := range []struct {
			number int
			want   pageOf
		}{
			{3, pageOf{ids(1, 20, 25), 3, 10, 25, true, false}},
			{2, pageOf{ids(1, 10, 20), 2, 10, 25, true, true}},
			{9, pageOf{nil, 9, 10, 25, true, false}},
		} {
			p, err := memo.Get(ctx, "tools", tc.number, 10)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summary(p, productID)); diff != "" {
				t.Errorf("page %d (-want +got):\n%s", tc.number, diff)
			}
			if len(p.Items) > 0 && !strings.HasPrefix(p.Items[0].Name, "tools ") {
				t.Errorf("page %d holds %+v, not a tools item", tc.number, p.Items[0])
			}
		}
		if n := cat.calls.Load(); n != 1 {
			t.Errorf("loader ran %d times for four pages, want once", n)
		}
		if _, err := memo.Get(ctx, "tools", 1, 0); !errors.Is(err, conn.ErrBadArg) {
			t.Errorf("size 0: %v, want conn.ErrBadArg", err)
		}
		// Another argument is another list.
		q, err := memo.Get(ctx, "garden", 1, 5)
		if err != nil || len(q.Items) != 5 || !strings.HasPrefix(q.Items[0].Name, "garden ") {
			t.Fatalf("garden: %+v, %v", q.Items, err)
		}
	})
}

func TestMemoizeStampede(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := conn.With(testCtx(t), d)
		release := make(chan struct{})
		cat := &catalogue{size: 50, hold: func(int64) { <-release }}
		memo := paginate.Memoize(newManager(t), "stampede", cat.load, paginate.WithTTL(time.Minute))
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := memo.Get(ctx, "x", 1+i%5, 10)
				if err == nil && (len(p.Items) != 10 || p.Items[0].Pos != (i%5)*10) {
					err = errors.New("wrong page")
				}
				errs <- err
			}()
		}
		time.Sleep(200 * time.Millisecond)
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if n := cat.calls.Load(); n != 1 {
			t.Errorf("20 concurrent cold calls ran the loader %d times, want once", n)
		}
	})
}

// TestMemoizeInvalidateFencesAFill invalidates while a fill is in flight:
// the fill's list (loaded before the change) goes to its own callers, but
// never to a call made after Invalidate returned.
func TestMemoizeInvalidateFencesAFill(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := conn.With(testCtx(t), d)
		entered, release := make(chan struct{}), make(chan struct{})
		cat := &catalogue{size: 12, hold: func(call int64) {
			if call == 1 {
				close(entered)
				<-release
			}
		}}
		memo := paginate.Memoize(newManager(t), "fenced", cat.load, paginate.WithTTL(time.Minute))
		done := make(chan paginate.Page[product], 1)
		go func() {
			p, err := memo.Get(ctx, "x", 1, 5)
			if err != nil {
				t.Error(err)
			}
			done <- p
		}()
		<-entered
		if err := memo.Invalidate(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		close(release)
		if p := <-done; len(p.Items) == 0 || p.Items[0].Gen != 1 {
			t.Errorf("the in-flight caller got %+v, want its own fill's list", p.Items)
		}
		for _, number := range []int{1, 2, 3} {
			p, err := memo.Get(ctx, "x", number, 5)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range p.Items {
				if it.Gen == 1 {
					t.Fatalf("page %d after Invalidate holds %+v from the fill it overtook", number, it)
				}
			}
		}
		if n := cat.calls.Load(); n != 2 {
			t.Errorf("loader ran %d times, want 2 (the fenced fill and one after Invalidate)", n)
		}
		if err := memo.InvalidateAll(ctx); err != nil {
			t.Fatal(err)
		}
		p, err := memo.Get(ctx, "x", 2, 5)
		if err != nil || len(p.Items) == 0 || p.Items[0].Gen != 3 {
			t.Errorf("after InvalidateAll: %+v, %v; want a third fill", p.Items, err)
		}
	})
}

// TestMemoizeListLost deletes a list behind the Memo's back, and replaces
// another with a version the Memo did not write: both are misses that
// fill again, never pages of nothing or of the foreign version.
func TestMemoizeListLost(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := conn.With(testCtx(t), d)
		cat := &catalogue{size: 12}
		m := newManager(t)
		memo := paginate.Memoize(m, "lost", cat.load, paginate.WithTTL(time.Minute))
		if _, err := memo.Get(ctx, "x", 1, 5); err != nil {
			t.Fatal(err)
		}
		key, err := memo.Key("x")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Del(ctx, "paginate:{"+key+"}:ptr"); err != nil {
			t.Fatal(err)
		}
		p, err := memo.Get(ctx, "x", 2, 5)
		if err != nil || len(p.Items) != 5 || p.Items[0].Gen != 2 || p.Items[0].Pos != 5 {
			t.Fatalf("after the list was lost: %+v, %v; want page 2 of a second fill", p.Items, err)
		}
		foreign, err := paginate.NewList(key, productID, paginate.WithDriver(d), paginate.WithPrefix("paginate"))
		if err != nil {
			t.Fatal(err)
		}
		if err := foreign.Replace(ctx, products(99, 12), time.Minute); err != nil {
			t.Fatal(err)
		}
		p, err = memo.Get(ctx, "x", 1, 5)
		if err != nil || len(p.Items) != 5 || p.Items[0].Gen != 3 {
			t.Fatalf("after a foreign Replace: %+v, %v; want a third fill", p.Items, err)
		}
	})
}

// TestMemoizeRedisDown serves pages from the loader, sliced in the
// process, while Redis is unreachable, and from Redis again once it is
// back.
func TestMemoizeRedisDown(t *testing.T) {
	for _, k := range []struct {
		name string
		open func(testing.TB, string) conn.Driver
	}{{"goredis", openGoredis}, {"radix", openRadix}} {
		t.Run(k.name, func(t *testing.T) {
			proxy := conntest.NewProxy(t, conntest.RedisAddr(t))
			d := k.open(t, "redis://"+proxy.Addr())
			ctx := conn.With(testCtx(t), d)
			cat := &catalogue{size: 30}
			var reported atomic.Int64
			m := newManager(t, core.WithTimeout(300*time.Millisecond),
				core.WithErrorHandler(func(context.Context, *core.Error) { reported.Add(1) }))
			memo := paginate.Memoize(m, "down", cat.load, paginate.WithTTL(time.Minute))
			if _, err := memo.Get(ctx, "x", 1, 10); err != nil {
				t.Fatal(err)
			}
			proxy.Refuse()
			proxy.Reset()
			for _, number := range []int{2, 3, 4} {
				callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				p, err := memo.Get(callCtx, "x", number, 10)
				cancel()
				if err != nil {
					t.Fatalf("page %d with Redis down: %v", number, err)
				}
				want := pageOf{ids(int(cat.calls.Load()), (number-1)*10, min(number*10, 30)), number, 10, 30, true, number < 3}
				if diff := cmp.Diff(want, summary(p, productID)); diff != "" {
					t.Errorf("page %d with Redis down (-want +got):\n%s", number, diff)
				}
			}
			if reported.Load() == 0 {
				t.Error("Redis trouble was not reported")
			}
			proxy.Accept()
			eventually(t, "pages from Redis again", func() bool {
				before := cat.calls.Load()
				_, err := memo.Get(ctx, "x", 1, 10)
				return err == nil && cat.calls.Load() == before
			})
		})
	}
}

// TestMemoizePerTenant gives each request its tenant's driver: each
// tenant's list lives in its own Redis, filled by its own load.
func TestMemoizePerTenant(t *testing.T) {
	standalone := openGoredis(t, "redis://"+conntest.RedisAddr(t))
	cluster := openRadix(t, "redis+cluster://"+strings.Join(conntest.ClusterAddrs(t), ","))
	ctx := testCtx(t)
	cat := &catalogue{size: 8}
	m := newManager(t)
	memo := paginate.Memoize(m, "tenant", cat.load, paginate.WithTTL(time.Minute))
	for _, d := range []conn.Driver{standalone, cluster, standalone, cluster} {
		p, err := memo.Get(conn.With(ctx, d), "x", 1, 4)
		if err != nil || len(p.Items) != 4 {
			t.Fatalf("%+v, %v", p.Items, err)
		}
	}
	if n := cat.calls.Load(); n != 2 {
		t.Errorf("two tenants, four calls: %d loads, want one per tenant", n)
	}
	key, err := memo.Key("x")
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]conn.Driver{"standalone": standalone, "cluster": cluster} {
		if _, err := d.Get(ctx, "paginate:{"+key+"}:ptr"); err != nil {
			t.Errorf("%s tenant has no list of its own: %v", name, err)
		}
	}
}

// eventually polls cond until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
