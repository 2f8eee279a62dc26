// Command quickstart is the quick start of the README: the gin app of
// ./before, with its slow function cached in Redis for five seconds.
//
//	go run ./docs/examples/quickstart       # REDIS_URL=redis://... to use your Redis
//	curl localhost:8080/something/42        # slow: loaded from the remote source
//	curl localhost:8080/something/42        # fast: served from Redis for 5 s
package main

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
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

var loadSomething = core.Memoize(core.Default, "something", loadSomethingFromSomewhere,
	core.WithTTL(5*time.Second))

func getSomething(c *gin.Context) {
	data, err := loadSomething.Get(c.Request.Context(), c.Param("id"))
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
	redisURL, stop, err := devredis.URL() // $REDIS_URL, or an embedded Redis
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	d, err := goredis.Open(redisURL)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	if err := conn.Use(d); err != nil { // use_connection()
		log.Fatal(err)
	}

	log.Fatal(router().Run()) // on $PORT, or :8080
}
