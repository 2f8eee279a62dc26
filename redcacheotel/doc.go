// Package redcacheotel records the calls of redcache's memoized functions
// as OpenTelemetry traces and metrics.
//
// It is a module of its own so that core stays free of dependencies: a
// program that caches with redcache but does not use OpenTelemetry never
// downloads it. Core offers the seam, [core.Observer]; this package is
// the OpenTelemetry side of it, in the shape of OpenTelemetry's own
// instrumentations (redisotel for go-redis, otelgin for gin): a
// constructor, [WithTracerProvider], [WithMeterProvider] and
// [WithAttributes] options that default to the global providers, the
// semantic conventions' attribute names where they exist, and the
// module's import path ([ScopeName]) as the instrumentation scope.
//
//	obs, err := redcacheotel.New(redcacheotel.WithTracerProvider(tp), redcacheotel.WithMeterProvider(mp))
//	if err != nil {
//		return err
//	}
//	m := core.New(core.WithObserver(obs))
//
// # Traces
//
// Each Get (and Refresh) is a span, "redcache.get <function>", whose
// attribute redcache.outcome says what the cache gave: hit, near_hit,
// stale_hit, fail_safe (an expired value served because the loader
// failed or timed out, core.WithFailSafe), negative_hit, miss, refresh,
// bypass (the cache was skipped:
// no driver, an open breaker, SkipCache) or error (Redis failed and the
// loader ran without it). Its children are the loader's run,
// "redcache.load <function>", and each Redis step, "redcache.redis <op>"
// (a client span with db.system.name "redis" and db.operation.name the
// step: load, save, delete, generation). A caller that joined another's
// load has no loader span of its own: the leader's Get holds it. A
// loader or Redis error is recorded on its span, which is then marked as
// an error. Keys hold the function's arguments, so they go on spans
// (redcache.key) only with [WithKeys].
//
// # Metrics
//
//	name                     unit     kind       attributes
//	redcache.gets            {get}    counter    redcache.function, redcache.outcome
//	redcache.get.duration    s        histogram  redcache.function, redcache.outcome
//	redcache.loads           {load}   counter    redcache.function, error.type on failure
//	redcache.load.duration   s        histogram  redcache.function, error.type on failure
//	redcache.redis.errors    {error}  counter    redcache.function, db.operation.name, error.type
//	redcache.breaker.state   {state}  gauge      redcache.driver, server.address (a cluster node)
//
// Hits, near hits, stale hits and misses are the values of
// redcache.outcome on redcache.gets. The breaker gauge is 0 closed, 1
// half-open, 2 open, recorded at each change of state. error.type is
// timeout, canceled, circuit_open, panic, reply (Redis refused: OOM,
// WRONGTYPE), or else the error's Go type.
//
// The per-function counters that need no OpenTelemetry are in core:
// Memo.Stats and Manager.Stats.
package redcacheotel
