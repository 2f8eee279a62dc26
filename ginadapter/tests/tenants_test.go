package tests_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/ginadapter"
)

// TestTwoTenants: two tenants on two Redis servers ask for the same path
// at the same time; each gets its own response, kept in its own Redis.
func TestTwoTenants(t *testing.T) {
	for _, drv := range drivers {
		t.Run(drv.name, func(t *testing.T) {
			own := conntest.StartRedis(t)
			tenants := map[string]conn.Driver{
				"acme":   drv.open(t, "redis://"+conntest.RedisAddr(t)),
				"globex": drv.open(t, "redis://"+own.Addr()),
			}
			var runs counter
			rc := ginadapter.NewCache(newManager(t), 60e9, ginadapter.WithName(unique(t)), ginadapter.WithTimeout(5e9))
			r := gin.New()
			r.Use(ginadapter.ConnectionFunc(func(c *gin.Context) (conn.Driver, error) {
				d, ok := tenants[c.GetHeader("X-Tenant")]
				if !ok {
					return nil, errors.New("unknown tenant")
				}
				return d, nil
			}), rc.Handler())
			r.GET("/dashboard", func(c *gin.Context) {
				runs.inc()
				c.String(http.StatusOK, "dashboard of %s", c.GetHeader("X-Tenant"))
			})
			s := serve(t, r)

			var wg sync.WaitGroup
			for i := range 40 {
				tenant := []string{"acme", "globex"}[i%2]
				spawn(&wg, func() {
					res, err := send("GET", s.URL+"/dashboard", "X-Tenant", tenant)
					if err != nil {
						t.Error(err)
						return
					}
					if want := "dashboard of " + tenant; res.body != want {
						t.Errorf("tenant %s got %q", tenant, res.body)
					}
				})
			}
			wg.Wait()
			if runs.get() < 2 {
				t.Fatalf("handler ran %d times for two tenants", runs.get())
			}
			for tenant := range tenants {
				res := do(t, "GET", s.URL+"/dashboard", "X-Tenant", tenant)
				wantCache(t, res, ginadapter.Hit)
				if res.body != "dashboard of "+tenant {
					t.Fatalf("tenant %s: %q", tenant, res.body)
				}
			}
			if n, err := own.Do("DBSIZE"); err != nil || n == "0" {
				t.Fatalf("the second tenant's Redis holds %s keys (%v)", n, err)
			}
			if res := do(t, "GET", s.URL+"/dashboard", "X-Tenant", "initech"); res.status != http.StatusBadRequest {
				t.Fatalf("unknown tenant: status %d", res.status)
			}
		})
	}
}

// TestRedisDown: with its Redis gone, the handler runs, its response is
// served, and it says X-Cache: BYPASS.
func TestRedisDown(t *testing.T) {
	for _, drv := range drivers {
		t.Run(drv.name, func(t *testing.T) {
			p := conntest.StartRedis(t)
			d := drv.open(t, "redis://"+p.Addr())
			var reported []error
			var mu sync.Mutex
			report := func(err error) {
				mu.Lock()
				reported = append(reported, err)
				mu.Unlock()
			}
			// The trouble is told to the cache's handler (the purge
			// generations could not be read) or to the Manager's (the
			// lookup or the write failed), depending on which step met it.
			m := newManager(t, core.WithErrorHandler(func(_ context.Context, err *core.Error) { report(err) }))
			rc := ginadapter.NewCache(m, time.Minute, ginadapter.WithName(unique(t)), ginadapter.WithTimeout(5*time.Second),
				ginadapter.WithErrorHandler(func(_ *gin.Context, err error) { report(err) }))
			r := gin.New()
			r.Use(ginadapter.Connection(d), rc.Handler())
			var runs counter
			r.GET("/p", func(c *gin.Context) { c.String(http.StatusOK, "run %d", runs.inc()) })
			s := serve(t, r)
			wantCache(t, do(t, "GET", s.URL+"/p"), ginadapter.Miss)
			wantCache(t, do(t, "GET", s.URL+"/p"), ginadapter.Hit)
			p.Kill()
			for i := range 3 {
				res := do(t, "GET", s.URL+"/p")
				wantCache(t, res, ginadapter.Bypass)
				if want := fmt.Sprintf("run %d", i+2); res.status != http.StatusOK || res.body != want {
					t.Fatalf("Redis down: %d %q, want 200 %q", res.status, res.body, want)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(reported) == 0 {
				t.Fatal("the bypasses were not reported")
			}
		})
	}
}

// TestManagerDriver: a Manager with a driver of its own (core.WithDriver)
// and no driver in the request's context nor on the connection stack:
// the cache stores, serves and purges its responses in the Manager's
// Redis, with no ginadapter.WithDriver.
func TestManagerDriver(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		m := newManager(t, core.WithDriver(d))
		rc := ginadapter.NewCache(m, time.Minute, ginadapter.WithName(unique(t)), ginadapter.WithTimeout(5*time.Second))
		r := gin.New()
		var runs counter
		r.GET("/a/:id", rc.Wrap(func(c *gin.Context) { c.String(http.StatusOK, "run %d", runs.inc()) }))
		s := serve(t, r)
		wantCache(t, do(t, "GET", s.URL+"/a/1"), ginadapter.Miss)
		if res := do(t, "GET", s.URL+"/a/1"); res.header.Get("X-Cache") != ginadapter.Hit || res.body != "run 1" {
			t.Fatalf("second GET: %s %q, want HIT \"run 1\"", res.header.Get("X-Cache"), res.body)
		}
		if err := rc.PurgePrefix(context.Background(), "/a"); err != nil {
			t.Fatalf("PurgePrefix with the Manager's driver: %v", err)
		}
		if res := do(t, "GET", s.URL+"/a/1"); res.header.Get("X-Cache") != ginadapter.Miss || res.body != "run 2" {
			t.Fatalf("after the purge: %s %q, want MISS \"run 2\"", res.header.Get("X-Cache"), res.body)
		}
		wantCache(t, do(t, "GET", s.URL+"/a/1"), ginadapter.Hit)
		if err := rc.PurgeRoute(context.Background(), "/a/:id"); err != nil {
			t.Fatalf("PurgeRoute with the Manager's driver: %v", err)
		}
		wantCache(t, do(t, "GET", s.URL+"/a/1"), ginadapter.Miss)
	})
}
