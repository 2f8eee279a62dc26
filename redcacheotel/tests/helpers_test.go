package tests_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/redcacheotel"
)

// driverKind opens one driver on a Redis URL.
type driverKind struct {
	name string
	open func(tb testing.TB, url string) conn.Driver
}

var drivers = []driverKind{
	{"goredis", func(tb testing.TB, url string) conn.Driver {
		tb.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := goredis.Open(ctx, url)
		if err != nil {
			tb.Fatalf("goredis.Open(%s): %v", url, err)
		}
		tb.Cleanup(func() { _ = d.Close() })
		return d
	}},
	{"radix", func(tb testing.TB, url string) conn.Driver {
		tb.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := radix.Open(ctx, url)
		if err != nil {
			tb.Fatalf("radix.Open(%s): %v", url, err)
		}
		tb.Cleanup(func() { _ = d.Close() })
		return d
	}},
}

// eachTarget runs fn for both drivers on the standalone Redis and, when
// the runner started one, on the cluster. Servers are looked up in the
// subtests, so a missing cluster skips only its subtests.
func eachTarget(t *testing.T, fn func(t *testing.T, d conn.Driver)) {
	t.Helper()
	for _, dk := range drivers {
		t.Run(dk.name+"/standalone", func(t *testing.T) {
			fn(t, dk.open(t, "redis://"+conntest.RedisAddr(t)))
		})
		t.Run(dk.name+"/cluster", func(t *testing.T) {
			fn(t, dk.open(t, "redis+cluster://"+strings.Join(conntest.ClusterAddrs(t), ",")))
		})
	}
}

// eachStandalone runs fn for both drivers on the standalone Redis.
func eachStandalone(t *testing.T, fn func(t *testing.T, dk driverKind, addr string)) {
	t.Helper()
	for _, dk := range drivers {
		t.Run(dk.name, func(t *testing.T) { fn(t, dk, conntest.RedisAddr(t)) })
	}
}

// harness is an Observer whose spans and metrics the test reads back
// from the SDK's in-memory recorder and a manual reader.
type harness struct {
	obs    *redcacheotel.Observer
	tp     *sdktrace.TracerProvider
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
}

func newHarness(t *testing.T, opts ...redcacheotel.Option) *harness {
	t.Helper()
	h := &harness{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	h.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	t.Cleanup(func() {
		_ = h.tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	obs, err := redcacheotel.New(append([]redcacheotel.Option{
		redcacheotel.WithTracerProvider(h.tp), redcacheotel.WithMeterProvider(mp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.obs = obs
	return h
}

// ended returns the ended spans named name.
func (h *harness) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// children returns the ended spans whose parent is parent.
func (h *harness) children(parent sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.spans.Ended() {
		if s.Parent().SpanID() == parent.SpanContext().SpanID() && s.SpanContext().TraceID() == parent.SpanContext().TraceID() {
			out = append(out, s)
		}
	}
	return out
}

// waitEnded waits until n spans named name ended, and returns them.
func (h *harness) waitEnded(t *testing.T, name string, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if s := h.ended(name); len(s) >= n || time.Now().After(deadline) {
			if len(s) < n {
				t.Fatalf("%d %q spans ended, want %d", len(s), name, n)
			}
			return s
		}
	}
}

func (h *harness) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

func findMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// matches reports whether set holds every attribute of want.
func matches(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// counterSum sums the points of the int64 counter name whose attributes
// hold want.
func counterSum(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	if !ok {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is a %T, not an int64 sum", name, m.Data)
	}
	var n int64
	for _, dp := range sum.DataPoints {
		if matches(dp.Attributes, want) {
			n += dp.Value
		}
	}
	return n
}

// histogramCount counts the measurements of the histogram name whose
// attributes hold want.
func histogramCount(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) uint64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	if !ok {
		return 0
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is a %T, not a float64 histogram", name, m.Data)
	}
	var n uint64
	for _, dp := range h.DataPoints {
		if matches(dp.Attributes, want) {
			n += dp.Count
		}
	}
	return n
}

// gauge returns the values of the int64 gauge name whose attributes hold
// want.
func gauge(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) []int64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	if !ok {
		return nil
	}
	g, ok := m.Data.(metricdata.Gauge[int64])
	if !ok {
		t.Fatalf("%s is a %T, not an int64 gauge", name, m.Data)
	}
	var out []int64
	for _, dp := range g.DataPoints {
		if matches(dp.Attributes, want) {
			out = append(out, dp.Value)
		}
	}
	return out
}

// attr returns the value of the attribute key on s, and whether s has it.
func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, a := range s.Attributes() {
		if a.Key == key {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

func uniquePrefix(t *testing.T) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "otel" + hex.EncodeToString(b[:])
}
