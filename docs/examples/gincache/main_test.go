package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
	"github.com/redcache/redcache/ginadapter"
)

// Both routes answer the second request from Redis: the same body, the
// remote source asked once.
func TestSecondRequestIsCached(t *testing.T) {
	url := devredis.TestURL(t, "cache:gincache.something:*", "cache:gin.gincache:*", "cache::tag:gin:gincache:*", "cache::tag:gin:gincache.pages:*", "cache:gin.gincache.pages:*")
	d, err := goredis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	gin.SetMode(gin.TestMode)
	gin.DefaultWriter = io.Discard
	remoteDelay = time.Millisecond
	r := router(d)

	for _, path := range []string{"/something/", "/something/page/"} {
		var bodies []string
		var labels []string
		for range 2 {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: status %d: %s", path, rec.Code, rec.Body)
			}
			bodies = append(bodies, rec.Body.String())
			labels = append(labels, rec.Header().Get("X-Cache"))
			time.Sleep(2 * time.Millisecond)
		}
		if bodies[0] != bodies[1] {
			t.Fatalf("%s: the second response differs from the first (not cached):\n%s\n%s", path, bodies[0], bodies[1])
		}
		if path == "/something/page/" && (labels[0] != "MISS" || labels[1] != "HIT") {
			t.Fatalf("%s: X-Cache %v, want MISS then HIT", path, labels)
		}
	}
}

// The catalogue's pages are cached per language and per user, and a purge
// drops them.
func TestPages(t *testing.T) {
	url := devredis.TestURL(t, "cache::tag:gin:gincache.pages:*", "cache:gin.gincache.pages:*")
	d, err := goredis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	gin.SetMode(gin.TestMode)
	gin.DefaultWriter = io.Discard
	r := router(d)
	get := func(method, path string, headers ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	for _, step := range []struct {
		method, path string
		headers      []string
		xcache       string
	}{
		{"GET", "/products/1", []string{"Accept-Language", "fr"}, "MISS"},
		{"GET", "/products/1", []string{"Accept-Language", "fr"}, "HIT"},
		{"GET", "/products/1", []string{"Accept-Language", "de"}, "MISS"},
		{"GET", "/products/1", []string{"Accept-Language", "fr", "Authorization", "Bearer x", "X-Demo-User", "ann"}, "MISS"},
		{"GET", "/products/1", []string{"Accept-Language", "fr", "Authorization", "Bearer x", "X-Demo-User", "ann"}, "HIT"},
		{"GET", "/products/1", []string{"Accept-Language", "fr", "Authorization", "Bearer x"}, "BYPASS"},
		{"POST", "/admin/purge/products", nil, ""},
		{"GET", "/products/1", []string{"Accept-Language", "fr"}, "MISS"},
	} {
		rec := get(step.method, step.path, step.headers...)
		if rec.Code >= 300 || rec.Header().Get("X-Cache") != step.xcache {
			t.Fatalf("%s %s %v: %d, X-Cache %q, want %q", step.method, step.path, step.headers, rec.Code, rec.Header().Get("X-Cache"), step.xcache)
		}
	}
}

var errUnknownTenant = errors.New("unknown tenant")

// Two tenants on two Redis databases: each gets its own cached page.
func TestTenants(t *testing.T) {
	base := devredis.TestURL(t)
	tenants := map[string]conn.Driver{}
	for name, db := range map[string]string{"acme": "/3", "globex": "/4"} {
		devredis.Clean(t, base+db, "cache::tag:gin:gincache.tenants:*", "cache:gin.gincache.tenants:*")
		d, err := goredis.Open(context.Background(), base+db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		tenants[name] = d
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(ginadapter.ConnectionFunc(func(c *gin.Context) (conn.Driver, error) {
		d, ok := tenants[c.GetHeader("X-Tenant")]
		if !ok {
			return nil, errUnknownTenant // 400, unless the function aborted with its own status
		}
		return d, nil
	}))
	r.GET("/home", ginadapter.CacheHandler(core.New(), time.Minute, func(c *gin.Context) {
		c.String(http.StatusOK, "home of %s", c.GetHeader("X-Tenant"))
	}, ginadapter.WithName("gincache.tenants")))
	for _, step := range []struct{ tenant, xcache, body string }{
		{"acme", "MISS", "home of acme"},
		{"globex", "MISS", "home of globex"},
		{"acme", "HIT", "home of acme"},
		{"globex", "HIT", "home of globex"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/home", nil)
		req.Header.Set("X-Tenant", step.tenant)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Body.String() != step.body || rec.Header().Get("X-Cache") != step.xcache {
			t.Fatalf("%s: %q %q, want %q %q", step.tenant, rec.Body, rec.Header().Get("X-Cache"), step.body, step.xcache)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/home", nil)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("no tenant: %d", rec.Code)
	}
}
