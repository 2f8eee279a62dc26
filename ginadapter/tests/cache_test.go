package tests_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/ginadapter"
)

// app is a gin engine with the connection and the cache middleware in
// front of the routes a test adds.
func app(t *testing.T, d conn.Driver, opts ...ginadapter.Option) (*gin.Engine, *ginadapter.ResponseCache) {
	t.Helper()
	rc := ginadapter.NewCache(newManager(t), time.Minute, append([]ginadapter.Option{ginadapter.WithName(unique(t)), ginadapter.WithTimeout(5 * time.Second)}, opts...)...)
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(io.Discard), ginadapter.Connection(d), rc.Handler())
	return r, rc
}

func TestHitMissAgeETag(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		r, _ := app(t, d)
		var runs counter
		r.GET("/items/:id", func(c *gin.Context) {
			n := runs.inc()
			c.Header("X-Run", fmt.Sprint(n))
			c.String(http.StatusOK, "item %s %s", c.Param("id"), c.Query("a"))
		})
		s := serve(t, r)

		first := do(t, "GET", s.URL+"/items/1?a=1&b=2")
		wantCache(t, first, ginadapter.Miss)
		if first.body != "item 1 1" || first.header.Get("ETag") == "" {
			t.Fatalf("first: %q, ETag %q", first.body, first.header.Get("ETag"))
		}
		// The same query in another order is the same page.
		second := do(t, "GET", s.URL+"/items/1?b=2&a=1")
		wantCache(t, second, ginadapter.Hit)
		if second.body != first.body || second.header.Get("ETag") != first.header.Get("ETag") ||
			second.header.Get("X-Run") != "1" || second.header.Get("Age") == "" {
			t.Fatalf("hit: body %q ETag %q X-Run %q Age %q", second.body, second.header.Get("ETag"),
				second.header.Get("X-Run"), second.header.Get("Age"))
		}
		wantCache(t, do(t, "GET", s.URL+"/items/2"), ginadapter.Miss)
		if runs.get() != 2 {
			t.Fatalf("handler ran %d times, want 2", runs.get())
		}
	})
}

func TestHeadAnd304(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		r, rc := app(t, d)
		var runs counter
		page := strings.Repeat("x", 100)
		r.GET("/page", func(c *gin.Context) {
			runs.inc()
			c.String(http.StatusOK, page)
		})
		r.HEAD("/page", func(c *gin.Context) {
			runs.inc()
			c.Status(http.StatusOK) // a HEAD handler that writes no body
		})
		s := serve(t, r)

		// A HEAD before any GET runs its handler and caches nothing.
		h := do(t, "HEAD", s.URL+"/page")
		wantCache(t, h, ginadapter.Miss)
		g := do(t, "GET", s.URL+"/page")
		wantCache(t, g, ginadapter.Miss)
		if g.body != page {
			t.Fatalf("GET after HEAD: body %q", g.body)
		}
		// Now a HEAD is answered from the cached GET.
		h = do(t, "HEAD", s.URL+"/page")
		wantCache(t, h, ginadapter.Hit)
		if h.header.Get("Content-Length") != "100" || h.body != "" {
			t.Fatalf("HEAD hit: Content-Length %q body %q", h.header.Get("Content-Length"), h.body)
		}
		etag := g.header.Get("ETag")
		nm := do(t, "GET", s.URL+"/page", "If-None-Match", etag)
		if nm.status != http.StatusNotModified || nm.body != "" || nm.header.Get("ETag") != etag {
			t.Fatalf("If-None-Match: status %d body %q ETag %q", nm.status, nm.body, nm.header.Get("ETag"))
		}
		other := do(t, "GET", s.URL+"/page", "If-None-Match", `"other"`)
		if other.status != http.StatusOK || other.body != page {
			t.Fatalf("other ETag: status %d", other.status)
		}
		if runs.get() != 2 {
			t.Fatalf("handlers ran %d times, want 2", runs.get())
		}

		// A HEAD reads the response under its tags: once the route is
		// purged it is a miss, runs its handler and stores nothing.
		if err := rc.PurgeRoute(conn.With(context.Background(), d), "/page"); err != nil {
			t.Fatal(err)
		}
		wantCache(t, do(t, "HEAD", s.URL+"/page"), ginadapter.Miss)
		if g := do(t, "GET", s.URL+"/page"); g.body != page {
			t.Fatalf("GET after a purged HEAD: body %q", g.body)
		}
		wantCache(t, do(t, "HEAD", s.URL+"/page"), ginadapter.Hit)
		if runs.get() != 4 {
			t.Fatalf("handlers ran %d times, want 4", runs.get())
		}
	})
}

