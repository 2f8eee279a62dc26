package redcacheotel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// ScopeName is the instrumentation scope of the tracer and the meter:
// the module's import path, as OpenTelemetry's own instrumentations do.
const ScopeName = "github.com/redcache/redcache/redcacheotel"

// The attributes this package sets besides the semantic conventions'
// (db.system.name, db.operation.name, error.type, server.address).
const (
	// FunctionKey is the memoized function's name, on every span and
	// measurement.
	FunctionKey = attribute.Key("redcache.function")
	// OutcomeKey is what a Get found in the cache: hit, near_hit,
	// stale_hit, fail_safe, negative_hit, miss, refresh, bypass or error
	// (see core.Outcome).
	OutcomeKey = attribute.Key("redcache.outcome")
	// KeyKey is the Redis key of a step, on spans only, with [WithKeys].
	KeyKey = attribute.Key("redcache.key")
	// DriverKey is the Go type of the driver a circuit breaker watches.
	DriverKey = attribute.Key("redcache.driver")
)

// The instruments, named under "redcache." with their units.
const (
	// GetsName counts Gets by function and outcome: the hits, near hits,
	// stale hits and misses are its outcome attribute's values.
	GetsName = "redcache.gets"
	// GetDurationName is a histogram of how long Gets took, in seconds,
	// by function and outcome.
	GetDurationName = "redcache.get.duration"
	// LoadsName counts loader calls by function (and error.type when the
	// loader failed).
	LoadsName = "redcache.loads"
	// LoadDurationName is a histogram of how long the loader ran, in
	// seconds, by function.
	LoadDurationName = "redcache.load.duration"
	// RedisErrorsName counts failed Redis steps by function,
	// db.operation.name (load, save, delete, generation) and error.type.
	RedisErrorsName = "redcache.redis.errors"
	// BreakerStateName is a gauge of each circuit breaker's state, by
	// driver and node (server.address): 0 closed, 1 half-open, 2 open.
	BreakerStateName = "redcache.breaker.state"
)

// Observer records the calls of the memoized functions it is given to as
// OpenTelemetry spans and metrics; it implements [core.Observer]. Make
// one with [New] and give it to [core.New] (or [core.Memoize]) with
// [core.WithObserver].
//
// Each Get is a span named "redcache.get <function>" with the outcome as
// the attribute redcache.outcome; the loader's run ("redcache.load
// <function>") and each Redis step ("redcache.redis <op>", a client span
// with db.system.name "redis") are its children. A driver instrumented
// on its own (redisotel on go-redis) puts its command spans under the
// Redis step's.
type Observer struct {
	tracer     trace.Tracer
	attrs      []attribute.KeyValue
	redisAttrs []attribute.KeyValue // attrs and db.system.name
	keys       bool

	gets         metric.Int64Counter
	getDuration  metric.Float64Histogram
	loads        metric.Int64Counter
	loadDuration metric.Float64Histogram
	redisErrors  metric.Int64Counter
	breaker      metric.Int64Gauge

	funcs sync.Map // function name -> *function
}

// function is what the Observer computes once per memoized function, so
// that a call allocates only for its spans.
type function struct {
	getName, loadName string
	spanOpt           trace.SpanStartEventOption // the function's span attributes
	redisOpt          trace.SpanStartEventOption // and db.system.name
	outcomes          [outcomeCount]metric.MeasurementOption
	loaded            metric.MeasurementOption // a load that returned no error
}

// outcomeCount bounds core.Outcome's values, for the per-outcome options.
const outcomeCount = 16

func (o *Observer) function(name string) *function {
	if f, ok := o.funcs.Load(name); ok {
		return f.(*function)
	}
	fa := FunctionKey.String(name)
	f := &function{
		getName:  "redcache.get " + name,
		loadName: "redcache.load " + name,
		spanOpt:  trace.WithAttributes(append(append([]attribute.KeyValue(nil), o.attrs...), fa)...),
		redisOpt: trace.WithAttributes(append(append([]attribute.KeyValue(nil), o.redisAttrs...), fa)...),
		loaded:   metric.WithAttributeSet(attribute.NewSet(append(append([]attribute.KeyValue(nil), o.attrs...), fa)...)),
	}
	for i := range f.outcomes {
		f.outcomes[i] = metric.WithAttributeSet(attribute.NewSet(append(append([]attribute.KeyValue(nil), o.attrs...),
			fa, OutcomeKey.String(core.Outcome(i).String()))...))
	}
	v, _ := o.funcs.LoadOrStore(name, f)
	return v.(*function)
}

