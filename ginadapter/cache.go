package ginadapter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// The values of X-Cache.
const (
	Hit    = "HIT"    // served from the cache; the handler did not run
	Miss   = "MISS"   // the handler ran for this request
	Bypass = "BYPASS" // the cache was not used: a private request, or Redis unavailable
)

// response is what is stored: the whole response, written to Redis once.
type response struct {
	Status int
	Header http.Header // only replayable headers, ETag included
	Body   []byte
	Stored int64 // Unix milliseconds, for Age
}

// errUncacheable is how the loader tells core that the response it ran
// must not be stored (core caches no error).
var errUncacheable = errors.New("redcache/ginadapter: response not cacheable")

// ResponseCache caches whole responses of gin handlers in Redis, through
// a function memoized with a core.Manager. Make one with NewCache; its
// Handler is the middleware, Wrap the per-route decorator, and
// PurgeRoute and PurgePrefix drop what it cached. It is safe for
// concurrent use.
type ResponseCache struct {
	cfg     config
	ttl     time.Duration
	memo    *core.Memo[string, *response]
	flights flights
}

// NewCache returns a cache of responses kept for ttl in the Redis of
// each request (see Connection), stored by m. Its rules are the package's
// (see the package documentation and the options).
func NewCache(m *core.Manager, ttl time.Duration, opts ...Option) *ResponseCache {
	cfg := defaults()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	rc := &ResponseCache{cfg: cfg, ttl: ttl}
	// A stale-while-revalidate reload would run a request's handler in
	// the background, after the request ended: it is turned off.
	memoOpts := append(slices.Clone(cfg.memoOpts), core.WithTTL(ttl), core.WithStaleWhileRevalidate(0),
		core.WithObserver(recorder{next: cfg.observer}))
	if cfg.refreshSet {
		memoOpts = append(memoOpts, core.WithGenerationRefresh(cfg.refresh))
	}
	if cfg.timeoutSet {
		memoOpts = append(memoOpts, core.WithTimeout(cfg.timeout))
	}
	rc.memo = core.Memoize(m, "gin."+cfg.name, func(ctx context.Context, _ string) (*response, error) {
		// Each lookup brings its own loader: its request's handler.
		if load, ok := ctx.Value(loaderKey{}).(func(context.Context) (*response, error)); ok {
			return load(ctx)
		}
		return nil, errUncacheable
	}, memoOpts...)
	return rc
}

// Cache returns middleware that caches the responses of the handlers
// after it for ttl: NewCache(m, ttl, opts...).Handler().
func Cache(m *core.Manager, ttl time.Duration, opts ...Option) gin.HandlerFunc {
	return NewCache(m, ttl, opts...).Handler()
}

// CacheHandler returns h with its responses cached for ttl, for one
// route: NewCache(m, ttl, opts...).Wrap(h).
func CacheHandler(m *core.Manager, ttl time.Duration, h gin.HandlerFunc, opts ...Option) gin.HandlerFunc {
	return NewCache(m, ttl, opts...).Wrap(h)
}

// Handler returns the cache as middleware: the handlers after it run
// only on a miss.
func (rc *ResponseCache) Handler() gin.HandlerFunc {
	return func(c *gin.Context) { rc.serve(c, (*gin.Context).Next) }
}

// Wrap returns h with its responses cached: a decorator for one route.
func (rc *ResponseCache) Wrap(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) { rc.serve(c, func(c *gin.Context) { h(c) }) }
}

func (rc *ResponseCache) serve(c *gin.Context, next func(*gin.Context)) {
	r := c.Request
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		next(c)
		return
	}
	user := ""
	if rc.cfg.user != nil {
		if u, ok := rc.cfg.user(c); ok {
			user = u
		}
	}
	if user == "" && (r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "") {
		rc.bypass(c, next)
		return
	}
	ctx := rc.context(r.Context())
	d, err := rc.memo.Driver(ctx)
	if err != nil {
		rc.fail(c, err)
		rc.bypass(c, next)
		return
	}
	tags := core.Tags(rc.tags(c.FullPath(), r.URL.Path)...)
	key := requestKey(r, rc.cfg.vary, user)
	if r.Method == http.MethodHead {
		rc.head(c, ctx, next, key, tags)
		return
	}

	f, leader := rc.flights.join(d, key)
	if !leader {
		timer := time.NewTimer(rc.cfg.forget)
		defer timer.Stop()
		select {
		case <-f.done:
			if f.resp != nil && rc.usable(r, f.resp) {
				rc.replay(c, f.resp, Hit)
				return
			}
		case <-timer.C:
		case <-ctx.Done():
			c.Abort() // the client went away: nobody to run the handler for
			return
		}
		rc.run(c, next)
		return
	}
	var shared *response
	defer func() { rc.flights.finish(d, key, f, shared) }()
	shared = rc.lead(c, ctx, next, key, tags, user != "")
}

