package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/examples/quickstart/app"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// The second request is served from Redis: same body, one load.
func TestSecondRequestIsCached(t *testing.T) {
	url := devredis.TestURL(t, "cache:something:*")
	d, err := goredis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := conn.Use(d); err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	gin.DefaultWriter = io.Discard
	app.SetRemoteDelay(time.Millisecond)
	r := router()

	before := core.Default.Stats()
	var bodies []string
	for i := 0; i < 2; i++ {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/something/42", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		bodies = append(bodies, rec.Body.String())
		time.Sleep(2 * time.Millisecond)
	}
	if bodies[0] != bodies[1] {
		t.Fatalf("the second response differs from the first (not cached):\n%s\n%s", bodies[0], bodies[1])
	}
	after := core.Default.Stats()
	if loads, hits := after.Loads-before.Loads, after.Hits-before.Hits; loads != 1 || hits != 1 {
		t.Fatalf("loads %d, hits %d; want 1 and 1", loads, hits)
	}

	// What is in Redis: the entry, with the 5 s TTL.
	key, err := app.LoadSomething().Key("42")
	if err != nil {
		t.Fatal(err)
	}
	if key != "cache:something:s2:42" {
		t.Fatalf("key = %q", key)
	}
	pttl, err := d.Do(context.Background(), "PTTL", key)
	if err != nil {
		t.Fatal(err)
	}
	if ms := pttl.(int64); ms <= 0 || ms > 5000 {
		t.Fatalf("PTTL = %d ms, want (0, 5000]", ms)
	}
}
