package core

import (
	"errors"
	"fmt"
)

var (
	// ErrCorruptEntry reports bytes under a cache key that are not an entry
	// this package wrote, or one that fails its checksum or does not
	// decode into the memoized type. The call treats it as a miss and
	// overwrites it; the error reaches the error handler and the stats.
	ErrCorruptEntry = errors.New("redcache: corrupt or foreign cache entry")

	// ErrCircuitOpen reports that the circuit breaker stopped talking to a
	// Redis that kept failing. Memoized calls go straight to their loader
	// until a probe finds Redis healthy again.
	ErrCircuitOpen = errors.New("redcache: circuit open: redis is failing, calls bypass the cache")

	// ErrPanic matches the error every waiter gets when a loader panics;
	// the error is a [*PanicError] carrying the panic value and stack.
	ErrPanic = errors.New("redcache: loader panicked")

	// ErrCached matches an error that was read back from a negative cache
	// entry (see [WithNegativeCaching]); the error is a [*CachedError].
	ErrCached = errors.New("redcache: cached error")

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

// Error is what the error handler receives, and what the explicit cache
// operations (Invalidate, InvalidateAll, Peek) return: the trouble, where
// it happened, and for which function and key.
type Error struct {
	Op   Op
	Name string // the memoized function's name
	Key  string // the Redis key, when there is one
	Err  error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("redcache: %s %s (%s): %v", e.Op, e.Name, e.Key, e.Err)
	}
	return fmt.Sprintf("redcache: %s %s: %v", e.Op, e.Name, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// PanicError is the error returned to every caller waiting on a loader
// that panicked. The panic does not crash the process and its outcome is
// not cached.
type PanicError struct {
	Value any    // what the loader panicked with
	Stack []byte // the loader's stack at the panic
}

// Error implements error.
func (e *PanicError) Error() string { return fmt.Sprintf("redcache: loader panicked: %v", e.Value) }

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