var _ core.Observer = (*Observer)(nil)

// New returns an Observer configured by opts. Its error comes from the
// meter provider when an instrument cannot be made.
func New(opts ...Option) (*Observer, error) {
	c := newConfig(opts)
	o := &Observer{
		tracer:     c.tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		attrs:      c.attrs,
		redisAttrs: append(append([]attribute.KeyValue(nil), c.attrs...), semconv.DBSystemNameRedis),
		keys:       c.keys,
	}
	meter := c.mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	o.gets, err = meter.Int64Counter(GetsName, metric.WithUnit("{get}"),
		metric.WithDescription("Gets of memoized functions, by outcome: hit, near_hit, stale_hit, fail_safe, negative_hit, miss, refresh, bypass, error."))
	add(err)
	o.getDuration, err = meter.Float64Histogram(GetDurationName, metric.WithUnit("s"),
		metric.WithDescription("Duration of Gets of memoized functions, loader included."))
	add(err)
	o.loads, err = meter.Int64Counter(LoadsName, metric.WithUnit("{load}"),
		metric.WithDescription("Loader calls of memoized functions."))
	add(err)
	o.loadDuration, err = meter.Float64Histogram(LoadDurationName, metric.WithUnit("s"),
		metric.WithDescription("Duration of loader calls of memoized functions."))
	add(err)
	o.redisErrors, err = meter.Int64Counter(RedisErrorsName, metric.WithUnit("{error}"),
		metric.WithDescription("Failed Redis steps of memoized functions, by operation."))
	add(err)
	o.breaker, err = meter.Int64Gauge(BreakerStateName, metric.WithUnit("{state}"),
		metric.WithDescription("State of each circuit breaker: 0 closed, 1 half-open, 2 open."))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("redcacheotel: %w", err)
	}
	return o, nil
}

// getStart is kept in the context of an observed Get, for its duration.
type getStart struct{}

// GetStart starts the Get's span.
func (o *Observer) GetStart(ctx context.Context, call core.Call) context.Context {
	f := o.function(call.Name)
	ctx, span := o.tracer.Start(ctx, f.getName, trace.WithSpanKind(trace.SpanKindInternal), f.spanOpt)
	o.keyAttr(span, call)
	return context.WithValue(ctx, getStart{}, time.Now())
}

// GetEnd ends the Get's span with its outcome, and counts the Get.
func (o *Observer) GetEnd(ctx context.Context, call core.Call, outcome core.Outcome, err error) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(OutcomeKey.String(outcome.String()))
	if err != nil {
		recordError(span, err)
	}
	span.End()
	attrs := o.outcomeOption(call.Name, outcome)
	o.gets.Add(ctx, 1, attrs)
	if start, ok := ctx.Value(getStart{}).(time.Time); ok {
		o.getDuration.Record(ctx, time.Since(start).Seconds(), attrs)
	}
}

// LoadStart starts the loader's span, a child of the Get's.
func (o *Observer) LoadStart(ctx context.Context, call core.Call) context.Context {
	f := o.function(call.Name)
	ctx, span := o.tracer.Start(ctx, f.loadName, trace.WithSpanKind(trace.SpanKindInternal), f.spanOpt)
	o.keyAttr(span, call)
	return ctx
}

// LoadEnd ends the loader's span, and counts the load and its duration.
func (o *Observer) LoadEnd(ctx context.Context, call core.Call, elapsed time.Duration, err error) {
	span := trace.SpanFromContext(ctx)
	attrs := o.function(call.Name).loaded
	if err != nil {
		recordError(span, err)
		attrs = metric.WithAttributes(o.metricAttrs(call, semconv.ErrorTypeKey.String(errorType(err)))...)
	}
	span.End()
	o.loads.Add(ctx, 1, attrs)
	o.loadDuration.Record(ctx, elapsed.Seconds(), attrs)
}

