package tests_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/redcacheotel"
)

const fn = "otel.square"

// testTimeout bounds the Redis calls of the tests that count hits and
// misses: a cold cluster client under -race on a busy machine can take
// longer than the 100ms default, and a lookup that timed out is a
// different outcome.
const testTimeout = 5 * time.Second

func square(_ context.Context, n int) (int, error) {
	if n < 0 {
		return 0, errors.New("negative")
	}
	return n * n, nil
}

// outcomeOf returns the outcome attribute of a Get span.
func outcomeOf(t *testing.T, s sdktrace.ReadOnlySpan) string {
	t.Helper()
	v, ok := attr(s, redcacheotel.OutcomeKey)
	if !ok {
		t.Fatalf("span %q has no %s", s.Name(), redcacheotel.OutcomeKey)
	}
	return v.AsString()
}

// childNames returns the names of parent's ended children.
func childNames(h *harness, parent sdktrace.ReadOnlySpan) map[string]int {
	names := map[string]int{}
	for _, c := range h.children(parent) {
		names[c.Name()]++
	}
	return names
}

// TestTraces: a miss and then a hit, each one span under the caller's
// span, with the loader and the Redis steps as its children.
func TestTraces(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		h := newHarness(t, redcacheotel.WithKeys(true))
		m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithObserver(h.obs), core.WithTimeout(testTimeout))
		t.Cleanup(func() { _ = m.Close() })
		f := core.Memoize(m, fn, square, core.WithTTL(time.Minute))

		ctx, request := h.tp.Tracer("test").Start(context.Background(), "request")
		for i := 0; i < 2; i++ {
			if v, err := f.Get(ctx, 7); err != nil || v != 49 {
				t.Fatalf("Get(7) = %d, %v; want 49", v, err)
			}
		}
		request.End()

		gets := h.ended("redcache.get " + fn)
		if len(gets) != 2 {
			t.Fatalf("%d Get spans, want 2", len(gets))
		}
		key, _ := f.Key(7)
		for i, want := range []string{"miss", "hit"} {
			g := gets[i]
			if got := outcomeOf(t, g); got != want {
				t.Errorf("Get %d: outcome %q, want %q", i, got, want)
			}
			if g.Parent().SpanID() != request.SpanContext().SpanID() {
				t.Errorf("Get %d: parent %v, want the request span %v", i, g.Parent().SpanID(), request.SpanContext().SpanID())
			}
			if v, _ := attr(g, redcacheotel.FunctionKey); v.AsString() != fn {
				t.Errorf("Get %d: %s = %q, want %q", i, redcacheotel.FunctionKey, v.AsString(), fn)
			}
			if v, _ := attr(g, redcacheotel.KeyKey); v.AsString() != key {
				t.Errorf("Get %d: %s = %q, want %q", i, redcacheotel.KeyKey, v.AsString(), key)
			}
		}

		miss := childNames(h, gets[0])
		for _, name := range []string{"redcache.load " + fn, "redcache.redis load", "redcache.redis save"} {
			if miss[name] != 1 {
				t.Errorf("the miss's children are %v: want one %q", miss, name)
			}
		}
		hit := childNames(h, gets[1])
		if hit["redcache.redis load"] != 1 || hit["redcache.load "+fn] != 0 {
			t.Errorf("the hit's children are %v: want one redis load and no loader", hit)
		}
		for _, s := range h.ended("redcache.redis load") {
			if s.SpanKind() != trace.SpanKindClient {
				t.Errorf("redis span kind %v, want client", s.SpanKind())
			}
			if v, _ := attr(s, semconv.DBSystemNameKey); v.AsString() != "redis" {
				t.Errorf("redis span %s = %q, want redis", semconv.DBSystemNameKey, v.AsString())
			}
			if v, _ := attr(s, semconv.DBOperationNameKey); v.AsString() != "load" {
				t.Errorf("redis span %s = %q, want load", semconv.DBOperationNameKey, v.AsString())
			}
			if s.Status().Code == codes.Error {
				t.Errorf("redis load span is an error: %v", s.Status())
			}
		}
	})
}

