package core

import (
	"context"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
)

// These methods tell a module built on a memoized function what the
// function itself uses, so that values the module stores next to the
// function's own (paginate's list items, next to the entry that names
// the list's version) follow the same configuration: the same codec, the
// same Redis.

// Codec returns the codec the function encodes its values with: its own
// WithCodec, else its Manager's, else codec.Gob.
func (c *Memo[A, V]) Codec() codec.Codec { return c.e.cfg.codec }

// Driver returns the driver a call of the function with ctx uses: the
// function's own WithDriver, else its Manager's, else the one
// conn.Resolve finds from ctx (the context's, else the top of the
// connection stack); conn.ErrNoConnection when there is none.
func (c *Memo[A, V]) Driver(ctx context.Context) (conn.Driver, error) {
	return conn.Resolve(ctx, c.e.cfg.driver)
}

// Codec returns the codec the function encodes its values with; see
// [Memo.Codec].
func (c *Memo0[V]) Codec() codec.Codec { return c.e.cfg.codec }

// Driver returns the driver a call of the function with ctx uses; see
// [Memo.Driver].
func (c *Memo0[V]) Driver(ctx context.Context) (conn.Driver, error) {
	return conn.Resolve(ctx, c.e.cfg.driver)
}

// Codec returns the codec the function encodes its values with; see
// [Memo.Codec].
func (c *Memo2[A, B, V]) Codec() codec.Codec { return c.e.cfg.codec }

// Driver returns the driver a call of the function with ctx uses; see
// [Memo.Driver].
func (c *Memo2[A, B, V]) Driver(ctx context.Context) (conn.Driver, error) {
	return conn.Resolve(ctx, c.e.cfg.driver)
}
