package core

import (
	"context"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
)

// Option configures a [Manager] (given to [New]) or one memoized function
// (given to [Memoize]; it overrides the Manager's setting for that
// function). A nil Option is ignored.
type Option func(*config)

type config struct {
	prefix      string
	ttl         time.Duration
	jitter      float64
	codec       codec.Codec
	driver      conn.Driver
	store       Store
	beforeSave  BeforeSave
	afterLoad   AfterLoad
	onError     func(context.Context, error)
	timeout     time.Duration
	negTTL      time.Duration
	negErrs     []error
	negAll      bool
	stale       time.Duration
	genRefresh  time.Duration
	maxKeyLen   int
	skipCache   bool
	nearSize    int
	nearTTL     time.Duration
	breakerFail int
	breakerWait time.Duration
	fenceWindow time.Duration
}

func defaultConfig() config {
	return config{
		prefix:      "cache",
		codec:       codec.Gob,
		store:       RedisStore{},
		timeout:     100 * time.Millisecond,
		genRefresh:  time.Second,
		maxKeyLen:   128,
		breakerFail: 5,
		breakerWait: 250 * time.Millisecond,
		fenceWindow: 30 * time.Second,
	}
}

func (c *config) apply(opts []Option) {
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
}

// WithPrefix sets the first part of every key (the original's key_base).
// The default is "cache".
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithTTL sets how long values are kept. 0, the default, keeps them until
// they are invalidated or evicted, as the original did. Redis expires
// them to the millisecond; a ttl below a millisecond is rounded up. A
// negative ttl is treated as 0.
func WithTTL(ttl time.Duration) Option {
	return func(c *config) { c.ttl = max(ttl, 0) }
}

// WithJitter spreads expiries so that values written together do not
// expire together: each write's ttl is drawn uniformly from
// [ttl*(1-fraction), ttl]. fraction is clamped to [0, 1]; 0 turns jitter off.
func WithJitter(fraction float64) Option {
	return func(c *config) { c.jitter = min(max(fraction, 0), 1) }
}

// WithCodec sets the codec of the default encoding steps. The default is
// codec.Gob, as the original used pickle; codec.JSON stores JSON instead.
func WithCodec(cd codec.Codec) Option {
	return func(c *config) {
		if cd != nil {
			c.codec = cd
		}
	}
}

// WithDriver fixes the Redis the cache uses. Without it, every call
// resolves its driver from its context and the connection stack
// (conn.Resolve), as the original did.
func WithDriver(d conn.Driver) Option { return func(c *config) { c.driver = d } }

// WithStore replaces the load and save steps; see [Store]. A panic in
// one of its methods is recovered: it counts as a failed Redis call that
// does not move the circuit breaker, and is reported (or returned by the
// explicit operations) as a [*PanicError].
func WithStore(s Store) Option {
	return func(c *config) {
		if s != nil {
			c.store = wrapStore(s)
		}
	}
}

// WithBeforeSave replaces the encoding step; see [BeforeSave]. A panic in
// f is recovered and handled as an encoding error whose cause is a
// [*PanicError]: the value is returned, not cached.
func WithBeforeSave(f BeforeSave) Option {
	f = recoveringBeforeSave(f)
	return func(c *config) { c.beforeSave = f }
}

// WithAfterLoad replaces the decoding step; see [AfterLoad]. A panic in f
// is recovered and handled as an entry that does not decode: a miss,
// reported with a [*PanicError] as the cause.
func WithAfterLoad(f AfterLoad) Option {
	f = recoveringAfterLoad(f)
	return func(c *config) { c.afterLoad = f }
}

// WithErrorHandler sets the function that is told about cache trouble the
// caller does not see: Redis errors and timeouts, corrupt entries, failed
// writes, the breaker opening. It receives an [*Error] and must be safe
// for concurrent use; it runs on the caller's goroutine, so keep it fast.
// A panic in f is recovered and counted in [Stats] (Panics).
// Without one, the trouble is only counted in [Stats].
func WithErrorHandler(f func(ctx context.Context, err error)) Option {
	return func(c *config) { c.onError = f }
}

// WithTimeout bounds every Redis call the cache makes (default 100ms), so
// a slow Redis costs a call at most this much before it falls back to the
// loader. 0 leaves calls bounded only by the caller's context.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = max(d, 0) } }

// WithNegativeCaching caches loader errors for ttl, so that a failing or
// missing value is not asked for again on every call. With errs, only
// errors that match one of them (errors.Is) are cached, and the cached
// error read back in any process still matches the same one; without, every
// error is cached. A cached error comes back as a [*CachedError]. A ttl of
// 0 or less turns negative caching off, the default.
func WithNegativeCaching(ttl time.Duration, errs ...error) Option {
	return func(c *config) {
		c.negTTL = max(ttl, 0)
		c.negErrs = errs
		c.negAll = len(errs) == 0
	}
}