// TestStaleTrace: a stale hit is its own outcome, and the background
// reload it starts is a loader span in the same trace.
func TestStaleTrace(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		h := newHarness(t)
		m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithObserver(h.obs), core.WithTimeout(testTimeout))
		t.Cleanup(func() { _ = m.Close() })
		f := core.Memoize(m, fn, square, core.WithTTL(100*time.Millisecond), core.WithStaleWhileRevalidate(time.Minute))
		ctx := context.Background()
		if _, err := f.Get(ctx, 3); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if v, err := f.Get(ctx, 3); err != nil || v != 9 {
			t.Fatalf("Get(3) = %d, %v; want 9", v, err)
		}
		gets := h.ended("redcache.get " + fn)
		if len(gets) != 2 {
			t.Fatalf("%d Get spans, want 2", len(gets))
		}
		if got := outcomeOf(t, gets[1]); got != "stale_hit" {
			t.Fatalf("second Get: outcome %q, want stale_hit", got)
		}
		loads := h.waitEnded(t, "redcache.load "+fn, 2)
		refresh := loads[1]
		if refresh.Parent().SpanID() != gets[1].SpanContext().SpanID() {
			t.Errorf("the background reload's parent is %v, want the stale Get %v", refresh.Parent().SpanID(), gets[1].SpanContext().SpanID())
		}
		if s := f.Stats(); s.StaleHits != 1 {
			t.Errorf("Stats().StaleHits = %d, want 1 (%v)", s.StaleHits, s)
		}
	})
}

// TestMetrics: the instruments after a known sequence of calls agree
// with the sequence and with the function's own Stats.
func TestMetrics(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		h := newHarness(t, redcacheotel.WithAttributes(attribute.String("service.name", "otel-test")))
		m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithObserver(h.obs), core.WithTimeout(testTimeout))
		t.Cleanup(func() { _ = m.Close() })
		f := core.Memoize(m, fn, square, core.WithTTL(time.Minute))
		other := core.Memoize(m, "otel.other", square, core.WithTTL(time.Minute))
		ctx := context.Background()
		// 1 miss, 2 hits; another miss; a failing load; another function's miss.
		for _, n := range []int{1, 1, 1, 2, -1} {
			_, _ = f.Get(ctx, n)
		}
		_, _ = other.Get(ctx, 1)

		rm := h.collect(t)
		fa := redcacheotel.FunctionKey.String(fn)
		svc := attribute.String("service.name", "otel-test")
		checks := []struct {
			what string
			got  int64
			want int64
		}{
			{"miss gets", counterSum(t, rm, redcacheotel.GetsName, fa, svc, redcacheotel.OutcomeKey.String("miss")), 3},
			{"hit gets", counterSum(t, rm, redcacheotel.GetsName, fa, redcacheotel.OutcomeKey.String("hit")), 2},
			{"all gets", counterSum(t, rm, redcacheotel.GetsName), 6},
			{"loads", counterSum(t, rm, redcacheotel.LoadsName, fa), 3},
			{"failed loads", counterSum(t, rm, redcacheotel.LoadsName, fa, semconv.ErrorTypeKey.String("*errors.errorString")), 1},
			{"load durations", int64(histogramCount(t, rm, redcacheotel.LoadDurationName, fa)), 3},
			{"get durations", int64(histogramCount(t, rm, redcacheotel.GetDurationName, fa)), 5},
			{"redis errors", counterSum(t, rm, redcacheotel.RedisErrorsName), 0},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
			}
		}
		s := f.Stats()
		if s.Hits != 2 || s.Misses != 3 || s.Loads != 3 || s.LoadErrors != 1 {
			t.Errorf("f.Stats() = %+v, want 2 hits, 3 misses, 3 loads, 1 load error", s)
		}
		if o := other.Stats(); o.Misses != 1 || o.Loads != 1 || o.Hits != 0 {
			t.Errorf("other.Stats() = %+v, want 1 miss and 1 load", o)
		}
		if all := m.Stats(); all.Misses != 4 || all.Loads != 4 {
			t.Errorf("m.Stats() = %+v, want the sum of both functions: 4 misses, 4 loads", all)
		}
	})
}

