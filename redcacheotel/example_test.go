package redcacheotel_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/redcacheotel"
)

// Traces and metrics for every function of a Manager: give the Observer
// to core.New. Here the Manager has no Redis to talk to, so the call
// bypasses the cache and its loader runs; with one, the Get span's
// outcome is hit or miss and Redis steps appear under it.
func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	obs, err := redcacheotel.New(redcacheotel.WithTracerProvider(tp))
	if err != nil {
		panic(err)
	}
	m := core.New(core.WithObserver(obs))
	defer m.Close()

	double := core.Memoize(m, "example.double", func(_ context.Context, n int) (int, error) { return 2 * n, nil })
	v, _ := double.Get(context.Background(), 21)
	fmt.Println(v)
	for _, s := range spans.Ended() {
		fmt.Print(s.Name())
		for _, a := range s.Attributes() {
			if a.Key == redcacheotel.OutcomeKey {
				fmt.Print(" ", a.Value.AsString())
			}
		}
		fmt.Println()
	}
	// Output:
	// 42
	// redcache.load example.double
	// redcache.get example.double bypass
}
