// Command quickstart is the quick start of the README: the gin app of
// ./before, with its slow function cached in Redis for five seconds. The
// app itself is package app, the program that "redcache demo" plays too.
//
//	go run ./docs/examples/quickstart       # REDIS_URL=redis://... to use your Redis
//	curl localhost:8080/something/42        # slow: loaded from the remote source
//	curl localhost:8080/something/42        # fast: served from Redis for 5 s
package main

import (
	"context"
	"log"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/docs/examples/quickstart/app"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// The function, its cached version and the handler are in package app,
// which "redcache demo" plays too: see app/app.go.

func router() *gin.Engine {
	r := gin.Default()
	app.Routes(r)
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
	if err := conn.Use(d); err != nil { // use_connection()
		log.Fatal(err)
	}

	log.Fatal(router().Run()) // on $PORT, or :8080
}
