// Package demo plays the quickstart of the original RedCache README for a
// person to watch: a slow function that loads data "from a remote source"
// is memoized with a ttl of 5 seconds and served by a web handler; the
// demo calls the handler in a loop and prints, for every request, whether
// the cache answered (HIT, fast) or the loader ran (MISS, slow), waits
// for the ttl to run out, and shows the loader run again.
//
// It is the "redcache demo" command; [Run] takes options so that tests can
// play it faster.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/tools/internal/cli"
)

// Defaults of the scenario, those of the README.
const (
	DefaultTTL    = 5 * time.Second
	DefaultDelay  = 800 * time.Millisecond
	DefaultPrefix = "redcache-demo"
	functionName  = "load_something"
)

// Option changes the scenario.
type Option func(*config)

type config struct {
	ttl    time.Duration
	delay  time.Duration
	prefix string
	driver string
}

// WithTTL sets the ttl of the cached value (default 5s).
func WithTTL(ttl time.Duration) Option {
	return func(c *config) {
		if ttl > 0 {
			c.ttl = ttl
		}
	}
}

// WithLoadDelay sets how long the loader takes (default 800ms).
func WithLoadDelay(d time.Duration) Option {
	return func(c *config) {
		if d >= 0 {
			c.delay = d
		}
	}
}

// WithPrefix sets the key prefix (default "redcache-demo"), so that
// demos sharing a Redis do not meet.
func WithPrefix(prefix string) Option {
	return func(c *config) {
		if prefix != "" {
			c.prefix = prefix
		}
	}
}

// WithDriver picks the driver for a redisURL: "goredis" (the default) or
// "radix".
func WithDriver(name string) Option {
	return func(c *config) {
		if name != "" {
			c.driver = name
		}
	}
}

// something is what the slow loader returns.
type something struct {
	Data     string    `json:"data"`
	Load     int64     `json:"load"`
	LoadedAt time.Time `json:"loaded_at"`
}

var ginMode sync.Once