// WithStaleWhileRevalidate keeps each value for window past its ttl: a
// read in that window returns the stale value at once and reloads it in
// the background (once per key, however many readers). It needs a ttl;
// 0 turns it off, the default. Background reloads end with [Manager.Close].
func WithStaleWhileRevalidate(window time.Duration) Option {
	return func(c *config) { c.stale = max(window, 0) }
}

// WithGenerationRefresh sets how often a process re-reads a function's
// generation from Redis (default 1s). InvalidateAll takes effect at once
// in the process that calls it and within this interval in the others.
func WithGenerationRefresh(d time.Duration) Option {
	return func(c *config) { c.genRefresh = max(d, 0) }
}

// WithMaxKeyLength sets how long the encoded arguments of a key may be
// before they are replaced by their hash (default 128 bytes). 0 never
// hashes.
func WithMaxKeyLength(n int) Option { return func(c *config) { c.maxKeyLen = max(n, 0) } }

// WithBreaker sets the circuit breaker: after failures consecutive Redis
// failures it opens, and calls skip Redis for cooldown; then one call
// probes, and a success closes it, while a failure opens it for another
// cooldown. A probe that has not reported after the cooldown (or twice
// the call timeout, when that is longer) is replaced by the next call.
// Consecutive timeouts must also span twice the call timeout
// ([WithTimeout]), so that a burst of callers queueing for the connection
// pool does not open it. failures <= 0 turns the breaker off.
//
// The default is 5 failures and 250ms. The cooldown bounds how long the
// cache stays off after Redis is back (about one cooldown, plus the
// driver's reconnection), and each probe of a Redis that is still down
// costs one call at most one timeout: a longer cooldown probes less and
// recovers later.
//
// Each driver, and each node of a cluster (a driver that implements
// conn.NodeRouter), has its own breaker. Given to [Memoize], WithBreaker
// (like WithTimeout) gives the function breakers of its own.
func WithBreaker(failures int, cooldown time.Duration) Option {
	return func(c *config) { c.breakerFail, c.breakerWait = failures, max(cooldown, 0) }
}

// WithNearCache keeps up to size decoded values of each memoized function
// in process memory, each for at most ttl, in front of Redis: a near hit
// costs a map lookup instead of a round trip. Processes keep their near
// caches coherent through pub/sub on the channel of their prefix (see
// [InvalidationChannel]): each Set, Invalidate, Refresh and InvalidateAll
// of any process, with a near cache or not, is announced, and the others
// drop what they hold for it. While the subscription is down (or its
// health check goes unanswered) the near cache serves nothing. ttl bounds
// how stale a value can be when an announcement is late or lost (1s is a
// sound default), and a copy never outlives the Redis entry it was read
// from; size <= 0 or ttl <= 0 turns it off, the default.
//
// Values served from the near cache are shared between callers: treat
// them as read-only, or copy before changing a slice, map or pointer.
func WithNearCache(size int, ttl time.Duration) Option {
	return func(c *config) {
		if size <= 0 || ttl <= 0 {
			c.nearSize, c.nearTTL = 0, 0
			return
		}
		c.nearSize, c.nearTTL = size, ttl
	}
}

// WithFenceWindow sets how long the tombstone that Invalidate (and an
// explicit Refresh) writes in place of a value lives, 30s by default. A
// load that has run longer than the window, from its read of the cache,
// returns its value to its callers but does not store it, so that no
// load in flight can undo an invalidation, whatever its duration. Keep
// it well above your loaders' duration; d <= 0 keeps the default.
func WithFenceWindow(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.fenceWindow = d
		}
	}
}

// WithCacheDisabled makes calls go straight to the loader, as if there
// were no cache: a switch for tests and for turning a function's cache off.
func WithCacheDisabled() Option { return func(c *config) { c.skipCache = true } }

// CallOption changes one call of a memoized function.
type CallOption func(*callConfig)

type callConfig struct {
	ttl     time.Duration
	ttlSet  bool
	skip    bool
	refresh bool
	since   int64 // when the call read the cache, unix nanoseconds (see engine.storedSince)
}

// TTL stores the value of this call with ttl instead of the function's.
func TTL(ttl time.Duration) CallOption {
	return func(c *callConfig) { c.ttl, c.ttlSet = max(ttl, 0), true }
}

// SkipCache calls the loader and neither reads nor writes the cache.
func SkipCache() CallOption { return func(c *callConfig) { c.skip = true } }

// Refresh calls the loader without reading the cache and stores what it
// returns: a forced refresh.
func Refresh() CallOption { return func(c *callConfig) { c.refresh = true } }
