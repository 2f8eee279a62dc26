// Package demo plays the README's quick start for a person to watch: the
// very program the README shows (package app of docs/examples/quickstart:
// loadSomethingFromSomewhere memoized with core.Memoize on core.Default,
// Gob, a ttl of 5 seconds, behind the gin handler GET /something/:id) is
// served on a loopback port, and the demo calls it in a loop, printing for
// every request whether the cache answered (HIT, fast) or the loader ran
// (MISS, slow); then it waits for the ttl to run out and shows the loader
// run again.
//
// It is the "redcache demo" command; [Run] takes options so that tests can
// play it with a faster remote source.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/examples/quickstart/app"
	"github.com/redcache/redcache/tools/internal/cli"
)

// Defaults of the scenario, those of the README.
const (
	// DefaultDelay is how long the remote source takes, as in the README.
	DefaultDelay = 500 * time.Millisecond
	// ID is the id the demo asks for: the README's "42".
	ID = "42"
)

// Option changes the scenario.
type Option func(*config)

type config struct {
	delay    time.Duration
	driver   string
	fallback bool
}

// WithLoadDelay sets how long the remote source takes (default 500ms).
func WithLoadDelay(d time.Duration) Option {
	return func(c *config) {
		if d >= 0 {
			c.delay = d
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

// WithFallback makes Run play on the embedded Redis, and say why, when
// the Redis at redisURL does not answer (by default that is an error).
// The command sets it when the URL came from REDIS_URL rather than from
// --url, which the user typed for this run.
func WithFallback(on bool) Option {
	return func(c *config) { c.fallback = on }
}

var ginMode sync.Once

// mu serialises runs: the quick start's function runs on core.Default and
// the process-wide connection stack, as in the README, so two runs in one
// process would share them.
var mu sync.Mutex

// Run plays the demo, printing to w, and returns when it is over (about
// 6 seconds: the 5-second ttl and a few requests) or ctx ends. It uses the
// Redis at redisURL when one is given (any URL the driver takes), else an
// embedded, in-process miniredis; it says which. Its one key,
// cache:something:…:42, expires with the ttl.
func Run(ctx context.Context, w io.Writer, redisURL string, opts ...Option) error {
	cfg := config{delay: DefaultDelay, driver: cli.Drivers[0]}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	out := &printer{w: w}

	// Redis: the one given, or one of our own.
	var (
		d     conn.Driver
		where string
		err   error
	)
	if redisURL != "" {
		d, err = cli.Open(ctx, cfg.driver, redisURL)
		switch {
		case err == nil:
			where = fmt.Sprintf("%s (%s driver)", cli.Redact(redisURL), cfg.driver)
		case cfg.fallback && errors.Is(err, cli.ErrUnreachable) && ctx.Err() == nil:
			out.printf("redcache demo: %v\n  playing on an embedded Redis instead\n\n", oneLine(err))
		default:
			return err
		}
	}
	if d == nil {
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
		why := "REDIS_URL not set"
		if redisURL != "" {
			why = "the Redis given does not answer"
		}
		where = fmt.Sprintf("embedded, in-process Redis (miniredis) at %s (%s, %s driver)", mr.Addr(), why, cfg.driver)
	}
	defer d.Close()

	// The connection, as the README sets it up before starting the app.
	if err := conn.Use(d); err != nil { // use_connection()
		return err
	}
	defer conn.Pop()
	app.SetRemoteDelay(cfg.delay)
	memo := app.LoadSomething()
	key, err := memo.Key(ID)
	if err != nil {
		return err
	}
	// A value left by an earlier run would turn the first MISS into a HIT.
	if err := memo.Invalidate(ctx, ID); err != nil {
		return fmt.Errorf("clear the demo's key: %w", err)
	}

	srv, base, err := serve()
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	out.printf("redcache demo: the README's quick start, request by request\n\n")
	out.printf("  Redis    %s\n", where)
	out.printf("  loader   loadSomethingFromSomewhere: sleeps %s, \"loading from the remote source\"\n", cfg.delay)
	out.printf("  cache    core.Memoize(core.Default, %q, loadSomethingFromSomewhere, core.WithTTL(5*time.Second))\n", memo.Name())
	out.printf("           key %s, Gob codec (core.Default's)\n", key)
	out.printf("  server   gin, GET %s/something/:id\n", base)
	out.printf("  code     docs/examples/quickstart/app/app.go, the code the README quotes\n\n")

	client := &http.Client{Timeout: cfg.delay + 10*time.Second}
	url := base + "/something/" + ID
	start := time.Now()
	var hits, misses, loads int
	errorsBefore := core.Default.Stats().RedisErrors
	call := func(n int, note func(miss bool) string) error {
		before := core.Default.Stats().Loads
		r, err := fetch(ctx, client, url)
		if err != nil {
			return err
		}
		miss := core.Default.Stats().Loads != before
		cache := "HIT"
		if miss {
			cache = "MISS"
			misses++
			loads++
		} else {
			hits++
		}
		out.printf("%4d  %6s  %-5s  %9s  %s  %s\n", n, seconds(r.at.Sub(start)), cache, millis(r.took),
			r.body.Data.LoadedAt.Format("15:04:05.000"), note(miss))
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

	out.printf("%4s  %6s  %-5s  %9s  %-12s\n", "#", "AT", "CACHE", "TIME", "LOADED AT")
	n := 0
	again := func(miss bool) string {
		if miss {
			return "unexpected: the cached value was gone"
		}
		return "served from Redis: fast, the same value"
	}
	n++
	if err := call(n, func(miss bool) string {
		if miss {
			return "the loader ran: slow"
		}
		return "unexpected: a value was already cached"
	}); err != nil {
		return err
	}
	const gap = 300 * time.Millisecond
	for range 3 {
		if err := sleep(gap); err != nil {
			return err
		}
		n++
		if err := call(n, again); err != nil {
			return err
		}
	}

	// Wait for the ttl to run out, as Redis counts it.
	left := 5 * time.Second
	if reply, err := d.Do(ctx, "PTTL", key); err == nil {
		if ms, ok := reply.(int64); ok && ms >= 0 {
			left = time.Duration(ms) * time.Millisecond
		}
	}
	const margin = 300 * time.Millisecond
	out.printf("\nwaiting %s for the 5s TTL to run out (Redis says %s left)…\n\n", seconds(left+margin), seconds(left))
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
	out.printf("\ndone in %s: %d requests, %d loads, %d misses, %d hits\n", seconds(time.Since(start)), n, loads, misses, hits)
	if e := core.Default.Stats().RedisErrors - errorsBefore; e > 0 {
		out.printf("cache trouble: %d failed Redis calls (the requests were still served)\n", e)
	}
	if where != "" && !strings.HasPrefix(where, "embedded") {
		out.printf("the value stays in Redis for about 5s: redcache inspect %s\n", key)
	}
	return out.err
}

// serve starts the quick start's handler on a loopback port and returns
// its base URL.
func serve() (*http.Server, string, error) {
	ginMode.Do(func() { gin.SetMode(gin.ReleaseMode) })
	r := gin.New() // no logger: the demo prints its own lines
	r.Use(gin.Recovery())
	app.Routes(r)
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
	at   time.Time // when it was sent
	took time.Duration
	body struct {
		Data app.Something `json:"data"`
	}
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
	return r, nil
}

// printer writes lines and keeps the first write error.
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

// oneLine keeps an error message on one line.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// seconds formats d as "1.2s".
func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// millis formats d as "803.1ms".
func millis(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
