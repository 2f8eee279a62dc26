package radix_test

import (
	"context"
	"errors"
	"fmt"
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
