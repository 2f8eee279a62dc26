// Command gin is the program of the gin guide (docs/gin.md): memoized
// functions called from gin handlers, with the Redis of each request's
// tenant carried in the request's context.
//
//	go run ./docs/examples/gin
//	curl -H 'X-Tenant: acme' localhost:8080/products/1
//	curl localhost:8080/debug/cache
//
// Each tenant gets an embedded Redis of its own; with REDIS_URL set, both
// use that Redis (databases 1 and 2).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// Product is what the API serves.
type Product struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

var errNoProduct = errors.New("no such product")

// loadProduct stands for a slow query.
func loadProduct(ctx context.Context, id int) (Product, error) {
	if id < 1 || id > 100 {
		return Product{}, errNoProduct
	}
	return Product{ID: id, Name: fmt.Sprint("Product ", id)}, nil
}

var product = core.Memoize(core.Default, "gin.product", loadProduct,
	core.WithTTL(time.Minute),
	core.WithNegativeCaching(10*time.Second, errNoProduct)) // a 404 is cached too

// tenantRedis puts the Redis of the request's tenant in the request's
// context, where every redcache call made for the request finds it.
func tenantRedis(drivers map[string]conn.Driver) gin.HandlerFunc {
	return func(c *gin.Context) {
		d, ok := drivers[c.GetHeader("X-Tenant")]
		if !ok {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "unknown tenant"})
			return
		}
		c.Request = c.Request.WithContext(conn.With(c.Request.Context(), d))
		c.Next()
	}
}

func getProduct(c *gin.Context) {
	id, err := strconv.Atoi(c.Param("id"))
	if err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "bad id"})
		return
	}
	// c.Request.Context(), not c: it carries the tenant's Redis, and it
	// ends when the client goes away.
	p, err := product.Get(c.Request.Context(), id)
	switch {
	case errors.Is(err, errNoProduct):
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": err.Error()})
	case err != nil:
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
	default:
		c.JSON(http.StatusOK, p)
	}
}

func invalidateProduct(c *gin.Context) {
	id, err := strconv.Atoi(c.Param("id"))
	if err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "bad id"})
		return
	}
	if err := product.Invalidate(c.Request.Context(), id); err != nil {
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
		return
	}
	c.Status(http.StatusNoContent)
}

func cacheStats(c *gin.Context) {
	s := core.Default.Stats()
	c.JSON(http.StatusOK, gin.H{
		"hits":         s.Hits,
		"misses":       s.Misses,
		"loads":        s.Loads,
		"redis_errors": s.RedisErrors,
		"breaker":      s.Breaker.String(),
	})
}

func router(drivers map[string]conn.Driver) *gin.Engine {
	r := gin.Default()
	api := r.Group("/", tenantRedis(drivers))
	api.GET("/products/:id", getProduct)
	api.DELETE("/products/:id/cache", invalidateProduct)
	r.GET("/debug/cache", cacheStats)
	return r
}

// openTenants opens a driver for each tenant's Redis URL. close closes
// them all.
func openTenants(urls map[string]string) (drivers map[string]conn.Driver, close func(), err error) {
	drivers = map[string]conn.Driver{}
	close = func() {
		for _, d := range drivers {
			d.Close()
		}
	}
	for tenant, u := range urls {
		d, err := goredis.Open(context.Background(), u)
		if err != nil {
			close()
			return nil, nil, fmt.Errorf("tenant %s: %w", tenant, err)
		}
		drivers[tenant] = d
	}
	return drivers, close, nil
}

func main() {
	urls := map[string]string{}
	for i, tenant := range []string{"acme", "globex"} {
		base, stop, err := devredis.URL() // $REDIS_URL, or an embedded Redis
		if err != nil {
			log.Fatal(err)
		}
		defer stop()
		u, err := url.Parse(base)
		if err != nil {
			log.Fatal(err)
		}
		u.Path = fmt.Sprint("/", i+1) // database 1 for acme, 2 for globex
		urls[tenant] = u.String()
	}
	drivers, closeAll, err := openTenants(urls)
	if err != nil {
		log.Fatal(err)
	}
	defer closeAll()
	log.Fatal(router(drivers).Run()) // on $PORT, or :8080
}
