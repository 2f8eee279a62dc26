package tests_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redcache/redcache/core"
)

// Two processes (a Manager each) miss the same report at once: with the
// distributed lock, the first one loads it and the other gets the value
// it stored, without running the loader.
func Example_distributedLock() {
	d := exampleDriver()
	defer d.Close()
	prefix := fmt.Sprint("example-", time.Now().UnixNano())
	ctx := context.Background()
	loading := make(chan struct{})
	var managers []*core.Manager
	defer func() {
		for _, m := range managers {
			m.Close() // stops the lock's subscription
		}
	}()
	process := func(name string) *core.Memo[int, string] {
		m := core.New(core.WithDriver(d), core.WithPrefix(prefix), core.WithDistributedLock(2*time.Second))
		managers = append(managers, m)
		return core.Memoize(m, "reports.get", func(ctx context.Context, id int) (string, error) {
			fmt.Println(name, "runs the query for report", id)
			close(loading)
			time.Sleep(200 * time.Millisecond) // the slow query
			return fmt.Sprintf("report %d, built by %s", id, name), nil
		})
	}
	a, b := process("process A"), process("process B")
	done := make(chan string)
	go func() {
		v, _ := a.Get(ctx, 7)
		done <- v
	}()
	<-loading // A holds the lock and loads
	v, _ := b.Get(ctx, 7)
	fmt.Println("process B got:", v)
	fmt.Println("process A got:", <-done)
	// Output:
	// process A runs the query for report 7
	// process B got: report 7, built by process A
	// process A got: report 7, built by process A
}
