package tests_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/ginadapter"
)

// TestGzipEitherOrder: a gzip middleware before or after the cache, and
// clients with and without Accept-Encoding, in every order: each client
// gets the page in a coding it accepts, and the cache serves hits.
func TestGzipEitherOrder(t *testing.T) {
	page := strings.Repeat("compress me ", 200)
	orders := []struct {
		name  string
		build func(rc *ginadapter.ResponseCache) []gin.HandlerFunc
	}{
		{"gzip-before-cache", func(rc *ginadapter.ResponseCache) []gin.HandlerFunc {
			return []gin.HandlerFunc{gzipMiddleware(), rc.Handler()}
		}},
		{"gzip-after-cache", func(rc *ginadapter.ResponseCache) []gin.HandlerFunc {
			return []gin.HandlerFunc{rc.Handler(), gzipMiddleware()}
		}},
	}
	sequences := map[string][]bool{ // true: the client accepts gzip
		"gzip-first":  {true, false, true, false},
		"plain-first": {false, true, false, true},
	}
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		for _, o := range orders {
			for seqName, seq := range sequences {
				t.Run(o.name+"/"+seqName, func(t *testing.T) {
					rc := ginadapter.NewCache(newManager(t), time.Minute, ginadapter.WithName(unique(t)), ginadapter.WithTimeout(5*time.Second))
					r := gin.New()
					r.Use(ginadapter.Connection(d))
					r.Use(o.build(rc)...)
					var runs counter
					r.GET("/page", func(c *gin.Context) {
						runs.inc()
						c.String(http.StatusOK, page)
					})
					s := serve(t, r)
					for i, gz := range seq {
						var hdr []string
						if gz {
							hdr = []string{"Accept-Encoding", "gzip"}
						}
						res := do(t, "GET", s.URL+"/page", hdr...)
						enc := res.header.Get("Content-Encoding")
						body := res.body
						switch {
						case gz && enc != "gzip":
							t.Fatalf("call %d: a gzip client got Content-Encoding %q", i, enc)
						case !gz && enc != "":
							t.Fatalf("call %d: a plain client got Content-Encoding %q", i, enc)
						case gz:
							body = gunzip(t, body)
						}
						if body != page {
							t.Fatalf("call %d (gzip %v): wrong body of %d bytes", i, gz, len(body))
						}
						if i >= 2 {
							wantCache(t, res, ginadapter.Hit)
						}
						if strings.Count(res.header.Get("Vary"), "Accept-Encoding") > 1 {
							t.Fatalf("call %d: Vary %q repeats Accept-Encoding", i, res.header.Get("Vary"))
						}
					}
				})
			}
		}
	})
}

// TestHeadersReplayed: headers an outer middleware sets are not doubled
// on a hit, hop-by-hop headers and cookies are not replayed, declared Vary
// headers split the key.
func TestHeadersReplayed(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		rc := ginadapter.NewCache(newManager(t), time.Minute, ginadapter.WithName(unique(t)),
			ginadapter.WithTimeout(5*time.Second), ginadapter.WithVary("Accept-Language"))
		r := gin.New()
		r.Use(ginadapter.Connection(d), func(c *gin.Context) {
			c.Writer.Header().Add("Access-Control-Allow-Origin", "*") // a CORS middleware
			c.Next()
		}, rc.Handler())
		var runs counter
		r.GET("/h", func(c *gin.Context) {
			runs.inc()
			c.Header("Connection", "X-Hop")
			c.Header("X-Hop", "1")
			c.Header("Keep-Alive", "timeout=5")
			c.Header("X-Kept", "yes")
			c.Header("Vary", "Accept-Language")
			c.String(http.StatusOK, "lang=%s", c.GetHeader("Accept-Language"))
		})
		s := serve(t, r)
		wantCache(t, do(t, "GET", s.URL+"/h", "Accept-Language", "fr"), ginadapter.Miss)
		hit := do(t, "GET", s.URL+"/h", "Accept-Language", "fr")
		wantCache(t, hit, ginadapter.Hit)
		if n := len(hit.header.Values("Access-Control-Allow-Origin")); n != 1 {
			t.Fatalf("CORS header %d times on a hit", n)
		}
		if hit.header.Get("X-Hop") != "" || hit.header.Get("Keep-Alive") != "" || hit.header.Get("X-Kept") != "yes" {
			t.Fatalf("hit headers: %v", hit.header)
		}
		de := do(t, "GET", s.URL+"/h", "Accept-Language", "de")
		wantCache(t, de, ginadapter.Miss)
		if de.body != "lang=de" || hit.body != "lang=fr" {
			t.Fatalf("bodies %q %q", hit.body, de.body)
		}
	})
}