// context returns ctx with the driver of WithDriver, if any: the
// responses, and everything the cache reads and writes itself, go to the
// Redis the cache's memoized function resolves from it (the Manager's
// core.WithDriver, else this one, else the request's, else the
// connection stack's), so that they always share one Redis.
func (rc *ResponseCache) context(ctx context.Context) context.Context {
	if rc.cfg.driver != nil {
		return conn.With(ctx, rc.cfg.driver)
	}
	return ctx
}

// lead looks key up and, on a miss, runs the handler and stores its
// response; it returns the response waiters may share.
func (rc *ResponseCache) lead(c *gin.Context, rctx context.Context, next func(*gin.Context), key string, tags core.CallOption, hasUser bool) *response {
	h := new(outcomeHolder)
	// Without cancellation, core runs the loader on this goroutine (the
	// request's), and a client that goes away does not leave a handler
	// running on a gin.Context that was put back in its pool.
	ctx := context.WithValue(context.WithoutCancel(rctx), outcomeKey{}, h)
	var w *capture
	var ran bool // the handler ran (w is nil when it panicked)
	var fresh *response
	// The handler runs at most once, inside this Get: a load that core
	// would start after it returned must not touch c, which gin reuses.
	var claimed atomic.Bool
	defer claimed.Store(true)
	resp, err := rc.getWith(ctx, key, tags, func(context.Context) (*response, error) {
		if !claimed.CompareAndSwap(false, true) {
			return nil, errUncacheable
		}
		ran = true
		w = rc.capture(c, next)
		fresh = rc.cacheable(c, w, hasUser)
		if fresh == nil {
			return nil, errUncacheable
		}
		return fresh, nil
	})
	var pe *core.PanicError
	switch {
	case ran && w == nil && errors.As(err, &pe) && pe.Callback == "":
		panic(pe.Value) // for gin.Recovery, or the server, as without a cache
	case w != nil:
		o, _ := h.get()
		label := Miss
		if o == core.OutcomeError || o == core.OutcomeBypass {
			label = Bypass
		}
		rc.deliver(c, w, fresh, label)
		return fresh
	case err == nil && resp != nil && rc.usable(c.Request, resp):
		rc.replay(c, resp, Hit)
		return resp
	}
	// The loader did not run and nothing usable came back (another
	// lookup's load failed, or a body this client cannot take): the
	// handler runs for this request alone.
	rc.run(c, next)
	return nil
}

// loaderKey carries, in the context of a lookup, the loader that runs
// the request's handler.
type loaderKey struct{}

func (rc *ResponseCache) getWith(ctx context.Context, key string, tags core.CallOption, load func(context.Context) (*response, error)) (*response, error) {
	return rc.memo.Get(context.WithValue(ctx, loaderKey{}, load), key, tags)
}

// head answers a HEAD from a cached GET; on a miss the handler runs,
// uncached: a handler may leave the body out of a HEAD, and that must
// not become the body of later GETs. The lookup is a Peek with the
// response's tags, so it reads the entry a GET stored and never loads;
// Redis trouble (reported by core) bypasses the cache, as for a GET.
func (rc *ResponseCache) head(c *gin.Context, ctx context.Context, next func(*gin.Context), key string, tags core.CallOption) {
	resp, found, err := rc.memo.Peek(ctx, key, tags)
	var ce *core.CachedError
	switch {
	case err == nil && found && resp != nil && rc.usable(c.Request, resp):
		rc.replay(c, resp, Hit)
	case err != nil && !errors.As(err, &ce):
		rc.bypass(c, next)
	default:
		rc.run(c, next)
	}
}

// capture runs the handler with its response kept in memory.
func (rc *ResponseCache) capture(c *gin.Context, next func(*gin.Context)) *capture {
	orig := c.Writer
	w := newCapture(orig, rc.cfg.maxBody)
	w.onPass = func() { orig.Header().Set("X-Cache", Miss) }
	c.Writer = w
	defer func() { c.Writer = orig }()
	next(c)
	return w
}

