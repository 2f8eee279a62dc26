package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// Without a cache, every request goes to the remote source.
func TestEveryRequestLoads(t *testing.T) {
	gin.SetMode(gin.TestMode)
	gin.DefaultWriter = io.Discard
	remoteDelay = time.Millisecond
	r := router()

	var seen []time.Time
	for i := 0; i < 2; i++ {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/something/42", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var body struct{ Data Something }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if body.Data.ID != "42" {
			t.Fatalf("id = %q", body.Data.ID)
		}
		seen = append(seen, body.Data.LoadedAt)
		time.Sleep(2 * time.Millisecond)
	}
	if seen[0].Equal(seen[1]) {
		t.Fatal("both requests got the same load; want two loads without a cache")
	}
}
