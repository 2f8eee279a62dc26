// Package app is the application of the README's quick start: a function
// that loads data from a slow remote source, cached in Redis for five
// seconds with core.Memoize, behind a gin handler.
//
// It is one program shown three ways: the README quotes it, the quickstart
// command (the folder above) serves it on :8080, and "redcache demo" plays
// it request by request. The function, its name, the codec (core.Default's
// Gob) and the key (cache:something:s2:42 for the id "42") are the same in
// all three because they are this code.
//
// The memoized function runs on [core.Default], which resolves its
// connection on every call: give it one with conn.Use before serving.
package app

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/core"
)

// Something is what the remote source returns.
type Something struct {
	ID       string    `json:"id"`
	LoadedAt time.Time `json:"loaded_at"`
}

// remoteDelay is how long the remote source takes to answer.
var remoteDelay = 500 * time.Millisecond

// SetRemoteDelay sets how long the remote source takes to answer (500 ms
// by default). Call it before serving: the handler reads it unguarded.
func SetRemoteDelay(d time.Duration) { remoteDelay = d }

func loadSomethingFromSomewhere(ctx context.Context, id string) (Something, error) {
	// Load the data... (here: a remote source that takes its time)
	time.Sleep(remoteDelay)
	return Something{ID: id, LoadedAt: time.Now()}, nil
}

var loadSomething = core.Memoize(core.Default, "something", loadSomethingFromSomewhere,
	core.WithTTL(5*time.Second))

// LoadSomething returns the memoized function, for a caller that shows its
// key or clears it (the demo does both).
func LoadSomething() *core.Memo[string, Something] { return loadSomething }

func getSomething(c *gin.Context) {
	data, err := loadSomething.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		c.AbortWithStatusJSON(http.StatusBadGateway, gin.H{"error": err.Error()})
		return
	}
	// Do something with the data...
	c.JSON(http.StatusOK, gin.H{"data": data})
}

// Routes registers the app's handler on r: GET /something/:id.
func Routes(r gin.IRoutes) {
	r.GET("/something/:id", getSomething)
}
