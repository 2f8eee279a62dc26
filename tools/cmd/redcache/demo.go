package main

import (
	"context"
	"errors"
	"time"

	"github.com/redcache/redcache/tools/internal/cli"
	"github.com/redcache/redcache/tools/internal/demo"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "watch the README's quick start work: a slow loader, memoized with a 5s ttl, behind a gin handler",
		usage: `redcache demo [--url URL] [--driver goredis|radix] [--delay D]

Plays the README's quick start, the very code the README quotes
(docs/examples/quickstart/app): loadSomethingFromSomewhere, a function that
loads data from a slow remote source (it sleeps 500ms), memoized with
core.Memoize(core.Default, "something", ..., core.WithTTL(5*time.Second)),
Gob, and served by the gin handler GET /something/:id on a loopback port.
The demo calls /something/42 in a loop and prints, for every request, MISS
(the loader ran: slow) or HIT (served from Redis: fast) with the time it
took; then it waits for the ttl to run out and shows the loader run again.
It ends by itself after about 7 seconds.

It uses the Redis of --url or REDIS_URL when one is set (its one key is
cache:something:s2:42, gone after the ttl), and otherwise an embedded,
in-process Redis (miniredis), so it needs nothing installed; it says which.
When REDIS_URL names a Redis that does not answer, it says so and plays on
the embedded one (a --url that does not answer is an error).`,
		run: runDemo,
	})
}

func runDemo(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("demo")
	delay := fs.Duration("delay", demo.DefaultDelay, "time `D` the slow remote source takes")
	args, err := env.Parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(args) != 0:
		return usageErrorf("unexpected argument %q", args[0])
	case *delay < 0 || *delay > 10*time.Second:
		return usageErrorf("--delay %s: want 0 to 10s", *delay)
	}
	err = demo.Run(ctx, env.Stdout, env.redisURL(),
		demo.WithLoadDelay(*delay), demo.WithDriver(env.driver), demo.WithFallback(env.url == ""))
	if errors.Is(err, cli.ErrBadURL) {
		return usageErrorf("%v (from %s)", err, env.urlSource())
	}
	return err
}
