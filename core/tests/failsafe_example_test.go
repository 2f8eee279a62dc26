package tests_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/core"
)

// An exchange rate kept answering while its API is down: the expired
// rate is served, the API's error reported, and the API asked again at
// most once a minute. A slow API is waited for 100ms when a rate can be
// served instead, and 2s at most.
func Example_failSafe() {
	d := exampleDriver()
	defer d.Close()
	m := core.New(core.WithDriver(d), core.WithPrefix(fmt.Sprint("example-", time.Now().UnixNano())))
	defer m.Close()

	var down atomic.Bool
	rate := core.Memoize0(m, "rates.eur", func(ctx context.Context) (float64, error) {
		if down.Load() {
			return 0, errors.New("rates API down")
		}
		return 1.08, nil
	},
		core.WithTTL(50*time.Millisecond),
		core.WithFailSafe(time.Hour, time.Minute),
		core.WithLoaderTimeouts(100*time.Millisecond, 2*time.Second),
		core.WithErrorHandler(func(_ context.Context, err *core.Error) {
			fmt.Println("reported:", err.Op, err.Err)
		}))

	ctx := context.Background()
	r, err := rate.Get(ctx)
	fmt.Println(r, err)
	time.Sleep(60 * time.Millisecond) // expired
	down.Store(true)
	r, err = rate.Get(ctx)
	fmt.Println(r, err)
	r, err = rate.Get(ctx) // within the throttle: the API is not asked
	fmt.Println(r, err)
	fmt.Println("fail-safe values served:", rate.Stats().FailSafeHits)
	// Output:
	// 1.08 <nil>
	// reported: loader rates API down
	// 1.08 <nil>
	// 1.08 <nil>
	// fail-safe values served: 2
}

// A value read past half its TTL is returned at once, and reloaded in
// the background: a key read often never expires under its readers.
func Example_eagerRefresh() {
	d := exampleDriver()
	defer d.Close()
	m := core.New(core.WithDriver(d), core.WithPrefix(fmt.Sprint("example-", time.Now().UnixNano())))
	defer m.Close()

	var loads atomic.Int64
	version := core.Memoize0(m, "config.version", func(context.Context) (int64, error) {
		return loads.Add(1), nil
	}, core.WithTTL(time.Second), core.WithEagerRefresh(0.5))

	ctx := context.Background()
	v, _ := version.Get(ctx)
	fmt.Println("first read:", v)
	time.Sleep(600 * time.Millisecond) // past half the TTL
	v, _ = version.Get(ctx)
	fmt.Println("read past the eager point:", v)
	for loads.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	for v != 2 {
		v, _, _ = version.Peek(ctx)
	}
	fmt.Println("reloaded in the background:", v)
	// Output:
	// first read: 1
	// read past the eager point: 1
	// reloaded in the background: 2
}