// Run plays the demo, printing to w, and returns when it is over (about
// 7 seconds with the defaults) or ctx ends. It uses the Redis at redisURL
// when one is given (any URL the driver takes), else an embedded,
// in-process miniredis; it says which. Its keys are under the prefix
// (see [WithPrefix]) and expire with the ttl.
func Run(ctx context.Context, w io.Writer, redisURL string, opts ...Option) error {
	cfg := config{ttl: DefaultTTL, delay: DefaultDelay, prefix: DefaultPrefix, driver: cli.Drivers[0]}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	out := &printer{w: w}

	// Redis: the one given, or one of our own.
	var (
		d     conn.Driver
		where string
		err   error
	)
	if redisURL != "" {
		d, err = cli.Open(ctx, cfg.driver, redisURL)
		if err != nil {
			return err
		}
		where = fmt.Sprintf("%s (%s driver)", cli.Redact(redisURL), cfg.driver)
	} else {
		mr := miniredis.NewMiniRedis()
		mr.ClockTTL(true) // keys expire with the wall clock, as in Redis
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("start the embedded Redis: %w", err)
		}
		defer mr.Close()
		d, err = cli.Open(ctx, cfg.driver, "redis://"+mr.Addr())
		if err != nil {
			return err
		}
		where = fmt.Sprintf("embedded miniredis at %s (REDIS_URL not set)", mr.Addr())
	}
	defer d.Close()

	// The cache, as the README sets it up: a manager and a memoized
	// loader with a ttl.
	m := core.New(
		core.WithDriver(d),
		core.WithPrefix(cfg.prefix),
		core.WithCodec(codec.JSON), // readable with redis-cli and "redcache inspect"
		// Generous: a slow machine should not turn a HIT into a MISS here.
		core.WithTimeout(time.Second),
		core.WithErrorHandler(func(_ context.Context, err error) {
			out.printf("  cache trouble (the request is still served): %v\n", err)
		}),
	)
	defer m.Close()
	var loads atomic.Int64
	loadSomething := func(ctx context.Context) (something, error) {
		// Load the data... from a slow remote source.
		select {
		case <-time.After(cfg.delay):
		case <-ctx.Done():
			return something{}, ctx.Err()
		}
		n := loads.Add(1)
		return something{Data: "something from the remote source", Load: n, LoadedAt: time.Now().UTC()}, nil
	}
	memo := core.Memoize0(m, functionName, loadSomething, core.WithTTL(cfg.ttl))
	// A value left by an earlier run would turn the first MISS into a HIT.
	if err := memo.Invalidate(ctx); err != nil {
		return fmt.Errorf("clear the demo's key: %w", err)
	}

	// The web handler, as the README's Flask view.
	srv, base, err := serve(memo, &loads)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	out.printf("redcache demo: the quickstart of the original README, in Go\n\n")
	out.printf("  Redis    %s\n", where)
	out.printf("  loader   %s: sleeps %s, \"loading from the remote source\"\n", functionName, cfg.delay)
	out.printf("  cache    core.Memoize0(m, %q, %s, core.WithTTL(%s))\n", functionName, functionName, cfg.ttl)
	out.printf("           key %s, JSON codec\n", memo.Key())
	out.printf("  server   gin, GET %s/something/\n\n", base)

	client := &http.Client{Timeout: cfg.delay + 10*time.Second}
	start := time.Now()
	gap := min(300*time.Millisecond, cfg.ttl/20)
	var hits, misses int
	call := func(n int, note func(miss bool) string) error {
		r, err := fetch(ctx, client, base+"/something/")
		if err != nil {
			return err
		}
		if r.miss {
			misses++
		} else {
			hits++
		}
		out.printf("%4d  %6s  %-5s  %9s  %5d  %s\n", n, seconds(r.at.Sub(start)), r.cache, millis(r.took), r.body.Load, note(r.miss))
		return nil
	}
	sleep := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	out.printf("%4s  %6s  %-5s  %9s  %5s\n", "#", "AT", "CACHE", "TIME", "LOAD")
	n := 0
	first := func(miss bool) string {
		if miss {
			return "the loader ran: slow"
		}
		return "unexpected: a value was already cached"
	}
	again := func(miss bool) string {
		if miss {
			return "unexpected: the cached value was gone"
		}
		return "served from Redis: fast"
	}
	n++
	if err := call(n, first); err != nil {
		return err
	}
	for range 3 {
		n++
		if err := call(n, again); err != nil {
			return err
		}
		if err := sleep(gap); err != nil {
			return err
		}
	}

	// Wait for the ttl to run out, as Redis counts it.
	left := cfg.ttl
	if reply, err := d.Do(ctx, "PTTL", memo.Key()); err == nil {
		if ms, ok := reply.(int64); ok && ms >= 0 {
			left = time.Duration(ms) * time.Millisecond
		}
	}
	margin := min(max(cfg.ttl/10, 50*time.Millisecond), 300*time.Millisecond)
	out.printf("\nwaiting %s for the %s TTL to run out (Redis says %s left)…\n\n", seconds(left+margin), cfg.ttl, seconds(left))
	if err := sleep(left + margin); err != nil {
		return err
	}

	n++
	if err := call(n, func(miss bool) string {
		if miss {
			return "expired: the loader ran again"
		}
		return "unexpected: the value outlived its ttl"
	}); err != nil {
		return err
	}
	for range 2 {
		if err := sleep(gap); err != nil {
			return err
		}
		n++
		if err := call(n, again); err != nil {
			return err
		}
	}
	out.printf("\ndone in %s: %d requests, %d loads, %d misses, %d hits\n", seconds(time.Since(start)), n, loads.Load(), misses, hits)
	if redisURL != "" {
		out.printf("the value stays in Redis for about %s: redcache inspect --prefix %s %s\n", cfg.ttl, cfg.prefix, memo.Key())
	}
	return out.err
}

// serve starts the gin handler on a loopback port and returns its base
// URL.
func serve(memo *core.Memo0[something], loads *atomic.Int64) (*http.Server, string, error) {
	ginMode.Do(func() { gin.SetMode(gin.ReleaseMode) })
	r := gin.New() // no logger: the demo prints its own lines
	r.Use(gin.Recovery())
	r.GET("/something/", func(c *gin.Context) {
		before := loads.Load()
		data, err := memo.Get(c.Request.Context())
		if err != nil {
			c.JSON(http.StatusBadGateway, gin.H{"error": err.Error()})
			return
		}
		cache := "HIT"
		if loads.Load() != before {
			cache = "MISS"
		}
		c.Header("X-Cache", cache)
		c.JSON(http.StatusOK, data)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String(), nil
}

// result is one request as the client saw it.
type result struct {
	at    time.Time // when it was sent
	took  time.Duration
	cache string // the X-Cache header
	miss  bool
	body  something
}

func fetch(ctx context.Context, client *http.Client, url string) (result, error) {
	r := result{at: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return r, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return r, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	r.took = time.Since(r.at)
	if err != nil {
		return r, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &r.body); err != nil {
		return r, fmt.Errorf("GET %s: %w", url, err)
	}
	r.cache = resp.Header.Get("X-Cache")
	r.miss = r.cache == "MISS"
	return r, nil
}

// printer writes lines and keeps the first write error; it is safe for
// concurrent use (the error handler may print from any goroutine).
type printer struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format, args...)
}

// seconds formats d as "1.2s".
func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// millis formats d as "803.1ms".
func millis(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
