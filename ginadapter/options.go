package ginadapter

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// Option configures a ResponseCache (Cache, CacheHandler, NewCache).
// A nil Option is ignored.
type Option func(*config)

type config struct {
	name       string
	vary       []string // canonical header names
	maxBody    int
	cacheable  func(status int) bool
	forget     time.Duration
	timeout    time.Duration
	timeoutSet bool
	user       func(c *gin.Context) (string, bool)
	driver     conn.Driver
	observer   core.Observer
	memoOpts   []core.Option
	onError    func(c *gin.Context, err error)
	maxLevels  int
	refresh    time.Duration
	refreshSet bool
}

func defaults() config {
	return config{
		name:      "gin",
		maxBody:   1 << 20,
		cacheable: func(s int) bool { return s >= 200 && s < 300 && s != http.StatusPartialContent },
		forget:    2 * time.Second,
		maxLevels: 8,
	}
}

// WithName names the cache: the memoized function under which responses
// are stored (see core.Memoize, default "gin") and the namespace of its
// purges. Two caches with the same name, made with Managers of the same
// prefix, share their entries and purges, in every process: give a
// process that only purges the name of the cache it purges. Like any memoized function, a cache is made once per
// Manager and name: core refuses a second live one.
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithVary adds request headers to the key, as a Vary response header
// would: requests that differ in one of them never share a response.
// Accept-Encoding is always part of the key. A response whose own Vary
// names a header that is neither declared here nor Accept-Encoding (or
// is "*") is not cached.
func WithVary(headers ...string) Option {
	return func(c *config) {
		for _, h := range headers {
			c.vary = append(c.vary, http.CanonicalHeaderKey(h))
		}
	}
}

// WithMaxBodySize sets the largest body that is cached (1 MiB by
// default). A response that grows past it is passed through to the
// client as it is written, and not cached.
func WithMaxBodySize(n int) Option { return func(c *config) { c.maxBody = n } }

// WithStatuses sets the statuses that are cached (by default every 2xx
// but 206 Partial Content). Whatever the statuses, an aborted request,
// a response with Cache-Control no-store, no-cache or private, and a
// response with Set-Cookie (see WithUser) are never cached.
func WithStatuses(statuses ...int) Option {
	return func(c *config) {
		set := make(map[int]bool, len(statuses))
		for _, s := range statuses {
			set[s] = true
		}
		c.cacheable = func(s int) bool { return set[s] }
	}
}

// WithForgetTimeout bounds how long a request waits for another request
// that is running the handler for the same key (2 s by default). A
// waiter that gives up runs the handler itself, uncached, so that one
// slow handler does not hold every waiter.
func WithForgetTimeout(d time.Duration) Option { return func(c *config) { c.forget = d } }

// WithTimeout bounds every Redis call of a lookup and of the write of a
// response, the reads of the purge generations included: it is
// core.WithTimeout given to the cache's memoized function (by default,
// the Manager's timeout, 100 ms unless set). When a lookup fails, the
// request bypasses the cache.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout, c.timeoutSet = d, true }
}

// WithPurgeRefresh sets how long this process trusts the purge
// generations it read (the tags' generations, 1 s by default): it is
// core.WithGenerationRefresh given to the cache's memoized function. A
// purge made by another process takes effect here within d, one made by
// this process at once. 0 reads them from Redis on every request (one
// more round trip per request), so that a purge takes effect everywhere
// as soon as it returns.
func WithPurgeRefresh(d time.Duration) Option {
	return func(c *config) { c.refresh, c.refreshSet = d, true }
}

// WithUser allows caching of private requests (with Authorization or
// Cookie) and of responses that set a cookie, keyed per user: user
// returns the identity of the request's user (a user ID from a verified
// session, never a raw header). A request for which it returns false
// bypasses the cache when it is private. Set-Cookie is never stored nor
// replayed, and a response that sets a cookie is cached only for a
// request that has a user.
//
// Without WithUser, private requests bypass the cache (X-Cache: BYPASS)
// and responses that set a cookie are not cached.
func WithUser(user func(c *gin.Context) (id string, ok bool)) Option {
	return func(c *config) { c.user = user }
}

// WithDriver makes the cache keep its responses, and its purges, in d
// instead of the Redis the request's context carries (or the connection
// stack's). A Manager with a driver of its own (core.WithDriver) keeps
// them in that one, as it does every value of its functions: the cache
// always reads and writes where its memoized function does.
func WithDriver(d conn.Driver) Option { return func(c *config) { c.driver = d } }

// WithObserver adds an observer of the cache's memoized function (see
// core.Observer). The cache observes its function itself to tell hits
// from misses; a core.WithObserver given in WithCoreOptions would replace
// that, so give observers here.
func WithObserver(o core.Observer) Option { return func(c *config) { c.observer = o } }

// WithCoreOptions passes options to the memoized function that stores
// the responses (core.Memoize): a codec, a near cache, a timeout. Its
// ttl is the cache's, and core.WithStaleWhileRevalidate is turned off:
// its background reload would run a request's handler after the request
// ended.
func WithCoreOptions(opts ...core.Option) Option {
	return func(c *config) { c.memoOpts = append(c.memoOpts, opts...) }
}

// WithErrorHandler is called with the errors that made a request bypass
// the cache before its lookup (no driver could be resolved, say). Redis
// errors of the lookup (the purge generations included) and of the write
// go to the Manager's error handler.
func WithErrorHandler(f func(c *gin.Context, err error)) Option {
	return func(c *config) { c.onError = f }
}
