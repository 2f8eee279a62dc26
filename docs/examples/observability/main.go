// Command observability is the program of the observability guide
// (docs/observability.md): per-function counters, a throttled slog error
// handler, OpenTelemetry traces and metrics through redcacheotel, and an
// Observer of one's own.
//
//	go run ./docs/examples/observability    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
	"github.com/redcache/redcache/redcacheotel"
)

func main() {
	url, stop, err := devredis.URL()
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	if err := run(context.Background(), os.Stdout, url); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer, url string) error {
	d, err := goredis.Open(ctx, url)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx = conn.With(ctx, d)

	fmt.Fprintln(w, "counters:")
	if err := counters(ctx, w); err != nil {
		return err
	}
	fmt.Fprintln(w, "a throttled log of a Redis that is down:")
	if err := throttledLog(ctx, w); err != nil {
		return err
	}
	fmt.Fprintln(w, "OpenTelemetry:")
	if err := otelTraces(ctx, w); err != nil {
		return err
	}
	fmt.Fprintln(w, "an observer of your own:")
	return ownObserver(ctx, w)
}

func lookup(_ context.Context, id int) (string, error) { return fmt.Sprintf("user %d", id), nil }

func counters(ctx context.Context, w io.Writer) error {
	m := core.New(core.WithPrefix("obs"))
	defer m.Close()
	users := core.Memoize(m, "obs.users", lookup)
	orders := core.Memoize(m, "obs.orders", lookup)
	if err := users.InvalidateAll(ctx); err != nil {
		return err
	}
	if err := orders.InvalidateAll(ctx); err != nil {
		return err
	}
	for _, id := range []int{1, 2, 1, 1} {
		if _, err := users.Get(ctx, id); err != nil {
			return err
		}
	}
	if _, err := orders.Get(ctx, 7); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	logCacheStats(logger, m, users)
	return nil
}

func logCacheStats(logger *slog.Logger, m *core.Manager, users *core.Memo[int, string]) {
	logger.Info("cache", "all", m.Stats().String(), "users", users.Stats().String())
}

// dropTime leaves the time out of the log lines, so that the output of
// the program is the same from one run to the next.
func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func newManager(logger *slog.Logger) *core.Manager {
	return core.New(core.WithErrorHandler(
		core.ThrottleErrors(core.LogErrors(logger), time.Minute, 10)))
}

// throttledLog calls a function whose Redis refuses every connection:
// 50 calls, each reporting its failed read, but at most 10 log lines a
// minute of each kind.
func throttledLog(ctx context.Context, w io.Writer) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more: a Redis that is down
	down, err := goredis.Open(ctx, "redis://"+addr)
	if err != nil {
		return err
	}
	defer down.Close()

	var lines countingWriter
	logger := slog.New(slog.NewTextHandler(&lines, nil))
	m := newManager(logger)
	defer m.Close()
	f := core.Memoize(m, "obs.down", lookup, core.WithBreaker(0, 0)) // no breaker: every call tries Redis
	for i := 0; i < 50; i++ {
		if _, err := f.Get(conn.With(ctx, down), i); err != nil {
			return err // never: Redis trouble is not the caller's error
		}
	}
	s := f.Stats()
	fmt.Fprintf(w, "  50 calls, %d redis errors, %d log lines\n", s.RedisErrors, lines.count())
	return nil
}

// countingWriter counts the lines written to it.
type countingWriter struct {
	mu sync.Mutex
	n  int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += strings.Count(string(p), "\n")
	return len(p), nil
}

func (c *countingWriter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func newObservedManager(tp trace.TracerProvider, mp metric.MeterProvider) (*core.Manager, error) {
	obs, err := redcacheotel.New(
		redcacheotel.WithTracerProvider(tp),
		redcacheotel.WithMeterProvider(mp))
	if err != nil {
		return nil, err
	}
	return core.New(core.WithObserver(obs)), nil
}

// otelTraces records the spans and metrics of a miss and a hit in memory,
// and prints them.
func otelTraces(ctx context.Context, w io.Writer) error {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	m, err := newObservedManager(tp, mp)
	if err != nil {
		return err
	}
	defer m.Close()
	users := core.Memoize(m, "obs.traced", lookup)
	if err := users.InvalidateAll(ctx); err != nil {
		return err
	}
	for range 2 { // a miss, then a hit
		if _, err := users.Get(ctx, 1); err != nil {
			return err
		}
	}

	byID := map[trace.SpanID]string{}
	for _, s := range spans.Ended() {
		byID[s.SpanContext().SpanID()] = s.Name()
	}
	for _, s := range spans.Ended() {
		line := "  span " + s.Name()
		if v, ok := attr(s.Attributes(), redcacheotel.OutcomeKey); ok {
			line += " (" + v + ")"
		}
		if parent, ok := byID[s.Parent().SpanID()]; ok {
			line += ", child of " + parent
		}
		fmt.Fprintln(w, line)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	var gets []string
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name != redcacheotel.GetsName {
				continue
			}
			for _, p := range mt.Data.(metricdata.Sum[int64]).DataPoints {
				outcome, _ := p.Attributes.Value(redcacheotel.OutcomeKey)
				gets = append(gets, fmt.Sprintf("%s=%d", outcome.AsString(), p.Value))
			}
		}
	}
	sort.Strings(gets)
	fmt.Fprintf(w, "  metric %s: %s\n", redcacheotel.GetsName, strings.Join(gets, " "))
	return nil
}

func attr(attrs []attribute.KeyValue, k attribute.Key) (string, bool) {
	for _, a := range attrs {
		if a.Key == k {
			return a.Value.Emit(), true
		}
	}
	return "", false
}

// missCounter counts the calls that ran their loader, by function.
type missCounter struct {
	core.NopObserver
	mu     sync.Mutex
	misses map[string]int
}

func (c *missCounter) GetEnd(_ context.Context, call core.Call, outcome core.Outcome, _ error) {
	if outcome == core.OutcomeMiss {
		c.mu.Lock()
		c.misses[call.Name]++
		c.mu.Unlock()
	}
}

func ownObserver(ctx context.Context, w io.Writer) error {
	c := &missCounter{misses: map[string]int{}}
	m := core.New(core.WithObserver(c))
	defer m.Close()
	users := core.Memoize(m, "obs.counted", lookup)
	if err := users.InvalidateAll(ctx); err != nil {
		return err
	}
	for _, id := range []int{1, 2, 3, 1, 2, 3} {
		if _, err := users.Get(ctx, id); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(w, "  misses of obs.counted: %d in 6 calls\n", c.misses["obs.counted"])
	return nil
}
