package radix_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/radix"
)

// Open a driver from a URL and make it the process-wide connection.
func Example() {
	ctx := context.Background()
	d, err := radix.Open(ctx, "redis://localhost:6379/0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	if err := conn.Use(d); err != nil {
		fmt.Println(err)
		return
	}

	if err := d.Set(ctx, "greeting", []byte("hello"), time.Minute); err != nil {
		fmt.Println(err)
		return
	}
	v, err := d.Get(ctx, "greeting")
	switch {
	case errors.Is(err, conn.ErrMiss):
		fmt.Println("not cached")
	case err != nil:
		fmt.Println("redis trouble:", err)
	default:
		fmt.Printf("%s\n", v)
	}
}

// Wrap a radix client built elsewhere. The driver leaves it open on Close:
// it belongs to the caller.
func ExampleNew() {
	ctx := context.Background()
	pool, err := rdx.PoolConfig{Size: 8}.New(ctx, "tcp", "localhost:6379")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()

	d := radix.New(pool)
	defer d.Close()
	n, err := d.Do(ctx, "INCR", "visits")
	fmt.Println(n, err)
}

// Name a Redis Cluster by several of its nodes, as go-redis's
// ParseClusterURL does.
func ExampleOpen_cluster() {
	ctx := context.Background()
	d, err := radix.Open(ctx, "redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	// Keys in different hash slots: the driver sends one MGET per slot, in
	// one pipeline per node, and puts the values back in order.
	vals, err := d.MGet(ctx, "user:1", "user:2", "user:3")
	fmt.Println(len(vals), err)

	// SCAN has to visit every primary.
	err = conn.ForEachNode(ctx, d, func(ctx context.Context, node conn.Driver) error {
		_, err := node.Do(ctx, "SCAN", 0, "MATCH", "user:*")
		return err
	})
	fmt.Println(err)
}

// Keep state per cluster node, such as a circuit breaker, so that a failed
// primary does not turn the cache off for the keys the others serve.
// NodeOf answers from the driver's slot map, without a network call.
func ExampleDriver_NodeOf() {
	ctx := context.Background()
	d, err := radix.Open(ctx, "redis+cluster://10.0.0.1:7000,10.0.0.2:7000")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	failures := map[string]int{} // per node address
	for _, k := range []string{"user:1", "user:2", "user:3"} {
		if _, err := d.Get(ctx, k); err != nil && !errors.Is(err, conn.ErrMiss) {
			failures[conn.NodeOf(d, k)]++
		}
	}
	fmt.Println(failures)
}

// Find the primary through Redis Sentinel; the user and password before
// the host are the sentinels', the primary's go in the query.
func ExampleOpen_sentinel() {
	ctx := context.Background()
	d, err := radix.Open(ctx, "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/0?master_name=cache&password=secret")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	fmt.Println(d.Set(ctx, "k", []byte("v"), time.Minute))
}

// A subscription, for example to hear about invalidations.
func ExampleDriver_Subscribe() {
	ctx := context.Background()
	d, err := radix.Open(ctx, "redis://localhost:6379")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()

	sub, err := d.Subscribe(ctx, "invalidate")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()
	for {
		m, err := sub.Receive(ctx)
		if err != nil {
			return // ctx ended, sub closed, or the connection broke
		}
		fmt.Printf("drop %s\n", m.Payload)
	}
}

// A transaction: MULTI ... EXEC in one pipeline runs without another call
// slipping in between, even on connections shared with other goroutines.
func ExampleDriver_Pipeline() {
	ctx := context.Background()
	d, err := radix.Open(ctx, "redis://localhost:6379")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()

	exec := conn.NewCmd("EXEC")
	err = d.Pipeline(ctx,
		conn.NewCmd("MULTI"),
		conn.NewCmd("INCR", "orders"),
		conn.NewCmd("EXPIRE", "orders", 60),
		exec,
	)
	fmt.Println(exec.Reply, exec.Err, err)
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
	d, err := radix.Open(ctx, "rediss://app:secret@cache.internal:6380",
		radix.WithTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}))
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
}

// An empty URL, most often an environment variable that was not set, is
// refused as a bad URL, as any URL Open cannot use, whichever driver.
func ExampleOpen_emptyURL() {
	_, err := radix.Open(context.Background(), os.Getenv("REDCACHE_EXAMPLE_UNSET_URL"))
	fmt.Println(errors.Is(err, conn.ErrBadURL))
	fmt.Println(err)
	// Output:
	// true
	// redcache/radix: bad url: the URL is empty (is REDIS_URL set?)
}