// TestNearHit: a value served from the near cache is a near_hit, with no
// Redis step under its span.
func TestNearHit(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		h := newHarness(t)
		m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithObserver(h.obs), core.WithTimeout(testTimeout))
		t.Cleanup(func() { _ = m.Close() })
		f := core.Memoize(m, fn, square, core.WithTTL(time.Minute), core.WithNearCache(100, time.Minute))
		ctx := context.Background()
		_, _ = f.Get(ctx, 1) // starts the near cache's subscription
		for deadline := time.Now().Add(10 * time.Second); !m.Stats().NearActive; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the near cache's subscription did not come up")
			}
		}
		_, _ = f.Get(ctx, 2) // a miss, kept near
		if _, err := f.Get(ctx, 2); err != nil {
			t.Fatal(err)
		}
		gets := h.ended("redcache.get " + fn)
		last := gets[len(gets)-1]
		if got := outcomeOf(t, last); got != "near_hit" {
			t.Fatalf("outcome %q, want near_hit", got)
		}
		if c := childNames(h, last); len(c) != 0 {
			t.Errorf("a near hit has children %v, want none", c)
		}
		rm := h.collect(t)
		if n := counterSum(t, rm, redcacheotel.GetsName, redcacheotel.OutcomeKey.String("near_hit")); n != 1 {
			t.Errorf("near_hit gets: %d, want 1", n)
		}
	})
}

// TestRedisDown: with Redis unreachable, each failed step is an error on
// its span and in redcache.redis.errors, the Gets still return the
// loader's value, and the breaker's opening shows on its gauge.
func TestRedisDown(t *testing.T) {
	eachStandalone(t, func(t *testing.T, dk driverKind, addr string) {
		p := conntest.NewProxy(t, addr)
		d := dk.open(t, "redis://"+p.Addr())
		h := newHarness(t)
		m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithObserver(h.obs),
			core.WithBreaker(2, time.Minute), core.WithTimeout(300*time.Millisecond))
		t.Cleanup(func() { _ = m.Close() })
		f := core.Memoize(m, fn, square, core.WithTTL(time.Minute))
		ctx := context.Background()
		if _, err := f.Get(ctx, 1); err != nil {
			t.Fatal(err)
		}
		p.Refuse()
		p.Reset()
		for i := 2; m.Stats().Breaker != core.BreakerOpen; i++ {
			if i > 50 {
				t.Fatalf("the breaker did not open after %d calls: %v", i, m.Stats())
			}
			if v, err := f.Get(ctx, i); err != nil || v != i*i {
				t.Fatalf("Get(%d) with Redis down = %d, %v; want the loader's %d", i, v, err, i*i)
			}
		}
		if v, err := f.Get(ctx, 100); err != nil || v != 10000 {
			t.Fatalf("Get(100) with the breaker open = %d, %v", v, err)
		}

		rm := h.collect(t)
		fa := redcacheotel.FunctionKey.String(fn)
		errs := counterSum(t, rm, redcacheotel.RedisErrorsName, fa, semconv.DBSystemNameRedis)
		if errs < 1 {
			t.Errorf("redcache.redis.errors = %d, want at least 1", errs)
		}
		if s := f.Stats(); uint64(errs) != s.RedisErrors {
			t.Errorf("redcache.redis.errors = %d, Stats().RedisErrors = %d: want the same", errs, s.RedisErrors)
		}
		byOp := int64(0)
		for _, op := range []core.Op{core.OpLoad, core.OpGeneration, core.OpSave} {
			byOp += counterSum(t, rm, redcacheotel.RedisErrorsName, semconv.DBOperationName(string(op)))
		}
		if byOp != errs {
			t.Errorf("redis errors by op sum to %d, want %d", byOp, errs)
		}
		driver := redcacheotel.DriverKey.String(fmt.Sprintf("%T", d))
		if g := gauge(t, rm, redcacheotel.BreakerStateName, driver); len(g) != 1 || g[0] != 2 {
			t.Errorf("breaker gauge for %v = %v, want [2] (open)", driver, g)
		}
		if n := counterSum(t, rm, redcacheotel.GetsName, fa, redcacheotel.OutcomeKey.String("bypass")); n < 1 {
			t.Errorf("bypass gets = %d, want at least 1 once the breaker is open", n)
		}

		var failed int
		for _, g := range h.ended("redcache.get " + fn) {
			if outcomeOf(t, g) != "error" {
				continue
			}
			for _, c := range h.children(g) {
				if c.Status().Code == codes.Error && len(c.Events()) > 0 {
					failed++
				}
			}
		}
		if failed == 0 {
			t.Error("no Get with outcome error has a Redis span marked as an error")
		}
	})
}
