// Command resilience is the program of the resilience guide
// (docs/resilience.md): a price service whose upstream fails and slows
// down, kept answering by fail-safe and loader timeouts, with its hot
// keys refreshed before they expire and its misses cached briefly.
//
//	go run ./docs/examples/resilience    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// Upstream stands for a pricing API that can be down or slow. It prints
// every request, so that the output shows when a loader runs.
type Upstream struct {
	log   io.Writer
	down  atomic.Bool
	delay atomic.Int64 // nanoseconds
	price atomic.Int64 // cents
}

var errUnavailable = errors.New("pricing API unavailable")

// Price asks the API for the price of sku, in cents.
func (u *Upstream) Price(ctx context.Context, sku string) (int64, error) {
	fmt.Fprintln(u.log, "  api: price", sku)
	if u.down.Load() {
		return 0, errUnavailable
	}
	select {
	case <-time.After(time.Duration(u.delay.Load())):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if sku == "discontinued" {
		// Not an error, and not worth keeping for a day: ask again soon.
		core.SetTTL(ctx, time.Minute)
		return 0, nil
	}
	return u.price.Load(), nil
}

func newPrices(m *core.Manager, api *Upstream, w io.Writer) *core.Memo[string, int64] {
	return core.Memoize(m, "prices", api.Price,
		core.WithTTL(300*time.Millisecond),
		// Keep each price an hour past its TTL, to serve it when the API
		// fails; after a failure, ask the API again at most every 2s.
		core.WithFailSafe(time.Hour, 2*time.Second),
		// Wait 100ms for the API when an expired price can be served
		// instead, and 5s at most in any case.
		core.WithLoaderTimeouts(100*time.Millisecond, 5*time.Second),
		core.WithErrorHandler(func(_ context.Context, err *core.Error) {
			fmt.Fprintf(w, "  reported (%s): %v\n", err.Op, err.Err)
		}),
	)
}

// lockedWriter serializes writes: a load that outlives its caller's soft
// timeout prints from its own goroutine while the program goes on.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func run(ctx context.Context, w io.Writer, redisURL string) error {
	w = &lockedWriter{w: w}
	d, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer d.Close()
	m := core.New(core.WithDriver(d), core.WithPrefix("shop"))
	defer m.Close()
	api := &Upstream{log: w}
	api.price.Store(1999)
	prices := newPrices(m, api, w)
	show := func(sku string) {
		p, err := prices.Get(ctx, sku)
		if err != nil {
			fmt.Fprintf(w, "  %s: error %v\n", sku, err)
			return
		}
		fmt.Fprintf(w, "  %s: %d\n", sku, p)
	}

	fmt.Fprintln(w, "a miss, then a hit:")
	show("widget")
	show("widget")

	fmt.Fprintln(w, "the price expired and the API is down: the expired price is served")
	time.Sleep(400 * time.Millisecond)
	api.down.Store(true)
	show("widget")
	fmt.Fprintln(w, "within the throttle, the API is left alone:")
	show("widget")

	fmt.Fprintln(w, "the API is back but slow: the expired price at the soft timeout")
	api.down.Store(false)
	api.price.Store(2499)
	api.delay.Store(int64(300 * time.Millisecond))
	time.Sleep(2 * time.Second) // past the throttle
	show("widget")
	fmt.Fprintln(w, "the slow answer was stored when it came:")
	for {
		if p, found, _ := prices.Peek(ctx, "widget"); found && p == 2499 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	show("widget")

	fmt.Fprintln(w, "a discontinued product is cached for a minute only:")
	api.delay.Store(0)
	show("discontinued")
	key, _ := prices.Key("discontinued")
	if ttl, err := d.Do(ctx, "PTTL", key); err == nil {
		left := time.Duration(ttl.(int64)) * time.Millisecond
		fmt.Fprintf(w, "  kept for about %v, then an hour of fail-safe\n", (left - time.Hour).Round(time.Minute))
	}

	st := m.Stats()
	fmt.Fprintf(w, "stats: %d hits, %d fail-safe values served, %d loads (%d failed)\n",
		st.Hits, st.FailSafeHits, st.Loads, st.LoadErrors)
	return nil
}

func main() {
	url, stop, err := devredis.URL()
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	if err := run(context.Background(), os.Stdout, url); err != nil {
		log.Fatal(err)
	}
}
