package conn_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/redcache/redcache/conn"
)

// Any Driver works here: goredis.New(client) or radix.New(pool) in a real
// program.
var someDriver conn.Driver = newFake("primary")

// The original's use_connection() is Use: the connection every call falls
// back to.
func ExampleUse() {
	if err := conn.Use(someDriver); err != nil {
		panic(err)
	}
	defer conn.Pop()

	d, err := conn.Resolve(context.Background(), nil)
	fmt.Println(d == someDriver, err)
	// Output: true <nil>
}

// A connection for one request travels in its context and wins over the
// stack.
func ExampleWith() {
	perRequest := newFake("replica")
	ctx := conn.With(context.Background(), perRequest)

	d, _ := conn.Resolve(ctx, nil)
	fmt.Println(d == perRequest)
	// Output: true
}

// Scope is the original's `with Connection(r):` block.
func ExampleScope() {
	other := newFake("analytics")
	err := conn.Scope(other, func() error {
		d, err := conn.Resolve(context.Background(), nil)
		fmt.Println("inside:", d == other)
		return err
	})
	fmt.Println("after:", conn.Current() == nil, err)
	// Output:
	// inside: true
	// after: true <nil>
}

// Every call reports a missing connection the same way.
func ExampleResolve_noConnection() {
	_, err := conn.Resolve(context.Background(), nil)
	fmt.Println(errors.Is(err, conn.ErrNoConnection))
	// Output: true
}
