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
		summary: "watch the cache work: a slow loader, memoized with a 5s ttl, behind a gin handler",
		usage: `redcache demo [--url URL] [--driver goredis|radix] [--ttl D] [--delay D]

Plays the quickstart of the original RedCache README: a function that loads
data from a slow remote source (it sleeps 800ms) is memoized with
core.Memoize0 and a ttl of 5 seconds, and served by a gin handler on a
loopback port. The demo calls the handler in a loop and prints, for every
request, MISS (the loader ran: slow) or HIT (served from Redis: fast) with
the time it took; then it waits for the ttl to run out and shows the loader
run again. It ends by itself after about 7 seconds.

It uses the Redis of --url or REDIS_URL when one is set (its key is
redcache-demo:load_something, JSON, gone after the ttl), and otherwise an
embedded in-process Redis (miniredis), so it needs nothing installed.`,
		run: runDemo,
	})
}

func runDemo(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("demo")
	ttl := fs.Duration("ttl", demo.DefaultTTL, "ttl `D` of the cached value")
	delay := fs.Duration("delay", demo.DefaultDelay, "time `D` the slow loader takes")
	prefix := fs.String("prefix", demo.DefaultPrefix, "key prefix `P` of the demo's key")
	args, err := env.Parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(args) != 0:
		return usageErrorf("unexpected argument %q", args[0])
	case *ttl <= 0:
		return usageErrorf("--ttl %s: want more than 0", *ttl)
	case *ttl > time.Minute:
		return usageErrorf("--ttl %s: keep it short, the demo waits for it to run out", *ttl)
	case *delay < 0 || *delay > 10*time.Second:
		return usageErrorf("--delay %s: want 0 to 10s", *delay)
	}
	err = demo.Run(ctx, env.Stdout, env.redisURL(),
		demo.WithTTL(*ttl), demo.WithLoadDelay(*delay), demo.WithPrefix(*prefix), demo.WithDriver(env.driver))
	if errors.Is(err, cli.ErrBadURL) {
		return usageErrorf("%v (from %s)", err, env.urlSource())
	}
	return err
}
