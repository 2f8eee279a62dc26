package core

import (
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
)

// The options come in three kinds, each its own type, so that an option
// given where it cannot be honoured does not compile:
//
//   - [Option] configures one memoized function, given to [Memoize] (and
//     Memoize0, Memoize2, MemoizeBatch), or every function of a Manager,
//     given to [New]. The function's own value wins over the Manager's.
//   - [ManagerOption] configures what the functions of a Manager share,
//     given to [New] only: [WithFenceWindow], which also bounds
//     [Manager.Close]. Every Option is a ManagerOption too.
//   - [CallOption] changes one call, given to Get, Set and their kin:
//     [TTL], [SkipCache], [Refresh].
//
// A nil option of any kind is ignored.

// ManagerOption configures a [Manager]: it is given to [New]. Every
// [Option] is a ManagerOption, a default for each function of the
// Manager; the options that are ManagerOptions only, such as
// [WithFenceWindow], hold for the Manager as a whole and cannot be given
// to [Memoize].
type ManagerOption interface {
	apply(*config)
}

// Option configures a memoized function: given to [Memoize] it is that
// function's setting, and given to [New] it is the default of every
// function of the Manager. A function's own value wins over its
// Manager's.
type Option interface {
	ManagerOption
	perFunction()
}

// option is an Option: a setting each function can have its own of.
type option func(*config)

func (o option) apply(c *config) { o(c) }
func (option) perFunction()      {}

// managerOption is a ManagerOption only: a setting of the Manager as a
// whole.
type managerOption func(*config)

func (o managerOption) apply(c *config) { o(c) }

