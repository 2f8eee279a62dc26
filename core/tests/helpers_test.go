package tests_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/memory"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
)

// target is one Redis the tests run against, through one driver.
type target struct {
	name string
	open func(tb testing.TB) conn.Driver
}

// targets are every driver on every server the test runner started:
// go-redis and radix, standalone and cluster. Each server is looked up
// in the subtest that opens it, so a missing cluster skips only the
// cluster subtests (and a missing Redis only the real-server ones).
func targets(tb testing.TB) []target {
	tb.Helper()
	standalone := func(tb testing.TB) string { return "redis://" + conntest.RedisAddr(tb) }
	cluster := func(tb testing.TB) string {
		return "redis+cluster://" + strings.Join(conntest.ClusterAddrs(tb), ",")
	}
	return []target{
		{"goredis/standalone", func(tb testing.TB) conn.Driver { return openGoredis(tb, standalone(tb)) }},
		{"goredis/cluster", func(tb testing.TB) conn.Driver { return openGoredis(tb, cluster(tb)) }},
		{"radix/standalone", func(tb testing.TB) conn.Driver { return openRadix(tb, standalone(tb)) }},
		{"radix/cluster", func(tb testing.TB) conn.Driver { return openRadix(tb, cluster(tb)) }},
	}
}

func openGoredis(tb testing.TB, url string) conn.Driver {
	tb.Helper()
	d, err := goredis.Open(context.Background(), url)
	if err != nil {
		tb.Fatalf("goredis.Open(%s): %v", url, err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

func openRadix(tb testing.TB, url string) conn.Driver {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := radix.Open(ctx, url)
	if err != nil {
		tb.Fatalf("radix.Open(%s): %v", url, err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

// raceTargets are the targets plus the in-memory driver, on which the
// engine's races run without a network in between; it adds to the real
// servers, never replaces them.
func raceTargets(tb testing.TB) []target {
	tb.Helper()
	return append(targets(tb), target{"memory", func(tb testing.TB) conn.Driver {
		d := memory.New()
		tb.Cleanup(func() { _ = d.Close() })
		return d
	}})
}

// eachRaceTarget runs fn as a subtest for every race target.
func eachRaceTarget(t *testing.T, fn func(t *testing.T, d conn.Driver)) {
	t.Helper()
	for _, tg := range raceTargets(t) {
		t.Run(tg.name, func(t *testing.T) { fn(t, tg.open(t)) })
	}
}

// eachTarget runs fn as a subtest for every target, with a fresh driver.
func eachTarget(t *testing.T, fn func(t *testing.T, d conn.Driver)) {
	t.Helper()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) { fn(t, tg.open(t)) })
	}
}

// uniquePrefix keeps tests apart on a shared server.
func uniquePrefix(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "coretest-" + hex.EncodeToString(b)
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// errorLog collects what a Manager reports.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) handler(_ context.Context, err *core.Error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// counter is a loader that counts its calls.
type counter struct {
	mu    sync.Mutex
	calls int
}

func (c *counter) inc() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.calls
}

func (c *counter) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// eventually polls cond until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testTimeout bounds the tests' Redis calls. It is generous on purpose:
// on a busy machine under -race a cold cluster client can take longer
// than the 100ms default, and a timed-out lookup reloads, which tests
// that count loader calls would take for a bug. Tests about timeouts set
// their own.
const testTimeout = 5 * time.Second

// hookDriver wraps a real driver so that a test can hold or fail one
// call at a precise point: before runs before the call reaches Redis (an
// error it returns is the call's), after runs once Redis answered. It
// makes races deterministic over the real drivers.
type hookDriver struct {
	conn.Driver
	before atomic.Pointer[func(ctx context.Context, op, key string) error]
	after  atomic.Pointer[func(ctx context.Context, op, key string)]
}

func newHookDriver(d conn.Driver) *hookDriver { return &hookDriver{Driver: d} }

func (h *hookDriver) setBefore(f func(ctx context.Context, op, key string) error) { h.before.Store(&f) }
func (h *hookDriver) setAfter(f func(ctx context.Context, op, key string))        { h.after.Store(&f) }
func (h *hookDriver) clear()                                                      { h.before.Store(nil); h.after.Store(nil) }

func (h *hookDriver) pre(ctx context.Context, op, key string) error {
	if f := h.before.Load(); f != nil {
		return (*f)(ctx, op, key)
	}
	return nil
}

func (h *hookDriver) post(ctx context.Context, op, key string) {
	if f := h.after.Load(); f != nil {
		(*f)(ctx, op, key)
	}
}

func (h *hookDriver) Get(ctx context.Context, key string) ([]byte, error) {
	if err := h.pre(ctx, "get", key); err != nil {
		return nil, err
	}
	b, err := h.Driver.Get(ctx, key)
	h.post(ctx, "get", key)
	return b, err
}

func (h *hookDriver) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if err := h.pre(ctx, "set", key); err != nil {
		return err
	}
	err := h.Driver.Set(ctx, key, v, ttl)
	h.post(ctx, "set", key)
	return err
}

func (h *hookDriver) SetNX(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, error) {
	if err := h.pre(ctx, "setnx", key); err != nil {
		return false, err
	}
	ok, err := h.Driver.SetNX(ctx, key, v, ttl)
	h.post(ctx, "setnx", key)
	return ok, err
}

func (h *hookDriver) Del(ctx context.Context, keys ...string) (int64, error) {
	if err := h.pre(ctx, "del", keys[0]); err != nil {
		return 0, err
	}
	n, err := h.Driver.Del(ctx, keys...)
	h.post(ctx, "del", keys[0])
	return n, err
}

func (h *hookDriver) Eval(ctx context.Context, s *conn.Script, keys []string, args ...any) (any, error) {
	if err := h.pre(ctx, "eval", keys[0]); err != nil {
		return nil, err
	}
	r, err := h.Driver.Eval(ctx, s, keys, args...)
	h.post(ctx, "eval", keys[0])
	return r, err
}

// driverKinds are both drivers, as openers of a URL.
var driverKinds = []struct {
	name string
	open func(tb testing.TB, url string) conn.Driver
}{{"goredis", openGoredis}, {"radix", openRadix}}

// openLike opens url with the driver the target tg uses.
func openLike(tb testing.TB, tg string, url string) conn.Driver {
	tb.Helper()
	if strings.HasPrefix(tg, "radix") {
		return openRadix(tb, url)
	}
	return openGoredis(tb, url)
}
