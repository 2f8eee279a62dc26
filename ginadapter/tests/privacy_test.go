package tests_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/ginadapter"
)

// tokens stands for a session store: the token a client sends, and the
// user it proves.
var tokens = map[string]string{"Bearer t-alice": "alice", "Bearer t-bob": "bob"}

func userOf(c *gin.Context) (string, bool) {
	u, ok := tokens[c.GetHeader("Authorization")]
	return u, ok
}

// profile is a page that differs per user, and sets a cookie.
func profile(runs *counter) gin.HandlerFunc {
	return func(c *gin.Context) {
		runs.inc()
		u, ok := userOf(c)
		if !ok {
			c.String(http.StatusOK, "public page")
			return
		}
		c.SetCookie("seen", u, 60, "/", "", false, true)
		c.String(http.StatusOK, "private page of %s", u)
	}
}

// TestTwoUsers: under concurrency, neither user ever gets the other's
// page, with private caching allowed (keyed per user) and without it.
func TestTwoUsers(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		for _, allowed := range []bool{true, false} {
			t.Run(fmt.Sprintf("allowed=%v", allowed), func(t *testing.T) {
				var opts []ginadapter.Option
				if allowed {
					opts = append(opts, ginadapter.WithUser(userOf))
				}
				r, _ := app(t, d, opts...)
				var runs counter
				r.GET("/me", profile(&runs))
				s := serve(t, r)

				who := []string{"alice", "bob", ""}
				var wg sync.WaitGroup
				var mu sync.Mutex
				labels := map[string]map[string]int{}
				for i := range 60 {
					u := who[i%3]
					spawn(&wg, func() {
						var hdr []string
						want := "public page"
						if u != "" {
							hdr = []string{"Authorization", "Bearer t-" + u}
							want = "private page of " + u
						}
						res, err := send("GET", s.URL+"/me", hdr...)
						if err != nil {
							t.Error(err)
							return
						}
						if res.body != want {
							t.Errorf("user %q got %q", u, res.body)
						}
						if x := res.header.Get("X-Cache"); x == ginadapter.Hit && res.header.Get("Set-Cookie") != "" {
							t.Errorf("user %q: a cookie was replayed from the cache", u)
						}
						mu.Lock()
						if labels[u] == nil {
							labels[u] = map[string]int{}
						}
						labels[u][res.header.Get("X-Cache")]++
						mu.Unlock()
					})
				}
				wg.Wait()
				for _, u := range []string{"alice", "bob"} {
					switch {
					case allowed && labels[u][ginadapter.Hit] == 0:
						t.Errorf("%s: no hit with private caching allowed: %v", u, labels[u])
					case !allowed && labels[u][ginadapter.Bypass] != 20:
						t.Errorf("%s: %v, want 20 BYPASS", u, labels[u])
					}
				}
				if labels[""][ginadapter.Hit] == 0 {
					t.Errorf("anonymous: no hit: %v", labels[""])
				}
				// A user's own fresh response carries its cookie.
				if allowed {
					return
				}
				res := do(t, "GET", s.URL+"/me", "Authorization", "Bearer t-alice")
				if !strings.Contains(res.header.Get("Set-Cookie"), "seen=alice") {
					t.Errorf("bypassed response lost its cookie: %v", res.header)
				}
			})
		}
	})
}

// TestCookieRequests: a request with a Cookie bypasses the cache unless
// a user function is given, and an unknown user bypasses it too.
func TestCookieRequests(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		r, _ := app(t, d, ginadapter.WithUser(func(c *gin.Context) (string, bool) {
			v, err := c.Cookie("session")
			return v, err == nil && v != "forged"
		}))
		var runs counter
		r.GET("/c", func(c *gin.Context) {
			runs.inc()
			v, _ := c.Cookie("session")
			c.String(http.StatusOK, "for %q", v)
		})
		s := serve(t, r)
		wantCache(t, do(t, "GET", s.URL+"/c", "Cookie", "session=u1"), ginadapter.Miss)
		hit := do(t, "GET", s.URL+"/c", "Cookie", "session=u1")
		wantCache(t, hit, ginadapter.Hit)
		other := do(t, "GET", s.URL+"/c", "Cookie", "session=u2")
		wantCache(t, other, ginadapter.Miss)
		if hit.body != `for "u1"` || other.body != `for "u2"` {
			t.Fatalf("bodies %q and %q", hit.body, other.body)
		}
		forged := do(t, "GET", s.URL+"/c", "Cookie", "session=forged")
		wantCache(t, forged, ginadapter.Bypass)
		anon := do(t, "GET", s.URL+"/c")
		wantCache(t, anon, ginadapter.Miss)
		if anon.body != `for ""` {
			t.Fatalf("anonymous got %q", anon.body)
		}
	})
}
