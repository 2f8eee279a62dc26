// Package devredis gives the example programs of the guides a Redis to talk
// to: the one $REDIS_URL names, or else an embedded, in-process Redis
// (miniredis), so that every example runs on a machine without a Redis
// server. It is for the examples and their tests only.
package devredis

import (
	"context"
	"os"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redcache/redcache/conn/conntest"
)

// EnvURL names the environment variable that points the examples at a
// real Redis, such as redis://localhost:6379/0.
const EnvURL = "REDIS_URL"

// URL returns $REDIS_URL when it is set. Otherwise it starts an embedded
// Redis and returns its URL; stop shuts it down (it does nothing for a
// Redis of $REDIS_URL).
func URL() (url string, stop func(), err error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, func() {}, nil
	}
	mr, err := miniredis.Run()
	if err != nil {
		return "", nil, err
	}
	return "redis://" + mr.Addr(), mr.Close, nil
}

// TestURL returns the URL of the test runner's Redis (see
// [conntest.RedisAddr]: the test is skipped, or fails under the runner,
// when there is none) after deleting the keys that match each of patterns,
// so that an example's output does not depend on what an earlier run left
// behind.
func TestURL(tb testing.TB, patterns ...string) string {
	tb.Helper()
	addr := conntest.RedisAddr(tb)
	Clean(tb, "redis://"+addr, patterns...)
	return "redis://" + addr
}

// Clean deletes the keys that match each of patterns (SCAN MATCH syntax).
func Clean(tb testing.TB, url string, patterns ...string) {
	tb.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	for _, p := range patterns {
		iter := rdb.Scan(ctx, 0, p, 1000).Iterator()
		for iter.Next(ctx) {
			if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
				tb.Fatal(err)
			}
		}
		if err := iter.Err(); err != nil {
			tb.Fatal(err)
		}
	}
}
