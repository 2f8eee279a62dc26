package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

func setup(t *testing.T) *gin.Engine {
	t.Helper()
	gin.SetMode(gin.TestMode)
	gin.DefaultWriter = io.Discard
	addr := conntest.RedisAddr(t)
	urls := map[string]string{"acme": "redis://" + addr + "/1", "globex": "redis://" + addr + "/2"}
	for _, u := range urls {
		devredis.Clean(t, u, "cache:gin.product:*")
	}
	drivers, closeAll, err := openTenants(urls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeAll)
	return router(drivers)
}

func do(t *testing.T, r http.Handler, method, path, tenant string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if tenant != "" {
		req.Header.Set("X-Tenant", tenant)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

func TestTenants(t *testing.T) {
	r := setup(t)
	loads := func() uint64 { return core.Default.Stats().Loads }
	start := loads()

	for _, step := range []struct {
		method, path, tenant string
		code                 int
		body                 string
		loads                uint64 // since the start
	}{
		{"GET", "/products/1", "acme", 200, `{"id":1,"name":"Product 1"}`, 1},
		{"GET", "/products/1", "acme", 200, `{"id":1,"name":"Product 1"}`, 1},   // a hit
		{"GET", "/products/1", "globex", 200, `{"id":1,"name":"Product 1"}`, 2}, // another Redis: a miss
		{"GET", "/products/404", "acme", 404, `{"error":"no such product"}`, 3},
		{"GET", "/products/404", "acme", 404, `{"error":"no such product"}`, 3}, // a cached 404
		{"GET", "/products/1", "", 400, `{"error":"unknown tenant"}`, 3},
		{"GET", "/products/x", "acme", 400, `{"error":"bad id"}`, 3},
		{"DELETE", "/products/1/cache", "acme", 204, ``, 3},
		{"GET", "/products/1", "acme", 200, `{"id":1,"name":"Product 1"}`, 4},   // invalidated: a miss
		{"GET", "/products/1", "globex", 200, `{"id":1,"name":"Product 1"}`, 4}, // untouched
	} {
		code, body := do(t, r, step.method, step.path, step.tenant)
		if code != step.code || body != step.body {
			t.Fatalf("%s %s (%s) = %d %s; want %d %s", step.method, step.path, step.tenant, code, body, step.code, step.body)
		}
		if got := loads() - start; got != step.loads {
			t.Fatalf("%s %s (%s): %d loads so far, want %d", step.method, step.path, step.tenant, got, step.loads)
		}
	}

	code, body := do(t, r, "GET", "/debug/cache", "")
	if code != 200 || !strings.Contains(body, `"breaker":"closed"`) {
		t.Fatalf("/debug/cache = %d %s", code, body)
	}
}

// Why the handlers pass c.Request.Context(): a *gin.Context is a
// context.Context, but unless the engine sets ContextWithFallback it does
// not see the values of the request's context, so a call given c would
// not find the tenant's Redis.
func TestGinContextIsNotTheRequestContext(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, fallback := range []bool{false, true} {
		r := gin.New()
		r.ContextWithFallback = fallback
		var fromC, fromRequest conn.Driver
		r.GET("/", func(c *gin.Context) {
			c.Request = c.Request.WithContext(conn.With(c.Request.Context(), fakeDriver{}))
			fromC, fromRequest = conn.From(c), conn.From(c.Request.Context())
		})
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		if fromRequest == nil {
			t.Errorf("ContextWithFallback=%v: conn.From(c.Request.Context()) = nil", fallback)
		}
		if (fromC != nil) != fallback {
			t.Errorf("ContextWithFallback=%v: conn.From(c) = %v", fallback, fromC)
		}
	}
}

type fakeDriver struct{ conn.Driver }
