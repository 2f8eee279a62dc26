package core

import (
	"context"
	"errors"
	"time"

	"github.com/redcache/redcache/conn"
)

// Observer is told about the steps of memoized calls, for tracing and
// metrics: a Get from its start to its outcome, the loader it runs, each
// Redis step, and the circuit breakers' changes of state. Package
// github.com/redcache/redcache/redcacheotel is one, for OpenTelemetry;
// core itself depends on nothing to offer the seam.
//
// The Start methods return the context the step goes on with, so that
// spans nest: a call's loader and Redis steps run in (a context derived
// from) the context GetStart returned, and each End method receives the
// context its Start returned. A background refresh of a stale value runs
// after its Get ended, in a context derived from the Get's.
//
// Methods are called on the caller's goroutine (or a load's), so they
// must be safe for concurrent use and fast. An Observer is set with
// [WithObserver]; a Manager without one pays a nil check per step.
// Embed [NopObserver] to implement only some of the methods.
type Observer interface {
	// GetStart is called when a Get (or a Refresh) begins, once its
	// arguments were turned into a key.
	GetStart(ctx context.Context, call Call) context.Context
	// GetEnd is called when the Get returns, with what it found in the
	// cache and the error it returns (the loader's, or ctx.Err()). A
	// stale hit ends at once; its refresh goes on in the background.
	GetEnd(ctx context.Context, call Call, outcome Outcome, err error)

	// LoadStart is called before the loader runs: once per flight, by
	// the call that leads it, and for each background refresh.
	LoadStart(ctx context.Context, call Call) context.Context
	// LoadEnd is called when the loader returned (or panicked: err is
	// then a *PanicError), with how long it ran.
	LoadEnd(ctx context.Context, call Call, elapsed time.Duration, err error)

	// RedisStart is called before each Redis step of a call: reading the
	// entry ([OpLoad]), writing it ([OpSave]), writing a tombstone or
	// deleting ([OpSave], [OpDelete]), moving a generation on
	// ([OpGeneration]). call.Key is the key the step works on.
	RedisStart(ctx context.Context, call Call, op Op) context.Context
	// RedisEnd is called when the step returned. err is nil on success
	// and for a key that was not there (a miss is not a failure).
	RedisEnd(ctx context.Context, call Call, op Op, err error)

	// BreakerChange is called when a circuit breaker changes state. It
	// goes to the Manager's observer (breakers are shared by the
	// functions memoized with a Manager), right after the change, on the
	// goroutine of the call that caused it.
	BreakerChange(change BreakerChange)
}

// Call names the memoized call an [Observer] hears about.
type Call struct {
	Name string // the memoized function's name
	Key  string // the Redis key of the step (the entry's, or the generation's)
}

// BreakerChange is a circuit breaker's change of state, told to
// [Observer.BreakerChange].
type BreakerChange struct {
	// Driver is the driver the breaker watches; nil when its type is not
	// comparable (such drivers are told apart by their type only).
	Driver conn.Driver
	// Node is the cluster node the breaker watches (conn.NodeOf), or ""
	// for a single node.
	Node     string
	From, To BreakerState
}

// Outcome is what a Get found in the cache, told to [Observer.GetEnd].
type Outcome uint8

// The outcomes of a Get.
const (
	OutcomeMiss        Outcome = iota // no usable entry: the loader ran (or was joined) and its value stored
	OutcomeHit                        // a fresh value from Redis
	OutcomeNearHit                    // a value from the near cache
	OutcomeStaleHit                   // a stale value, served while it is reloaded in the background
	OutcomeNegativeHit                // a cached error (negative caching)
	OutcomeRefresh                    // a forced refresh: the loader ran without a read of the cache
	OutcomeBypass                     // the cache was skipped: SkipCache, WithCacheDisabled, a closed Manager, no driver, an open breaker
	OutcomeError                      // Redis failed during the read: the loader ran, its value was not stored
	OutcomeFailSafe                   // an expired value, served because the loader failed or was slow (WithFailSafe)
)

// String returns the outcome as a short snake_case word ("hit",
// "near_hit", "stale_hit", "negative_hit", "miss", "refresh", "bypass",
// "error", "fail_safe"), fit for a metric attribute.
func (o Outcome) String() string {
	switch o {
	case OutcomeMiss:
		return "miss"
	case OutcomeHit:
		return "hit"
	case OutcomeNearHit:
		return "near_hit"
	case OutcomeStaleHit:
		return "stale_hit"
	case OutcomeNegativeHit:
		return "negative_hit"
	case OutcomeRefresh:
		return "refresh"
	case OutcomeBypass:
		return "bypass"
	case OutcomeError:
		return "error"
	case OutcomeFailSafe:
		return "fail_safe"
	}
	return "unknown"
}

