package tests_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/memory"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/ginadapter"
)

// A route whose responses are cached for five seconds: the second
// request is served from Redis (here the in-memory driver) without
// running the handler.
func Example() {
	d := memory.New() // goredis.Open(ctx, "redis://localhost:6379") in a real program
	defer d.Close()
	m := core.New()
	defer m.Close()

	r := gin.New()
	r.Use(ginadapter.Connection(d))
	r.GET("/something/", ginadapter.CacheHandler(m, 5*time.Second, func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"data": "something"})
	}))

	for range 2 {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/something/", nil))
		fmt.Println(w.Code, w.Header().Get("X-Cache"), w.Body.String())
	}
	// Output:
	// 200 MISS {"data":"something"}
	// 200 HIT {"data":"something"}
}

// Each tenant's responses stay in the tenant's own Redis: the connection
// is chosen per request, before the cache.
func ExampleConnectionFunc() {
	acme, globex := memory.New(), memory.New()
	defer acme.Close()
	defer globex.Close()
	m := core.New()
	defer m.Close()

	r := gin.New()
	r.Use(ginadapter.ConnectionFunc(func(c *gin.Context) (conn.Driver, error) {
		if c.Request.Host == "globex.example" {
			return globex, nil
		}
		return acme, nil
	}), ginadapter.Cache(m, time.Minute))
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "home of %s", c.Request.Host) })

	for _, host := range []string{"acme.example", "globex.example", "globex.example"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(w.Header().Get("X-Cache"), w.Body.String())
	}
	// Output:
	// MISS home of acme.example
	// MISS home of globex.example
	// HIT home of globex.example
}
