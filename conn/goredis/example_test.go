package goredis_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"os"
	"syscall"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redis/go-redis/v9"
)

// The examples need a Redis server, so they are compiled but not run.

func Example() {
	d, err := goredis.Open(context.Background(), "redis://localhost:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	if err := conn.Use(d); err != nil { // make it redcache's connection
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := d.Set(ctx, "greeting", []byte("hello"), time.Minute); err != nil {
		log.Fatal(err)
	}
	v, err := d.Get(ctx, "greeting")
	switch {
	case errors.Is(err, conn.ErrMiss):
		fmt.Println("not cached")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Printf("%s\n", v)
	}
}

func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true,                        // needed for contexts to bound every call
		Dialer:                goredis.FailFastDialer(nil), // a refused connection fails at once
	})
	defer rdb.Close() // the client stays ours: the driver does not close it

	d := goredis.New(rdb)
	defer d.Close()
	_ = conn.Use(d)
}

func ExampleOpen_cluster() {
	// A few nodes are enough: go-redis discovers the rest.
	d, err := goredis.Open(context.Background(), "redis+cluster://10.0.0.1:7000,10.0.0.2:7000?read_timeout=500ms")
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// MGet works across hash slots; the driver splits it per slot.
	vals, err := d.MGet(context.Background(), "user:1", "user:2", "user:3")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(vals))
}

func ExampleOpen_sentinel() {
	// The sentinels, and the name of the primary they watch. The password
	// in the query is the primary's; one before the hosts would be the
	// sentinels'.
	d, err := goredis.Open(context.Background(), "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/0?master_name=mymaster&password=s3cret")
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
}

func ExampleDriver_ForEachNode() {
	d, err := goredis.Open(context.Background(), "redis+cluster://10.0.0.1:7000")
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// Count the keys of the whole cluster, one primary at a time.
	var total int64
	err = d.ForEachNode(context.Background(), func(ctx context.Context, node conn.Driver) error {
		n, err := node.Do(ctx, "DBSIZE")
		if err != nil {
			return err
		}
		total += n.(int64)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(total)
}

func ExampleFailFastDialer() {
	// Keep go-redis's own dialer (TLS, keep-alives) and make refusals fail
	// at once: wrap it.
	opt := &redis.Options{
		Addr:                  "cache.example.com:6380",
		TLSConfig:             &tls.Config{ServerName: "cache.example.com"},
		ContextTimeoutEnabled: true,
	}
	opt.Dialer = goredis.FailFastDialer(redis.NewDialer(opt))
	d := goredis.New(redis.NewClient(opt), goredis.WithOwnedClient())
	defer d.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := d.Get(ctx, "k")
	if errors.Is(err, syscall.ECONNREFUSED) {
		fmt.Println("Redis is down") // known within milliseconds, not at the deadline
	}
}

func ExampleWithSubscriptionCheck() {
	// Invalidations matter: notice a silent connection within 1.5 s.
	d, err := goredis.Open(context.Background(), "redis://localhost:6379",
		goredis.WithSubscriptionCheck(time.Second, 500*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	ctx := context.Background()
	sub, err := d.Subscribe(ctx, "invalidations")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	for {
		m, err := sub.Receive(ctx)
		if errors.Is(err, conn.ErrSubscriptionLost) {
			// Messages may have been missed: drop what they guard, then
			// subscribe again.
			return
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\n", m.Payload)
	}
}

func ExampleDriver_NodeOf() {
	d, err := goredis.Open(context.Background(), "redis+cluster://10.0.0.1:7000")
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	// After the first command, NodeOf names the primary that serves a key,
	// from the slot map in memory: keep per-node state by it.
	_, _ = d.Get(context.Background(), "user:1")
	fmt.Println(d.NodeOf("user:1"))
}

// Trust the private certificate authority that signed the server's
// certificate, for a rediss:// URL. The option has the same name in the
// other driver.
func ExampleWithTLSConfig() {
	pem, err := os.ReadFile("/etc/redis/ca.crt")
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		log.Fatal("no certificate in ca.crt")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := goredis.Open(ctx, "rediss://app:secret@cache.internal:6380",
		goredis.WithTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}))
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
}

// An empty URL, most often an environment variable that was not set, is
// refused as a bad URL, as any URL Open cannot use, whichever driver.
func ExampleOpen_emptyURL() {
	_, err := goredis.Open(context.Background(), os.Getenv("REDCACHE_EXAMPLE_UNSET_URL"))
	fmt.Println(errors.Is(err, conn.ErrBadURL))
	fmt.Println(err)
	// Output:
	// true
	// redcache/goredis: bad url: the URL is empty (is REDIS_URL set?)
}

// Auto-pipelining is on by default: concurrent calls share round trips.
// A client whose hooks must see every command on its caller's context
// turns it off.
func ExampleWithAutoPipeline() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true,
		Dialer:                goredis.FailFastDialer(nil),
	})
	defer rdb.Close()
	// rdb.AddHook(perCommandTracing{}) // a hook that reads each caller's context

	d := goredis.New(rdb, goredis.WithAutoPipeline(false))
	defer d.Close()
	_ = conn.Use(d)
}