// RedisStart starts the span of a Redis step, a client span that is a
// child of the Get's (or of the explicit operation's caller).
func (o *Observer) RedisStart(ctx context.Context, call core.Call, op core.Op) context.Context {
	ctx, span := o.tracer.Start(ctx, redisSpanName(op), trace.WithSpanKind(trace.SpanKindClient),
		o.function(call.Name).redisOpt, trace.WithAttributes(semconv.DBOperationName(string(op))))
	o.keyAttr(span, call)
	return ctx
}

// RedisEnd ends the step's span, and counts it when it failed.
func (o *Observer) RedisEnd(ctx context.Context, call core.Call, op core.Op, err error) {
	span := trace.SpanFromContext(ctx)
	if err == nil {
		span.End()
		return
	}
	recordError(span, err)
	span.End()
	o.redisErrors.Add(ctx, 1, metric.WithAttributes(o.metricAttrs(call,
		semconv.DBSystemNameRedis, semconv.DBOperationName(string(op)), semconv.ErrorTypeKey.String(errorType(err)))...))
}

// BreakerChange records the breaker's new state.
func (o *Observer) BreakerChange(ch core.BreakerChange) {
	attrs := append(append([]attribute.KeyValue(nil), o.attrs...), DriverKey.String(driverName(ch.Driver)))
	if ch.Node != "" {
		attrs = append(attrs, semconv.ServerAddress(ch.Node))
	}
	o.breaker.Record(context.Background(), BreakerValue(ch.To), metric.WithAttributes(attrs...))
}

// BreakerValue is the value of a state in the [BreakerStateName] gauge:
// 0 closed, 1 half-open, 2 open, so that more is worse.
func BreakerValue(s core.BreakerState) int64 {
	switch s {
	case core.BreakerHalfOpen:
		return 1
	case core.BreakerOpen:
		return 2
	}
	return 0
}

func driverName(d conn.Driver) string {
	if d == nil {
		return "unknown"
	}
	return fmt.Sprintf("%T", d)
}

// keyAttr puts the key on span, with WithKeys.
func (o *Observer) keyAttr(span trace.Span, call core.Call) {
	if o.keys && call.Key != "" && span.IsRecording() {
		span.SetAttributes(KeyKey.String(call.Key))
	}
}

// outcomeOption is the measurement option of a Get of name with outcome.
func (o *Observer) outcomeOption(name string, outcome core.Outcome) metric.MeasurementOption {
	if int(outcome) < outcomeCount {
		return o.function(name).outcomes[outcome]
	}
	return metric.WithAttributes(o.metricAttrs(core.Call{Name: name}, OutcomeKey.String(outcome.String()))...)
}

// redisSpanName is "redcache.redis <op>", without an allocation for
// core's steps.
func redisSpanName(op core.Op) string {
	switch op {
	case core.OpLoad:
		return "redcache.redis load"
	case core.OpSave:
		return "redcache.redis save"
	case core.OpDelete:
		return "redcache.redis delete"
	case core.OpGeneration:
		return "redcache.redis generation"
	}
	return "redcache.redis " + string(op)
}

// metricAttrs are the configured attributes, the function and extra;
// never the key, whose values are unbounded.
func (o *Observer) metricAttrs(call core.Call, extra ...attribute.KeyValue) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, len(o.attrs)+1+len(extra))
	attrs = append(attrs, o.attrs...)
	attrs = append(attrs, FunctionKey.String(call.Name))
	return append(attrs, extra...)
}

func recordError(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// errorType is the error.type of err: a few kinds core tells apart, else
// what the semantic conventions derive from its Go type.
func errorType(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, core.ErrCircuitOpen):
		return "circuit_open"
	case errors.Is(err, core.ErrPanic):
		return "panic"
	case conn.IsReplyError(err, ""):
		return "reply"
	}
	return semconv.ErrorType(err).Value.AsString()
}