// TestNotCached: what must never be stored is served, then run again.
func TestNotCached(t *testing.T) {
	cases := []struct {
		name    string
		handler gin.HandlerFunc
		status  int
	}{
		{"500", func(c *gin.Context) { c.String(http.StatusInternalServerError, "boom") }, 500},
		{"404", func(c *gin.Context) { c.String(http.StatusNotFound, "none") }, 404},
		{"aborted", func(c *gin.Context) { c.AbortWithStatusJSON(http.StatusOK, gin.H{"partial": true}) }, 200},
		{"no-store", func(c *gin.Context) { c.Header("Cache-Control", "no-store"); c.String(200, "x") }, 200},
		{"private", func(c *gin.Context) { c.Header("Cache-Control", "private, max-age=60"); c.String(200, "x") }, 200},
		{"set-cookie", func(c *gin.Context) { c.SetCookie("sid", "abc", 60, "/", "", false, true); c.String(200, "x") }, 200},
		{"vary-star", func(c *gin.Context) { c.Header("Vary", "*"); c.String(200, "x") }, 200},
		{"vary-undeclared", func(c *gin.Context) { c.Header("Vary", "X-Undeclared"); c.String(200, "x") }, 200},
		{"stream", func(c *gin.Context) {
			c.Status(200)
			for i := range 3 {
				_, _ = fmt.Fprintf(c.Writer, "chunk %d\n", i)
				c.Writer.Flush()
			}
		}, 200},
		{"too-big", func(c *gin.Context) { c.String(200, strings.Repeat("y", 2048)) }, 200},
	}
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r, _ := app(t, d, ginadapter.WithMaxBodySize(1024))
				var runs counter
				r.GET("/p", func(c *gin.Context) { runs.inc(); tc.handler(c) })
				s := serve(t, r)
				var first result
				for i := range 2 {
					res := do(t, "GET", s.URL+"/p")
					if res.status != tc.status {
						t.Fatalf("call %d: status %d, want %d", i, res.status, tc.status)
					}
					wantCache(t, res, ginadapter.Miss)
					if i == 0 {
						first = res
					} else if res.body != first.body {
						t.Fatalf("bodies differ: %q then %q", first.body, res.body)
					}
				}
				if runs.get() != 2 {
					t.Fatalf("handler ran %d times, want 2 (a response was cached)", runs.get())
				}
				if tc.name == "set-cookie" && first.header.Get("Set-Cookie") == "" {
					t.Fatal("the response's own cookie was not delivered")
				}
				if tc.name == "too-big" && len(first.body) != 2048 {
					t.Fatalf("too-big body: %d bytes", len(first.body))
				}
			})
		}
	})
}

