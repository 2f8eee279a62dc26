package memory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/memory"
)

func Example() {
	ctx := context.Background()
	d := memory.New()
	defer d.Close()

	_ = d.Set(ctx, "greeting", []byte("hello"), time.Minute)
	v, _ := d.Get(ctx, "greeting")
	fmt.Println(string(v))

	_, err := d.Get(ctx, "missing")
	fmt.Println(err == conn.ErrMiss)

	n, _ := d.Eval(ctx, conn.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`), []string{"hits"}, 5)
	fmt.Println(n)
	// Output:
	// hello
	// true
	// 5
}

// A hook holds one call at a known point, so that a test can run
// something else "while it is in flight".
func ExampleWithHook_holdACall() {
	ctx := context.Background()
	arrived, release := make(chan struct{}), make(chan struct{})
	d := memory.New(memory.WithHook(func(ctx context.Context, args []string) error {
		if args[0] == "SET" && args[1] == "slow" {
			close(arrived)
			<-release
		}
		return nil
	}))
	defer d.Close()

	done := make(chan error)
	go func() { done <- d.Set(ctx, "slow", []byte("v1"), 0) }()
	<-arrived
	_, err := d.Get(ctx, "slow")
	fmt.Println("while held:", err)
	close(release)
	<-done
	v, _ := d.Get(ctx, "slow")
	fmt.Println("after:", string(v))
	// Output:
	// while held: redcache: miss
	// after: v1
}

// A fake clock expires keys without sleeping.
func ExampleWithClock() {
	ctx := context.Background()
	now := time.Unix(0, 0)
	d := memory.New(memory.WithClock(func() time.Time { return now }))
	defer d.Close()

	_ = d.Set(ctx, "k", []byte("v"), time.Second)
	now = now.Add(time.Second)
	_, err := d.Get(ctx, "k")
	fmt.Println(err)
	// Output: redcache: miss
}
