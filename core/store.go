package core

import (
	"context"
	"time"

	"github.com/redcache/redcache/conn"
)

// Store is the load and save steps of the original's manager: where the
// bytes of an entry live in Redis. The default, [RedisStore], keeps each
// entry in a string written with SET and its ttl in one command. A Store
// of your own can keep entries in another shape (a hash, a list, a
// stream) or another place; it receives the driver each call resolved.
//
// Implementations must be safe for concurrent use and report a missing
// entry as conn.ErrMiss.
type Store interface {
	// Load returns the entry stored under key, or conn.ErrMiss.
	Load(ctx context.Context, d conn.Driver, key string) ([]byte, error)
	// Save stores entry under key for ttl (0: no expiry).
	Save(ctx context.Context, d conn.Driver, key string, entry []byte, ttl time.Duration) error
	// Delete removes the entry under key; a missing key is not an error.
	Delete(ctx context.Context, d conn.Driver, key string) error
}

// FencedStore is a [Store] that can write conditionally, which the fence
// against in-flight loads needs (see docs/format.md). The default
// [RedisStore] is fenced; a Store of your own that does not implement
// FencedStore is written unconditionally, and Invalidate calls its
// Delete: a load in flight can then undo an invalidation.
type FencedStore interface {
	Store
	// SaveIf stores entry under key for ttl only while key holds prev
	// (when prev is nil: while key holds nothing), atomically, and
	// reports whether it did.
	SaveIf(ctx context.Context, d conn.Driver, key string, entry []byte, ttl time.Duration, prev []byte) (bool, error)
}

// RedisStore is the default [Store]: one Redis string per entry, written
// with SET key value PX ttl, so a value never exists without its expiry
// (the original's SET-then-EXPIRE could leave one behind). The engine
// writes the loads' entries conditionally (SET NX, or a script comparing
// what is there), and Invalidate writes a tombstone with Save: Delete is
// not used.
type RedisStore struct{}

var _ Store = RedisStore{}

// Load implements [Store] with GET.
func (RedisStore) Load(ctx context.Context, d conn.Driver, key string) ([]byte, error) {
	return d.Get(ctx, key)
}

// Save implements [Store] with SET PX.
func (RedisStore) Save(ctx context.Context, d conn.Driver, key string, entry []byte, ttl time.Duration) error {
	return d.Set(ctx, key, entry, ttl)
}

// Delete implements [Store] with DEL.
func (RedisStore) Delete(ctx context.Context, d conn.Driver, key string) error {
	_, err := d.Del(ctx, key)
	return err
}

// BeforeSave is the encoding step (the original's before_save): it turns
// a value into the bytes of an entry's payload. v is the loader's value;
// key is where it will be stored. The default is the Manager's codec.
type BeforeSave func(ctx context.Context, key string, v any) ([]byte, error)

// AfterLoad is the decoding step (the original's after_load): it turns an
// entry's payload back into a value, storing it where ptr points (a *V
// for a function memoized with result type V). An error makes the entry a
// miss, reported as corrupt. The default is the Manager's codec.
type AfterLoad func(ctx context.Context, key string, payload []byte, ptr any) error