// TestPanicRecovered: a handler that panics under gin.Recovery leaves
// nothing cached and no waiter stuck.
func TestPanicRecovered(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		r, _ := app(t, d)
		var runs counter
		release := make(chan struct{})
		r.GET("/p", func(c *gin.Context) {
			if runs.inc() == 1 {
				<-release // let the others pile up behind the first
				panic("handler bug")
			}
			c.String(http.StatusOK, "ok")
		})
		s := serve(t, r)

		const n = 8
		results := make(chan result, n)
		var wg sync.WaitGroup
		for range n {
			spawn(&wg, func() {
				res, err := send("GET", s.URL+"/p")
				if err != nil {
					t.Error(err)
				}
				results <- res
			})
		}
		for runs.get() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // the others join the flight
		close(release)
		wg.Wait()
		close(results)
		var fivehundreds, oks int
		for res := range results {
			switch res.status {
			case 500:
				fivehundreds++
			case 200:
				oks++
			}
		}
		if fivehundreds != 1 || oks != n-1 {
			t.Fatalf("%d answers 500 and %d 200, want 1 and %d", fivehundreds, oks, n-1)
		}
		// Nothing was cached by the panic: the page is "ok" (cached by a
		// request that came after it, or by the next one), never a 500.
		for range 2 {
			if res := do(t, "GET", s.URL+"/p"); res.status != http.StatusOK || res.body != "ok" {
				t.Fatalf("after the panic: %d %q", res.status, res.body)
			}
		}
		wantCache(t, do(t, "GET", s.URL+"/p"), ginadapter.Hit)
	})
}

// TestOneRunPerKey: concurrent misses of one key run the handler once;
// the waiters get its response.
func TestOneRunPerKey(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		r, _ := app(t, d)
		var runs counter
		r.GET("/slow", func(c *gin.Context) {
			runs.inc()
			time.Sleep(300 * time.Millisecond)
			c.String(http.StatusOK, "slow")
		})
		s := serve(t, r)
		var wg sync.WaitGroup
		var mu sync.Mutex
		labels := map[string]int{}
		for range 16 {
			spawn(&wg, func() {
				res, err := send("GET", s.URL+"/slow")
				if err != nil || res.body != "slow" {
					t.Errorf("got %q, %v", res.body, err)
					return
				}
				mu.Lock()
				labels[res.header.Get("X-Cache")]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if runs.get() != 1 {
			t.Fatalf("handler ran %d times, want 1 (labels %v)", runs.get(), labels)
		}
		if labels[ginadapter.Miss] != 1 || labels[ginadapter.Hit] != 15 {
			t.Fatalf("labels %v, want 1 MISS and 15 HIT", labels)
		}
	})
}

// TestForgetTimeout: a waiter stops waiting for a slow handler after the
// forget timeout and runs the handler itself.
func TestForgetTimeout(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		r, _ := app(t, d, ginadapter.WithForgetTimeout(300*time.Millisecond))
		var runs counter
		release := make(chan struct{})
		r.GET("/slow", func(c *gin.Context) {
			if runs.inc() == 1 {
				<-release
			}
			c.String(http.StatusOK, "done")
		})
		s := serve(t, r)
		first := make(chan result, 1)
		go func() {
			res, _ := send("GET", s.URL+"/slow")
			first <- res
		}()
		for runs.get() == 0 {
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		res := do(t, "GET", s.URL+"/slow")
		waited := time.Since(start)
		close(release)
		if res.body != "done" || runs.get() != 2 {
			t.Fatalf("waiter: body %q, runs %d", res.body, runs.get())
		}
		if waited < 300*time.Millisecond {
			t.Fatalf("waiter gave up after %v, before the forget timeout", waited)
		}
		if f := <-first; f.body != "done" {
			t.Fatalf("first: %q", f.body)
		}
	})
}

// TestHijackPassesThrough: a handler that takes the connection over is
// left alone, and nothing is cached.
func TestHijackPassesThrough(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		r, _ := app(t, d)
		var runs counter
		r.GET("/raw", func(c *gin.Context) {
			runs.inc()
			nc, rw, err := c.Writer.Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nraw")
			_ = rw.Flush()
		})
		s := serve(t, r)
		for range 2 {
			if res := do(t, "GET", s.URL+"/raw"); res.status != http.StatusOK || res.body != "raw" {
				t.Fatalf("hijacked: %d %q", res.status, res.body)
			}
		}
		if runs.get() != 2 {
			t.Fatalf("handler ran %d times, want 2", runs.get())
		}
	})
}
