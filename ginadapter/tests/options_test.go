package tests_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/ginadapter"
)

// outcomes is an observer that counts what core found.
type outcomes struct {
	core.NopObserver
	hits, misses atomic.Int64
}

func (o *outcomes) GetEnd(_ context.Context, _ core.Call, out core.Outcome, _ error) {
	switch out {
	case core.OutcomeHit:
		o.hits.Add(1)
	case core.OutcomeMiss:
		o.misses.Add(1)
	}
}

// TestOptions: chosen statuses are cached, the handler's own ETag is
// kept, and the user's observer hears the calls next to the cache's own.
func TestOptions(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		obs := new(outcomes)
		r, _ := app(t, d, ginadapter.WithStatuses(http.StatusOK, http.StatusNotFound), ginadapter.WithObserver(obs))
		var runs counter
		r.GET("/missing", func(c *gin.Context) { runs.inc(); c.String(http.StatusNotFound, "gone") })
		r.GET("/tagged", func(c *gin.Context) { runs.inc(); c.Header("ETag", `"v7"`); c.String(http.StatusOK, "seven") })
		r.GET("/created", func(c *gin.Context) { runs.inc(); c.String(http.StatusCreated, "new") })
		s := serve(t, r)

		wantCache(t, do(t, "GET", s.URL+"/missing"), ginadapter.Miss)
		if res := do(t, "GET", s.URL+"/missing"); res.status != http.StatusNotFound || res.header.Get("X-Cache") != ginadapter.Hit {
			t.Fatalf("a 404 chosen for caching: %d %s", res.status, res.header.Get("X-Cache"))
		}
		first := do(t, "GET", s.URL+"/tagged")
		hit := do(t, "GET", s.URL+"/tagged", "If-None-Match", `"v7"`)
		if first.header.Get("ETag") != `"v7"` || hit.status != http.StatusNotModified {
			t.Fatalf("handler's ETag: %q, then %d", first.header.Get("ETag"), hit.status)
		}
		wantCache(t, do(t, "GET", s.URL+"/created"), ginadapter.Miss)
		wantCache(t, do(t, "GET", s.URL+"/created"), ginadapter.Miss) // 201 was not chosen
		if runs.get() != 4 {
			t.Fatalf("handlers ran %d times, want 4", runs.get())
		}
		if obs.hits.Load() != 2 || obs.misses.Load() != 4 {
			t.Fatalf("observer heard %d hits and %d misses, want 2 and 4", obs.hits.Load(), obs.misses.Load())
		}
	})
}

// TestWithDriverForPurges: a cache given a driver purges it whatever the
// context carries.
func TestWithDriverForPurges(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		rc := ginadapter.NewCache(newManager(t, core.WithDriver(d)), time.Minute, ginadapter.WithName(unique(t)),
			ginadapter.WithDriver(d), ginadapter.WithTimeout(5*time.Second))
		r := gin.New()
		r.GET("/p", rc.Wrap(func(c *gin.Context) { c.String(http.StatusOK, "p") }))
		s := serve(t, r)
		wantCache(t, do(t, "GET", s.URL+"/p"), ginadapter.Miss)
		wantCache(t, do(t, "GET", s.URL+"/p"), ginadapter.Hit)
		if err := rc.PurgeRoute(context.Background(), "/p"); err != nil {
			t.Fatal(err)
		}
		wantCache(t, do(t, "GET", s.URL+"/p"), ginadapter.Miss)
	})
}
