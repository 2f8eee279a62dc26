package tests_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/ginadapter"
)

// TestPurge: a route or a path prefix is purged from a handler, or from
// another process (another Manager and driver, a cache of the same name).
//
// With a refresh interval, the other process's purges are seen once the
// interval passed; with none, as soon as they return.
func TestPurge(t *testing.T) {
	for _, tg := range targets() {
		for _, refresh := range []time.Duration{0, 200 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s/refresh=%v", tg.name, refresh), func(t *testing.T) { testPurge(t, tg, refresh) })
		}
	}
}

func testPurge(t *testing.T, tg target, refresh time.Duration) {
	d := tg.open(t)
	name, prefix := unique(t), unique(t)
	m := newManager(t, core.WithPrefix(prefix))
	rc := ginadapter.NewCache(m, time.Minute, ginadapter.WithName(name), ginadapter.WithTimeout(5*time.Second),
		ginadapter.WithPurgeRefresh(refresh))
	// Another process's purge is seen once the interval passed.
	settle := func() { time.Sleep(refresh + refresh/2) }
	r := gin.New()
	r.Use(ginadapter.Connection(d))
	var runs counter
	h := func(c *gin.Context) { c.String(http.StatusOK, "%s #%d", c.Request.URL.Path, runs.inc()) }
	r.GET("/users/:id", rc.Wrap(h))
	r.GET("/users/:id/posts", rc.Wrap(h))
	r.GET("/about", rc.Wrap(h))
	r.POST("/users/:id/purge", func(c *gin.Context) {
		if err := rc.PurgePrefix(c.Request.Context(), "/users/"+c.Param("id")); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.Status(http.StatusNoContent)
	})
	s := serve(t, r)
	paths := []string{"/users/1", "/users/1/posts", "/users/10", "/about"}
	warm := func() {
		t.Helper()
		for _, p := range paths {
			do(t, "GET", s.URL+p)
			wantCache(t, do(t, "GET", s.URL+p), ginadapter.Hit)
		}
	}
	expect := func(what string, want map[string]string) {
		t.Helper()
		for _, p := range paths {
			if got := do(t, "GET", s.URL+p).header.Get("X-Cache"); got != want[p] {
				t.Fatalf("%s: %s is %s, want %s", what, p, got, want[p])
			}
		}
	}
	warm()
	// From a handler: /users/1 and below, not /users/10.
	if res := do(t, "POST", s.URL+"/users/1/purge"); res.status != http.StatusNoContent {
		t.Fatalf("purge: status %d", res.status)
	}
	expect("prefix /users/1", map[string]string{"/users/1": "MISS", "/users/1/posts": "MISS", "/users/10": "HIT", "/about": "HIT"})

	// From another process: its own Manager (of the same prefix, where
	// the responses and their tags are) and driver, the same cache name.
	om := core.New(core.WithPrefix(prefix))
	t.Cleanup(func() { _ = om.Close() })
	other := ginadapter.NewCache(om, time.Minute, ginadapter.WithName(name))
	ctx := conn.With(context.Background(), tg.open(t))
	if err := other.PurgeRoute(ctx, "/users/:id/posts"); err != nil {
		t.Fatal(err)
	}
	settle()
	expect("route /users/:id/posts", map[string]string{"/users/1": "HIT", "/users/1/posts": "MISS", "/users/10": "HIT", "/about": "HIT"})
	if err := other.PurgePrefix(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	settle()
	expect("prefix /", map[string]string{"/users/1": "MISS", "/users/1/posts": "MISS", "/users/10": "MISS", "/about": "MISS"})
	// No driver anywhere: the purge says so.
	if err := other.PurgePrefix(context.Background(), "/"); !errors.Is(err, conn.ErrNoConnection) {
		t.Fatalf("purge without a driver: %v", err)
	}
}

var errNoItem = errors.New("no such item")

// TestJSON: the JSON helper serves a memoized function's value, with the
// request's connection, and maps errors to statuses.
func TestJSON(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		var loads counter
		item := core.Memoize(newManager(t), "items", func(ctx context.Context, id int) (map[string]int, error) {
			loads.inc()
			if id > 10 {
				return nil, &ginadapter.StatusError{Status: http.StatusNotFound, Err: errNoItem}
			}
			return map[string]int{"id": id}, nil
		}, core.WithTTL(time.Minute))
		r := gin.New()
		r.Use(ginadapter.Connection(d))
		r.GET("/items/:id", ginadapter.JSON(item, func(c *gin.Context) (int, error) { return strconv.Atoi(c.Param("id")) }))
		s := serve(t, r)
		for range 3 {
			if res := do(t, "GET", s.URL+"/items/7"); res.status != 200 || res.body != `{"id":7}` {
				t.Fatalf("got %d %q", res.status, res.body)
			}
		}
		if loads.get() != 1 {
			t.Fatalf("loaded %d times", loads.get())
		}
		if _, found, err := item.Peek(conn.With(context.Background(), d), 7); !found || err != nil {
			t.Fatalf("the value is not in the request's Redis: %v %v", found, err)
		}
		if res := do(t, "GET", s.URL+"/items/x"); res.status != http.StatusBadRequest {
			t.Fatalf("bad id: %d", res.status)
		}
		if res := do(t, "GET", s.URL+"/items/11"); res.status != http.StatusNotFound || res.body != `{"error":"no such item"}` {
			t.Fatalf("missing item: %d %q", res.status, res.body)
		}
	})
}
