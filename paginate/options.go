package paginate

import (
	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
)

// Option configures a [List] or a [Sorted] (given to [NewList] or
// [NewSorted]). A nil Option is ignored.
type Option func(*config)

type config struct {
	prefix    string
	codec     codec.Codec
	driver    conn.Driver
	cursorKey []byte
}

func defaultConfig() config {
	return config{prefix: "cache", codec: codec.Gob}
}

func (c *config) apply(opts []Option) {
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
}

// WithPrefix sets the first part of the list's keys. The default is
// "cache", as core's.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithCodec sets the codec each item is encoded with. The default is
// codec.Gob, as core's. A nil codec keeps the default.
func WithCodec(cd codec.Codec) Option {
	return func(c *config) {
		if cd != nil {
			c.codec = cd
		}
	}
}

// WithDriver fixes the driver of every call. Without it, each call
// resolves its driver with conn.Resolve: the context's (conn.With), else
// the top of the connection stack (conn.Use), so that a request's tenant
// reads and writes its own Redis.
func WithDriver(d conn.Driver) Option { return func(c *config) { c.driver = d } }

// WithCursorKey signs cursors with key (HMAC-SHA256) rather than with
// the secret each version of the list keeps in Redis. With a key, a
// forged cursor is refused before any call to Redis, and a cursor
// survives nothing more: a Replace still makes it stale. Give every
// process that reads the list the same key, of at least 16 bytes.
func WithCursorKey(key []byte) Option {
	return func(c *config) { c.cursorKey = append([]byte(nil), key...) }
}
