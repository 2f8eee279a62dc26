package core

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core/format"
)

var (
	// ErrCorruptEntry reports bytes under a cache key that are not an entry
	// this package wrote, or one that fails its checksum or does not
	// decode into the memoized type. The call treats it as a miss and
	// overwrites it; the error reaches the error handler and the stats.
	// It is [format.ErrCorruptEntry].
	ErrCorruptEntry = format.ErrCorruptEntry

	// ErrNewerEntry reports an entry written by a newer release of this
	// package: a newer format version, or a flag this build does not know.
	// A call treats it as a miss and leaves it in place, so a rolling
	// deploy neither overwrites the newer release's entries nor reports
	// them as corrupt. It is [format.ErrNewerEntry].
	ErrNewerEntry = format.ErrNewerEntry

	// ErrCircuitOpen reports that the circuit breaker stopped talking to a
	// Redis that kept failing. Memoized calls go straight to their loader
	// until a probe finds Redis healthy again.
	ErrCircuitOpen = errors.New("redcache: circuit open: redis is failing, calls bypass the cache")

	// ErrPanic matches the error every waiter gets when a loader panics,
	// and the error reported or returned when another user callback
	// (BeforeSave, AfterLoad, a Store's methods) panics; the error is a
	// [*PanicError] carrying the panic value and stack.
	ErrPanic = errors.New("redcache: loader or callback panicked")

	// ErrDuplicateName is what Memoize panics with when a function that
	// is still in use was memoized with the same Manager under the same
	// prefix and name: both would read and write the same keys.
	ErrDuplicateName = errors.New("redcache: a live function is memoized under this prefix and name already")

	// ErrCached matches an error that was read back from a negative cache
	// entry (see [WithNegativeCaching]); the error is a [*CachedError].
	ErrCached = errors.New("redcache: cached error")

	// ErrCloseTimeout reports that [Manager.Close] stopped waiting for
	// loaders that ignore their context's cancellation: they were still
	// running after the fence window, and can no longer store anything.
	ErrCloseTimeout = errors.New("redcache: Close gave up waiting for loaders that ignore their context")

	// ErrUnsupportedKey reports an argument that cannot be turned into a
	// stable key: a channel, a function, an unsafe pointer, or a value that
	// holds one. Memoize panics with it when the argument type can never
	// be encoded; a call returns it when an interface argument holds such a
	// value at run time.
	ErrUnsupportedKey = errors.New("redcache: argument cannot be encoded in a key")
)

// Op names the step of a cached call in an [*Error].
type Op string

// The steps an [*Error] can come from.
const (
	OpResolve    Op = "resolve"    // finding the driver (conn.Resolve)
	OpLoad       Op = "load"       // reading the entry (Store.Load)
	OpSave       Op = "save"       // writing the entry (Store.Save)
	OpDelete     Op = "delete"     // deleting an entry (Store.Delete)
	OpDecode     Op = "decode"     // parsing the entry or AfterLoad
	OpEncode     Op = "encode"     // BeforeSave
	OpGeneration Op = "generation" // reading or bumping a generation
	OpBreaker    Op = "breaker"    // the circuit breaker opened
	OpSubscribe  Op = "subscribe"  // the near cache's invalidation subscription
	OpPublish    Op = "publish"    // announcing a change to other near caches
)

// Error is what the [ErrorHandler] receives, every time, and what the
// explicit cache operations (Set, Invalidate, InvalidateAll, Peek)
// return: the trouble, where it happened, and for which function and key.
// errors.Is and errors.As see through it to the cause.
type Error struct {
	Op   Op
	Name string // the memoized function's name; "" for the Manager's own work
	Key  string // the Redis key (or channels), when there is one
	// Driver is the driver the trouble happened on, when one was
	// resolved: with a driver per tenant, it says whose Redis failed.
	Driver conn.Driver
	// Node is the cluster node that serves Key, as the driver's slot map
	// says (conn.NodeOf); "" on a single node or when unknown.
	Node string
	Err  error // the cause
	// Suppressed is how many reports like this one (same Op and Name) a
	// [ThrottleErrors] or [SampleErrors] handler dropped since the last
	// one it passed on; 0 otherwise.
	Suppressed uint64
}

// Error implements error.
func (e *Error) Error() string {
	where := e.Key
	if e.Node != "" {
		where += " on " + e.Node
	}
	if where != "" {
		return fmt.Sprintf("redcache: %s %s (%s): %v", e.Op, e.Name, where, e.Err)
	}
	return fmt.Sprintf("redcache: %s %s: %v", e.Op, e.Name, e.Err)
}

