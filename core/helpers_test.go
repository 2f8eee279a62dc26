package core_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
)

// target is one Redis the tests run against, through one driver.
type target struct {
	name string
	open func(tb testing.TB) conn.Driver
}

// targets are every driver on every server the test runner started:
// go-redis and radix, standalone and cluster.
func targets(tb testing.TB) []target {
	tb.Helper()
	addr := conntest.RedisAddr(tb)
	cluster := conntest.ClusterAddrs(tb)
	return []target{
		{"goredis/standalone", func(tb testing.TB) conn.Driver { return openGoredis(tb, "redis://"+addr) }},
		{"goredis/cluster", func(tb testing.TB) conn.Driver {
			return openGoredis(tb, "redis+cluster://"+strings.Join(cluster, ","))
		}},
		{"radix/standalone", func(tb testing.TB) conn.Driver { return openRadix(tb, "redis://"+addr) }},
		{"radix/cluster", func(tb testing.TB) conn.Driver {
			return openRadix(tb, "redis+cluster://"+strings.Join(cluster, ","))
		}},
	}
}

func openGoredis(tb testing.TB, url string) conn.Driver {
	tb.Helper()
	d, err := goredis.Open(url)
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

func (l *errorLog) handler(_ context.Context, err error) {
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