// NopObserver is an [Observer] that does nothing: embed it in an
// observer that implements only some of the methods.
type NopObserver struct{}

// GetStart returns ctx.
func (NopObserver) GetStart(ctx context.Context, _ Call) context.Context { return ctx }

// GetEnd does nothing.
func (NopObserver) GetEnd(context.Context, Call, Outcome, error) {}

// LoadStart returns ctx.
func (NopObserver) LoadStart(ctx context.Context, _ Call) context.Context { return ctx }

// LoadEnd does nothing.
func (NopObserver) LoadEnd(context.Context, Call, time.Duration, error) {}

// RedisStart returns ctx.
func (NopObserver) RedisStart(ctx context.Context, _ Call, _ Op) context.Context { return ctx }

// RedisEnd does nothing.
func (NopObserver) RedisEnd(context.Context, Call, Op, error) {}

// BreakerChange does nothing.
func (NopObserver) BreakerChange(BreakerChange) {}

var _ Observer = NopObserver{}

// WithObserver sets the [Observer] told about every call: given to [New]
// it observes every function of the Manager and its breakers; given to
// [Memoize], that function alone (breaker changes still go to the
// Manager's). nil removes it.
func WithObserver(o Observer) Option {
	return option(func(c *config) { c.hooks.observer = o })
}

// hooks is what the engine reports to besides the Manager: the observer,
// and the function's own counters (see [Memo.Stats]).
type hooks struct {
	observer Observer
	stats    *counters // the function's counters; nil in a Manager's config
}

// readObserved is read with GetStart before it and, for a call that read
// is enough for, GetEnd after it.
func (e *engine[V]) readObserved(ctx context.Context, o Observer, key string, opts []CallOption) (V, pending, error) {
	call := Call{Name: e.name, Key: key}
	ctx = o.GetStart(ctx, call)
	v, p, err := e.readCache(ctx, key, opts)
	p.octx = ctx
	if !p.load && !p.stale {
		o.GetEnd(ctx, call, p.outcome, err)
	}
	return v, p, err
}

// finishObserved is finish in the context GetStart returned, with GetEnd
// after it.
func (e *engine[V]) finishObserved(key string, v V, p pending, load func(context.Context) (V, error)) (V, error) {
	ctx := p.octx
	v, err := e.finishCache(ctx, key, v, &p, load)
	e.cfg.hooks.observer.GetEnd(ctx, Call{Name: e.name, Key: key}, p.outcome, err)
	return v, err
}

// runLoader calls the loader, between LoadStart and LoadEnd when the
// function is observed.
func (e *engine[V]) runLoader(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	o := e.cfg.hooks.observer
	if o == nil {
		return callLoader(ctx, load)
	}
	call := Call{Name: e.name, Key: key}
	start := time.Now()
	ctx = o.LoadStart(ctx, call)
	v, err := callLoader(ctx, load)
	o.LoadEnd(ctx, call, time.Since(start), err)
	return v, err
}

// redisStep is one Redis step told to the observer; its zero value (no
// observer) does nothing.
type redisStep struct {
	o    Observer
	ctx  context.Context
	call Call
	op   Op
}

// redisStart tells the observer, if any, that the Redis step op on key
// begins, and returns the context to run it in.
func (e *engine[V]) redisStart(ctx context.Context, op Op, key string) (context.Context, redisStep) {
	return startRedis(ctx, &e.cfg, op, e.name, key)
}

func startRedis(ctx context.Context, cfg *config, op Op, name, key string) (context.Context, redisStep) {
	o := cfg.hooks.observer
	if o == nil {
		return ctx, redisStep{}
	}
	call := Call{Name: name, Key: key}
	ctx = o.RedisStart(ctx, call, op)
	return ctx, redisStep{o: o, ctx: ctx, call: call, op: op}
}

// end tells the observer the step returned err.
func (s redisStep) end(err error) {
	if s.o == nil {
		return
	}
	if errors.Is(err, conn.ErrMiss) {
		err = nil
	}
	s.o.RedisEnd(s.ctx, s.call, s.op, err)
}

// breakerNotifier returns what a breaker of d (on node) calls when it
// changes state, or nil without an observer.
func breakerNotifier(o Observer, d conn.Driver, node string) func(from, to BreakerState) {
	if o == nil {
		return nil
	}
	return func(from, to BreakerState) {
		defer func() { _ = recover() }() // an observer's panic must not take a call down
		o.BreakerChange(BreakerChange{Driver: d, Node: node, From: from, To: to})
	}
}
