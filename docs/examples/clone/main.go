// Command clone is the program of the README's "Use it from a clone": a
// slow function cached in Redis for a minute, called twice. The README
// quotes it from "package main" on; tools/test.sh runs that quote from a
// scratch module next to a clone, and main_test.go runs this copy.
//
//	go run ./docs/examples/clone    # REDIS_URL=redis://... for another Redis than localhost's
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
)

// slowSquare stands for a call that takes its time: a database, a remote API.
func slowSquare(ctx context.Context, n int) (int, error) {
	time.Sleep(200 * time.Millisecond)
	return n * n, nil
}

var square = core.Memoize(core.Default, "myapp.square", slowSquare, core.WithTTL(time.Minute))

func main() {
	ctx := context.Background()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://localhost:6379/0"
	}
	d, err := goredis.Open(ctx, url)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	if err := conn.Use(d); err != nil {
		log.Fatal(err)
	}

	for range 2 {
		start := time.Now()
		v, err := square.Get(ctx, 12)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("square(12) = %d in %v\n", v, time.Since(start).Round(time.Millisecond))
	}
}
