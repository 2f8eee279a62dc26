// Command gincache is the seed's quick start with the ginadapter module:
// GET /something/ serves load_something_from_somewhere, cached in Redis
// for five seconds, and GET /something/page/ caches the whole response of
// a handler for five seconds with the response-cache middleware.
//
//	go run ./docs/examples/gincache       # REDIS_URL=redis://... to use your Redis
//	curl localhost:8080/something/        # slow: loaded from the remote source
//	curl localhost:8080/something/        # fast: the data comes from Redis for 5 s
//	curl -i localhost:8080/something/page/  # X-Cache: MISS, then HIT for 5 s
package main

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
	"github.com/redcache/redcache/ginadapter"
)

// Something is what the remote source returns.
type Something struct {
	LoadedAt time.Time `json:"loaded_at"`
}

// remoteDelay is how long the remote source takes to answer.
var remoteDelay = 500 * time.Millisecond

func loadSomethingFromSomewhere(ctx context.Context) (Something, error) {
	// Load the data... (here: a remote source that takes its time)
	time.Sleep(remoteDelay)
	return Something{LoadedAt: time.Now()}, nil
}

// @default_cache.cache(ttl=5)
var loadSomething = core.Memoize0(core.Default, "gincache.something", loadSomethingFromSomewhere,
	core.WithTTL(5*time.Second))

// getSomething is the original's view, uncached: the page route caches
// its whole response.
func getSomething(c *gin.Context) {
	data, err := loadSomethingFromSomewhere(c.Request.Context())
	if err != nil {
		c.AbortWithStatusJSON(http.StatusBadGateway, gin.H{"error": err.Error()})
		return
	}
	// Do something with the data...
	c.JSON(http.StatusOK, gin.H{"data": data})
}

// page caches whole responses for five seconds.
var page = ginadapter.NewCache(core.Default, 5*time.Second, ginadapter.WithName("gincache"))

// pages caches the responses of the catalogue for a minute. Pages differ
// by language, and a signed-in user's pages are cached for that user
// alone.
var pages = ginadapter.NewCache(core.Default, time.Minute,
	ginadapter.WithName("gincache.pages"),
	ginadapter.WithVary("Accept-Language"),
	ginadapter.WithUser(userOf))

// userOf returns the user a request's session proves (here: a header, to
// keep the example short; use your session middleware's verified user).
func userOf(c *gin.Context) (string, bool) {
	u := c.GetHeader("X-Demo-User")
	return u, u != ""
}

func getProduct(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"id": c.Param("id"), "lang": c.GetHeader("Accept-Language"), "at": time.Now()})
}

// purgeProducts drops every cached page under /products/, in every
// process that uses the same cache.
func purgeProducts(c *gin.Context) {
	if err := pages.PurgePrefix(c.Request.Context(), "/products"); err != nil {
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
		return
	}
	c.Status(http.StatusNoContent)
}

func router(d *goredis.Driver) *gin.Engine {
	r := gin.Default()
	r.Use(ginadapter.Connection(d)) // use_connection()
	r.GET("/something/", ginadapter.JSON0(loadSomething))
	r.GET("/something/page/", page.Wrap(getSomething))

	products := r.Group("/products", pages.Handler())
	products.GET("/:id", getProduct)
	r.POST("/admin/purge/products", purgeProducts)
	return r
}

func main() {
	redisURL, stop, err := devredis.URL() // $REDIS_URL, or an embedded Redis
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	d, err := goredis.Open(context.Background(), redisURL)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	log.Fatal(router(d).Run()) // on $PORT, or :8080
}
