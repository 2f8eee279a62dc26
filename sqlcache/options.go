package sqlcache

import (
	"fmt"
	"reflect"

	"github.com/redcache/redcache/core"
)

// Option configures a Connector; see NewConnector. A nil Option is ignored.
type Option func(*config)

type config struct {
	name     string
	maxRows  int
	maxBytes int
	codecs   map[reflect.Type]*valueCodec
	byName   map[string]*valueCodec
	onError  core.ErrorHandler
	memoOpts []core.Option
}

func newConfig(opts []Option) *config {
	c := &config{
		name:     "sql",
		maxRows:  10000,
		maxBytes: 4 << 20,
		codecs:   map[reflect.Type]*valueCodec{},
		byName:   map[string]*valueCodec{},
	}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// WithName sets the name the cached results are memoized under with the
// Manager ("sql" by default): the part of their keys after the Manager's
// prefix. Processes that share a database use the same name, so that they
// share its cached results; two databases cached with one Manager need
// two names.
func WithName(name string) Option {
	return func(c *config) { c.name = name }
}

// WithMaxRows sets how many rows a result may have to be cached (10,000
// by default); a larger one is returned uncached. n <= 0 keeps the
// default.
func WithMaxRows(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxRows = n
		}
	}
}

// WithMaxBytes sets how large a result may be to be cached, counting the
// bytes of its values (4 MiB by default); a larger one is returned
// uncached. n <= 0 keeps the default.
func WithMaxBytes(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBytes = n
		}
	}
}

// WithErrorHandler sets the function told about this package's own
// trouble: a write whose invalidation failed ([ErrInvalidation]), which
// Connector.Stats counts too. Give it the handler given to the Manager
// (core.WithErrorHandler) to hear all trouble in one place. The
// cache's trouble while reading and writing results (Redis down, a value
// without codec) goes to the Manager's handler (core.WithErrorHandler).
func WithErrorHandler(h core.ErrorHandler) Option {
	return func(c *config) { c.onError = h }
}

// WithMemoOptions passes options to the memoized function that caches the
// results (core.Memoize), such as core.WithNearCache or
// core.WithErrorHandler. A codec given there is ignored: results have
// their own encoding.
func WithMemoOptions(opts ...core.Option) Option {
	return func(c *config) { c.memoOpts = append(c.memoOpts, opts...) }
}

// valueCodec stores the values of one driver-specific type.
type valueCodec struct {
	name string
	typ  reflect.Type
	enc  func(any) ([]byte, error)
	dec  func([]byte) (any, error)
}

// WithValueCodec lets results hold column values of type T, a type a
// driver returns beyond database/sql's own (int64, float64, bool, []byte,
// string, time.Time and nil, which need none): encode turns a value into
// bytes, decode turns them back into an equal value. name identifies the
// codec in cached entries: keep it stable, and change it when the encoding
// changes. A result holding a value of a type without a codec is returned
// uncached, and reported as [ErrUnsupportedValue].
func WithValueCodec[T any](name string, encode func(T) ([]byte, error), decode func([]byte) (T, error)) Option {
	return func(c *config) {
		vc := &valueCodec{
			name: name,
			typ:  reflect.TypeFor[T](),
			enc: func(v any) ([]byte, error) {
				t, ok := v.(T)
				if !ok {
					return nil, fmt.Errorf("sqlcache: codec %q got a %T", name, v)
				}
				return encode(t)
			},
			dec: func(b []byte) (any, error) { return decode(b) },
		}
		c.codecs[vc.typ] = vc
		c.byName[name] = vc
	}
}
