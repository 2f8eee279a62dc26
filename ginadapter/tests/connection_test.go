package tests_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/ginadapter"
)

// TestConnectionFuncTypedNil: a chooser that returns a nil pointer of a
// driver type (a non-nil conn.Driver holding nil) gets what an untyped
// nil gets: 400 Bad Request and ErrNoDriver, the handler not run, and
// no panic from conn.With.
func TestConnectionFuncTypedNil(t *testing.T) {
	typedNils := []struct {
		name string
		d    func() conn.Driver
	}{
		{"untyped", func() conn.Driver { return nil }},
		{"goredis", func() conn.Driver { var d *goredis.Driver; return d }},
		{"radix", func() conn.Driver { var d *radix.Driver; return d }},
	}
	for _, tt := range typedNils {
		t.Run(tt.name, func(t *testing.T) {
			var recorded []error
			r := gin.New()
			r.Use(func(c *gin.Context) {
				c.Next()
				for _, e := range c.Errors {
					recorded = append(recorded, e.Err)
				}
			}, ginadapter.ConnectionFunc(func(*gin.Context) (conn.Driver, error) { return tt.d(), nil }))
			var runs counter
			r.GET("/p", func(c *gin.Context) { runs.inc(); c.String(http.StatusOK, "ran") })
			s := serve(t, r)
			res, err := send("GET", s.URL+"/p")
			if err != nil {
				t.Fatalf("GET /p: %v (did the middleware panic?)", err)
			}
			if res.status != http.StatusBadRequest || runs.get() != 0 {
				t.Fatalf("status %d, handler ran %d times; want 400 and none", res.status, runs.get())
			}
			if len(recorded) != 1 || !errors.Is(recorded[0], ginadapter.ErrNoDriver) {
				t.Fatalf("c.Errors = %v; want ErrNoDriver", recorded)
			}
		})
	}
}