// cacheable returns the response to store, or nil when it must not be.
func (rc *ResponseCache) cacheable(c *gin.Context, w *capture, hasUser bool) *response {
	if w.passed || c.IsAborted() || !rc.cfg.cacheable(w.status) {
		return nil
	}
	set, _ := changed(w.before, w.header)
	if cacheControlForbids(set) || !varyAllowed(set, rc.cfg.vary) {
		return nil
	}
	if len(set.Values("Set-Cookie")) > 0 && !hasUser {
		return nil
	}
	for _, k := range connectionHeaders(set) {
		delete(set, k)
	}
	for k := range set {
		if !replayableHeader(k) {
			delete(set, k)
		}
	}
	var body []byte
	if w.buf != nil {
		body = slices.Clone(w.buf.Bytes())
	}
	if set.Get("ETag") == "" {
		sum := sha256.Sum256(body)
		set.Set("ETag", `W/"`+hex.EncodeToString(sum[:12])+`"`)
	}
	return &response{Status: w.status, Header: set, Body: body, Stored: time.Now().UnixMilli()}
}

// deliver writes the response the handler made for this request to its
// client: all of it, cookies included.
func (rc *ResponseCache) deliver(c *gin.Context, w *capture, fresh *response, label string) {
	if w.passed {
		return // the client has it already
	}
	out := c.Writer
	applyHeader(out.Header(), w.before, w.header, false)
	out.Header().Set("X-Cache", label)
	if fresh != nil {
		out.Header().Set("ETag", fresh.Header.Get("ETag"))
		if rc.notModified(c, fresh) {
			return
		}
	}
	out.WriteHeader(w.status)
	if w.buf != nil && w.buf.Len() > 0 {
		_, _ = out.Write(w.buf.Bytes())
	} else if w.size >= 0 {
		out.WriteHeaderNow()
	}
}

// replay writes a stored response to the client, and stops the handlers
// after the middleware.
func (rc *ResponseCache) replay(c *gin.Context, resp *response, label string) {
	c.Abort()
	out := c.Writer
	h := out.Header()
	for k, v := range resp.Header {
		if k == "Vary" {
			mergeVary(h, v)
			continue
		}
		h[k] = slices.Clone(v)
	}
	h.Set("X-Cache", label)
	h.Set("Age", strconv.FormatInt(max(0, time.Now().UnixMilli()-resp.Stored)/1000, 10))
	if rc.notModified(c, resp) {
		return
	}
	if c.Request.Method == http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
		out.WriteHeader(resp.Status)
		out.WriteHeaderNow()
		return
	}
	out.WriteHeader(resp.Status)
	if len(resp.Body) > 0 {
		_, _ = out.Write(resp.Body)
	} else {
		out.WriteHeaderNow()
	}
}

// notModified answers 304 Not Modified when the request's If-None-Match
// names the response's ETag.
func (rc *ResponseCache) notModified(c *gin.Context, resp *response) bool {
	if resp.Status != http.StatusOK || !etagMatch(c.Request.Header.Get("If-None-Match"), resp.Header.Get("ETag")) {
		return false
	}
	c.Writer.Header().Del("Content-Length")
	c.Writer.WriteHeader(http.StatusNotModified)
	c.Writer.WriteHeaderNow()
	return true
}

// mergeVary adds the names of vals to the Vary header of h, without
// repeating one an outer middleware already set.
func mergeVary(h http.Header, vals []string) {
	have := map[string]bool{}
	for _, line := range h.Values("Vary") {
		for f := range strings.SplitSeq(line, ",") {
			have[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
		}
	}
	for _, line := range vals {
		for f := range strings.SplitSeq(line, ",") {
			f = strings.TrimSpace(f)
			if f != "" && !have[http.CanonicalHeaderKey(f)] {
				have[http.CanonicalHeaderKey(f)] = true
				h.Add("Vary", f)
			}
		}
	}
}

// usable reports whether resp may be given to the client of r: never a
// body in a coding it did not accept.
func (rc *ResponseCache) usable(r *http.Request, resp *response) bool {
	return accepts(r.Header, resp.Header.Get("Content-Encoding"))
}

// run runs the handler for this request alone, uncached.
func (rc *ResponseCache) run(c *gin.Context, next func(*gin.Context)) {
	c.Header("X-Cache", Miss)
	next(c)
}

// bypass runs the handler without the cache.
func (rc *ResponseCache) bypass(c *gin.Context, next func(*gin.Context)) {
	c.Header("X-Cache", Bypass)
	next(c)
}

func (rc *ResponseCache) fail(c *gin.Context, err error) {
	if rc.cfg.onError != nil {
		rc.cfg.onError(c, err)
	}
}