type config struct {
	prefix      string
	ttl         time.Duration
	jitter      float64
	codec       codec.Codec
	driver      conn.Driver
	store       Store
	beforeSave  BeforeSave
	afterLoad   AfterLoad
	onError     ErrorHandler
	timeout     time.Duration
	negTTL      time.Duration
	negErrs     []error
	negAll      bool
	stale       time.Duration
	eager       float64       // WithEagerRefresh (refresh.go)
	failSafe    time.Duration // WithFailSafe: the window (failsafe.go)
	retryAfter  time.Duration // WithFailSafe: the throttle
	softTimeout time.Duration // WithLoaderTimeouts (failsafe.go)
	hardTimeout time.Duration
	genRefresh  time.Duration
	maxKeyLen   int
	skipCache   bool
	nearSize    int
	nearTTL     time.Duration
	nearBytes   int64 // WithNearCacheBytes (near.go)
	breakerFail int
	breakerWait time.Duration
	fenceWindow time.Duration
	tags        []string      // WithTags, normalized (tags.go)
	tagIdle     time.Duration // WithTagIdle (tagregistry.go)
	tagKeyTTL   time.Duration // WithTagKeyTTL: 0 the default, < 0 none (tags.go)
	hooks       hooks         // the observer and the function's counters (observe.go)
	lockLease   time.Duration // WithDistributedLock (dlock.go); 0: off
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

// applyOptions applies opts, of either kind, to c in order; nil options
// are skipped.
func applyOptions[O ManagerOption](c *config, opts []O) {
	for _, o := range opts {
		if ManagerOption(o) != nil {
			o.apply(c)
		}
	}
}

// WithPrefix sets the first part of every key (the original's key_base).
// The default is "cache". Given to [Memoize], it is that function's
// prefix (its keys, its generation key, its invalidation channel), and
// [Manager.InvalidateAll] still reaches the function.
func WithPrefix(prefix string) Option { return option(func(c *config) { c.prefix = prefix }) }

// WithTTL sets how long values are kept. 0, the default, keeps them until
// they are invalidated or evicted, as the original did. Redis expires
// them to the millisecond; a ttl below a millisecond is rounded up. A
// negative ttl is treated as 0.
//
// WithTTL is the function's ttl (given to [New], every function's); the
// per-call [TTL] overrides it for the value one call stores. The
// precedence is: the call's TTL, else the function's WithTTL, else the
// Manager's WithTTL, else 0.
func WithTTL(ttl time.Duration) Option {
	return option(func(c *config) { c.ttl = max(ttl, 0) })
}

// WithJitter spreads expiries so that values written together do not
// expire together: each write's ttl is drawn uniformly from
// [ttl*(1-fraction), ttl]. fraction is clamped to [0, 1]; 0 turns jitter off.
// It applies to a per-call [TTL] too.
func WithJitter(fraction float64) Option {
	return option(func(c *config) { c.jitter = min(max(fraction, 0), 1) })
}

// WithCodec sets the codec of the default encoding steps. The default is
// codec.Gob, as the original used pickle; codec.JSON stores JSON instead.
func WithCodec(cd codec.Codec) Option {
	return option(func(c *config) {
		if cd != nil {
			c.codec = cd
		}
	})
}

// WithDriver fixes the Redis the cache uses. Without it, every call
// resolves its driver from its context and the connection stack
// (conn.Resolve), as the original did. Given to [Memoize], the function
// uses d whatever the Manager's driver, and [Manager.InvalidateAll]
// reaches it on d.
func WithDriver(d conn.Driver) Option { return option(func(c *config) { c.driver = d }) }

// WithStore replaces the load and save steps; see [Store]. A panic in
// one of its methods is recovered: it counts as a failed Redis call that
// does not move the circuit breaker, and is reported (or returned by the
// explicit operations) as a [*PanicError].
func WithStore(s Store) Option {
	return option(func(c *config) {
		if s != nil {
			c.store = wrapStore(s)
		}
	})
}

// WithBeforeSave replaces the encoding step; see [BeforeSave]. A panic in
// f is recovered and handled as an encoding error whose cause is a
// [*PanicError]: the value is returned, not cached.
func WithBeforeSave(f BeforeSave) Option {
	f = recoveringBeforeSave(f)
	return option(func(c *config) { c.beforeSave = f })
}

// WithAfterLoad replaces the decoding step; see [AfterLoad]. A panic in f
// is recovered and handled as an entry that does not decode: a miss,
// reported with a [*PanicError] as the cause.
func WithAfterLoad(f AfterLoad) Option {
	f = recoveringAfterLoad(f)
	return option(func(c *config) { c.afterLoad = f })
}

// WithErrorHandler sets the function that is told about cache trouble the
// caller does not see: Redis errors and timeouts, corrupt entries, failed
// writes, the breaker opening. Each report is an [*Error] naming the
// step, the function, the key, the driver and the cluster node; see
// [ErrorHandler]. A panic in f is recovered and counted in [Stats]
// (Panics). Without a handler, the trouble is only counted in [Stats].
//
// Given to [Memoize], f hears the trouble of that function's calls
// instead of the Manager's handler; the Manager's handler (given to
// [New]) hears the rest, and the trouble of the Manager's own work, such
// as the near cache's subscription.
func WithErrorHandler(f ErrorHandler) Option {
	return option(func(c *config) { c.onError = f })
}

// WithTimeout bounds every Redis call the cache makes (default 100ms), so
// a slow Redis costs a call at most this much before it falls back to the
// loader. 0 leaves calls bounded only by the caller's context. Given to
// [Memoize], it bounds that function's calls and, like [WithBreaker],
// gives the function breakers of its own.
func WithTimeout(d time.Duration) Option { return option(func(c *config) { c.timeout = max(d, 0) }) }

// WithNegativeCaching caches loader errors for ttl, so that a failing or
// missing value is not asked for again on every call. With errs, only
// errors that match one of them (errors.Is) are cached, and the cached
// error read back in any process still matches the same one; without, every
// error is cached. A cached error comes back as a [*CachedError]. A ttl of
// 0 or less turns negative caching off, the default.
func WithNegativeCaching(ttl time.Duration, errs ...error) Option {
	return option(func(c *config) {
		c.negTTL = max(ttl, 0)
		c.negErrs = errs
		c.negAll = len(errs) == 0
	})
}

// WithStaleWhileRevalidate keeps each value for window past its ttl: a
// read in that window returns the stale value at once and reloads it in
// the background (once per key, however many readers). It needs a ttl;
// 0 turns it off, the default. Background reloads end with [Manager.Close].
func WithStaleWhileRevalidate(window time.Duration) Option {
	return option(func(c *config) { c.stale = max(window, 0) })
}

// WithGenerationRefresh sets how often a process re-reads a function's
// generation from Redis (default 1s). InvalidateAll takes effect at once
// in the process that calls it and within this interval in the others.
// Given to [Memoize], it is that function's interval.
func WithGenerationRefresh(d time.Duration) Option {
	return option(func(c *config) { c.genRefresh = max(d, 0) })
}

// WithMaxKeyLength sets how long the encoded arguments of a key may be
// before they are replaced by their hash (default 128 bytes). 0 never
// hashes. Given to [Memoize], it is that function's limit: its keys,
// and so its cached entries, change with it.
func WithMaxKeyLength(n int) Option { return option(func(c *config) { c.maxKeyLen = max(n, 0) }) }

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
	return option(func(c *config) { c.breakerFail, c.breakerWait = failures, max(cooldown, 0) })
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
// from; size <= 0 or ttl <= 0 turns it off, the default. Given to [New],
// every function has a near cache of its own of size values; given to
// [Memoize], WithNearCache(0, 0) turns a function's off.
//
// A Manager's near caches listen on one driver: the first a function
// with a near cache resolved. Calls that resolve another driver (a
// function's own [WithDriver], a tenant's driver from the context) go to
// their Redis every time, as a near copy of it could not be kept
// coherent.
//
// Values served from the near cache are shared between callers: treat
// them as read-only, or copy before changing a slice, map or pointer.
func WithNearCache(size int, ttl time.Duration) Option {
	return option(func(c *config) {
		if size <= 0 || ttl <= 0 {
			c.nearSize, c.nearTTL = 0, 0
			return
		}
		c.nearSize, c.nearTTL = size, ttl
	})
}

// WithFenceWindow sets how long the tombstone that Invalidate (and an
// explicit Refresh) writes in place of a value lives, 30s by default. A
// load that has run longer than the window, from its read of the cache,
// returns its value to its callers but does not store it, so that no
// load in flight can undo an invalidation, whatever its duration. Keep
// it well above your loaders' duration; d <= 0 keeps the default.
//
// It is a [ManagerOption] only, given to [New]: the window also bounds
// how long [Manager.Close] waits for loaders that ignore their context,
// so it holds for every function of the Manager.
func WithFenceWindow(d time.Duration) ManagerOption {
	return managerOption(func(c *config) {
		if d > 0 {
			c.fenceWindow = d
		}
	})
}

// WithCacheDisabled makes calls go straight to the loader, as if there
// were no cache: a switch for tests and for turning a function's cache off.
// Given to [New], it turns off every function of the Manager, and no
// function can turn its own back on; given to [Memoize], that function's
// only.
func WithCacheDisabled() Option { return option(func(c *config) { c.skipCache = true }) }

// CallOption changes one call of a memoized function: it is given to
// Get (and to Set, which heeds TTL only), never to New or Memoize. A nil
// CallOption is ignored.
type CallOption interface {
	applyCall(*callConfig)
}

// callOption is a CallOption.
type callOption func(*callConfig)

func (o callOption) applyCall(c *callConfig) { o(c) }

type callConfig struct {
	ttl     time.Duration
	ttlSet  bool
	skip    bool
	refresh bool
	since   int64    // when the call read the cache, unix nanoseconds (see engine.storedSince)
	tags    []string // Tags, as given (tags.go)
	// chosen is what the call's loader chose for its value (SetTTL,
	// DontCache: loaderopts.go); nil for a call that runs no loader.
	chosen *loadSettings
}

// TTL stores the value this call loads (or that Set writes) for ttl
// instead of the function's [WithTTL]. The precedence is: the call's TTL,
// else the function's WithTTL (given to Memoize), else the Manager's
// (given to New), else 0. As with WithTTL, 0 keeps the value until it is
// invalidated or evicted, a negative ttl is 0, a ttl below a millisecond
// is rounded up, [WithJitter] spreads it and [WithStaleWhileRevalidate]
// adds its window. A call served from the cache stores nothing, so its
// TTL changes nothing; when calls share one load, the TTL of the call
// that started it applies.
func TTL(ttl time.Duration) CallOption {
	return callOption(func(c *callConfig) { c.ttl, c.ttlSet = max(ttl, 0), true })
}

// SkipCache calls the loader and neither reads nor writes the cache.
func SkipCache() CallOption { return callOption(func(c *callConfig) { c.skip = true }) }

// Refresh calls the loader without reading the cache and stores what it
// returns: a forced refresh.
func Refresh() CallOption { return callOption(func(c *callConfig) { c.refresh = true }) }
