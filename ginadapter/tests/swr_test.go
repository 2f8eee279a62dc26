package tests_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/ginadapter"
)

// TestNoBackgroundHandler: a stale-while-revalidate window given through
// WithCoreOptions is not honoured: its background reload would run a
// request's handler after the request ended, on a gin.Context that gin
// has put back in its pool. A response past its ttl is a miss.
func TestNoBackgroundHandler(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		rc := ginadapter.NewCache(newManager(t), 300*time.Millisecond, ginadapter.WithName(unique(t)),
			ginadapter.WithTimeout(5*time.Second), ginadapter.WithCoreOptions(core.WithStaleWhileRevalidate(time.Minute)))
		r := gin.New()
		r.Use(ginadapter.Connection(d), rc.Handler())
		var runs counter
		r.GET("/p", func(c *gin.Context) { c.String(http.StatusOK, "run %d", runs.inc()) })
		s := serve(t, r)
		wantCache(t, do(t, "GET", s.URL+"/p"), ginadapter.Miss)
		time.Sleep(500 * time.Millisecond) // past the ttl
		res := do(t, "GET", s.URL+"/p")
		wantCache(t, res, ginadapter.Miss)
		if res.body != "run 2" {
			t.Fatalf("past the ttl: %q, want the handler's second run", res.body)
		}
		time.Sleep(200 * time.Millisecond)
		if n := runs.get(); n != 2 {
			t.Fatalf("handler ran %d times, want 2 (a background run)", n)
		}
	})
}
