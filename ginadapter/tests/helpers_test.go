package tests_test

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
)

func init() { gin.SetMode(gin.TestMode) }

// target is one Redis the tests run against, through one driver.
type target struct {
	name string
	open func(tb testing.TB) conn.Driver
}

// targets are both drivers on both kinds of server the test runner
// started: go-redis and radix, standalone and cluster.
func targets() []target {
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

// eachTarget runs fn as a subtest for every target, with a fresh driver.
func eachTarget(t *testing.T, fn func(t *testing.T, d conn.Driver)) {
	t.Helper()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) { fn(t, tg.open(t)) })
	}
}

// drivers opens a driver of each kind on url.
var drivers = []struct {
	name string
	open func(tb testing.TB, url string) conn.Driver
}{{"goredis", openGoredis}, {"radix", openRadix}}

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

// unique keeps tests apart on a shared server: a cache name and a
// Manager prefix of their own.
func unique(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "gintest" + hex.EncodeToString(b)
}

// newManager is a Manager with a prefix of its own and a generous
// timeout: on a busy machine under -race a cold cluster client can take
// longer than the 100 ms default, and a timed-out lookup is a bypass,
// which tests that count handler runs would take for a bug.
func newManager(tb testing.TB, opts ...core.ManagerOption) *core.Manager {
	tb.Helper()
	opts = append([]core.ManagerOption{core.WithPrefix(unique(tb)), core.WithTimeout(5 * time.Second)}, opts...)
	m := core.New(opts...)
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

// serve starts r on a loopback httptest server.
func serve(tb testing.TB, r http.Handler) *httptest.Server {
	tb.Helper()
	s := httptest.NewServer(r)
	tb.Cleanup(s.Close)
	return s
}

// result is what a client got.
type result struct {
	status int
	header http.Header
	body   string
}

// client sends requests without adding Accept-Encoding or decoding
// bodies on its own: the tests say what the client accepts.
var client = &http.Client{
	Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
	Timeout:   20 * time.Second,
}

// do sends a request; headers alternate names and values.
func do(tb testing.TB, method, url string, headers ...string) result {
	tb.Helper()
	res, err := send(method, url, headers...)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	return res
}

// send is do for goroutines: it returns its error.
func send(method, url string, headers ...string) (result, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return result{}, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{resp.StatusCode, resp.Header, string(b)}, nil
}

// want checks the X-Cache of a result.
func wantCache(tb testing.TB, r result, want string) {
	tb.Helper()
	if got := r.header.Get("X-Cache"); got != want {
		tb.Fatalf("X-Cache = %q, want %q (status %d, body %q)", got, want, r.status, r.body)
	}
}

// counter counts a handler's runs.
type counter struct{ n atomic.Int64 }

func (c *counter) inc() int64 { return c.n.Add(1) }
func (c *counter) get() int64 { return c.n.Load() }

// gunzip decodes a gzip body.
func gunzip(tb testing.TB, s string) string {
	tb.Helper()
	zr, err := gzip.NewReader(strings.NewReader(s))
	if err != nil {
		tb.Fatalf("not a gzip body (%q): %v", s, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("gzip body: %v", err)
	}
	return string(b)
}

// gzipMiddleware is a small gzip middleware, shaped like
// gin-contrib/gzip: for a client that accepts gzip it sets
// Content-Encoding and Vary before the handlers run, compresses what
// they write, and drops Content-Length.
func gzipMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !strings.Contains(c.GetHeader("Accept-Encoding"), "gzip") {
			c.Next()
			return
		}
		c.Header("Content-Encoding", "gzip")
		c.Header("Vary", "Accept-Encoding")
		orig := c.Writer
		zw := gzip.NewWriter(orig)
		c.Writer = &gzipWriter{ResponseWriter: orig, zw: zw}
		defer func() { c.Writer = orig }()
		c.Next()
		if c.Request.Method != http.MethodHead && orig.Status() != http.StatusNotModified {
			_ = zw.Close()
		}
	}
}

type gzipWriter struct {
	gin.ResponseWriter
	zw *gzip.Writer
}

func (w *gzipWriter) Write(b []byte) (int, error) {
	w.Header().Del("Content-Length")
	return w.zw.Write(b)
}

func (w *gzipWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// spawn runs fn in a goroutine counted by wg.
func spawn(wg *sync.WaitGroup, fn func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		fn()
	}()
}
