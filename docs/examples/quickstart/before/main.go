// Command before is where the quick start begins: a gin app whose handler
// waits for a slow remote source on every request. The quickstart program
// one folder up is the same app with the function cached in Redis.
//
//	go run ./docs/examples/quickstart/before
//	curl localhost:8080/something/42
package main

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Something is what the remote source returns.
type Something struct {
	ID       string    `json:"id"`
	LoadedAt time.Time `json:"loaded_at"`
}

// remoteDelay is how long the remote source takes to answer.
var remoteDelay = 500 * time.Millisecond

func loadSomethingFromSomewhere(ctx context.Context, id string) (Something, error) {
	// Load the data... (here: a remote source that takes its time)
	time.Sleep(remoteDelay)
	return Something{ID: id, LoadedAt: time.Now()}, nil
}

func getSomething(c *gin.Context) {
	data, err := loadSomethingFromSomewhere(c.Request.Context(), c.Param("id"))
	if err != nil {
		c.AbortWithStatusJSON(http.StatusBadGateway, gin.H{"error": err.Error()})
		return
	}
	// Do something with the data...
	c.JSON(http.StatusOK, gin.H{"data": data})
}

func router() *gin.Engine {
	r := gin.Default()
	r.GET("/something/:id", getSomething)
	return r
}

func main() {
	log.Fatal(router().Run()) // on $PORT, or :8080
}