// ErrorHandler is told about the cache trouble a caller does not see: a
// memoized call returns the loader's value whatever Redis does, and the
// trouble goes here (see [WithErrorHandler]). err is never nil; its Op,
// Name, Key, Driver and Node say where the trouble was, and errors.Is(err,
// ErrCorruptEntry), errors.Is(err, context.DeadlineExceeded) and the like
// say what it was. A handler must be safe for concurrent use, and fast:
// it runs on the caller's goroutine.
type ErrorHandler func(ctx context.Context, err *Error)

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// PanicError is the error returned to every caller waiting on a loader
// that panicked, and the cause reported (or returned by Set, Invalidate
// and Peek) when another user callback panicked. The panic does not crash
// the process and its outcome is not cached.
type PanicError struct {
	Value any    // what the callback panicked with
	Stack []byte // the callback's stack at the panic
	// Callback names what panicked: "" for the loader, else "BeforeSave",
	// "AfterLoad", "Store.Load", "Store.Save", "Store.SaveIf",
	// "Store.Delete", or "Driver" for a panic inside the conn.Driver a
	// load stored or looked up through.
	Callback string
}

// Error implements error.
func (e *PanicError) Error() string {
	what := e.Callback
	if what == "" {
		what = "loader"
	}
	return fmt.Sprintf("redcache: %s panicked: %v", what, e.Value)
}

// Is makes errors.Is(err, ErrPanic) true.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// Unwrap returns the panic value when it is an error, so that
// errors.Is(err, io.EOF) sees through a panic(io.EOF).
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// CachedError is a loader error served from a negative cache entry. Its
// message is the original error's; when the original matched one of the
// errors given to [WithNegativeCaching], it unwraps to that error, so
// errors.Is(err, sql.ErrNoRows) holds in every process that reads it.
type CachedError struct {
	Msg      string
	Sentinel error // the matched error from WithNegativeCaching, or nil
}

// Error implements error.
func (e *CachedError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrCached) true.
func (e *CachedError) Is(target error) bool { return target == ErrCached }

// Unwrap returns the sentinel the original error matched, or nil.
func (e *CachedError) Unwrap() error { return e.Sentinel }

// recovered turns a panic of the callback named what into a *PanicError
// in *err. Deferred directly, as recover needs.
func recovered(err *error, what string) {
	if r := recover(); r != nil {
		*err = &PanicError{Value: r, Stack: debug.Stack(), Callback: what}
	}
}

// The user's callbacks are wrapped once, when the options are applied, so
// that a panic in one becomes an error wherever it is called: on the
// caller's goroutine or on the goroutine of a load that other callers
// wait for, where nothing could recover it.

func recoveringBeforeSave(f BeforeSave) BeforeSave {
	if f == nil {
		return nil
	}
	return func(ctx context.Context, key string, v any) (b []byte, err error) {
		defer recovered(&err, "BeforeSave")
		return f(ctx, key, v)
	}
}

func recoveringAfterLoad(f AfterLoad) AfterLoad {
	if f == nil {
		return nil
	}
	return func(ctx context.Context, key string, payload []byte, ptr any) (err error) {
		defer recovered(&err, "AfterLoad")
		return f(ctx, key, payload, ptr)
	}
}

// recoveringStore is a user's Store whose panics are errors.
type recoveringStore struct{ s Store }

func (r recoveringStore) Load(ctx context.Context, d conn.Driver, key string) (b []byte, err error) {
	defer recovered(&err, "Store.Load")
	return r.s.Load(ctx, d, key)
}

func (r recoveringStore) Save(ctx context.Context, d conn.Driver, key string, entry []byte, ttl time.Duration) (err error) {
	defer recovered(&err, "Store.Save")
	return r.s.Save(ctx, d, key, entry, ttl)
}

func (r recoveringStore) Delete(ctx context.Context, d conn.Driver, key string) (err error) {
	defer recovered(&err, "Store.Delete")
	return r.s.Delete(ctx, d, key)
}

// recoveringFencedStore is a user's FencedStore whose panics are errors;
// it stays a FencedStore, so that its writes stay fenced.
type recoveringFencedStore struct {
	recoveringStore
	f FencedStore
}

func (r recoveringFencedStore) SaveIf(ctx context.Context, d conn.Driver, key string, entry []byte, ttl time.Duration, prev []byte) (ok bool, err error) {
	defer recovered(&err, "Store.SaveIf")
	return r.f.SaveIf(ctx, d, key, entry, ttl, prev)
}

// wrapStore makes s's panics errors, once. The default RedisStore only
// calls the driver and is left as it is: the engine knows it by its type.
func wrapStore(s Store) Store {
	switch s := s.(type) {
	case RedisStore, recoveringStore, recoveringFencedStore:
		return s
	case FencedStore:
		return recoveringFencedStore{recoveringStore{s}, s}
	}
	return recoveringStore{s}
}
