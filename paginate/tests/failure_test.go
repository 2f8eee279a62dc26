package tests_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/paginate"
)

// breakingDriver spoils the second HSET of every pipeline it sends (a
// command Redis refuses), as a write that fails half way through a
// Replace would.
type breakingDriver struct{ conn.Driver }

func (b breakingDriver) Pipeline(ctx context.Context, cmds ...*conn.Cmd) error {
	n := 0
	for _, c := range cmds {
		if c.Args[0] == "HSET" {
			if n++; n == 2 {
				c.Args = c.Args[:3] // HSET key field: no value
			}
		}
	}
	return b.Driver.Pipeline(ctx, cmds...)
}

// TestReplaceIncompleteKeepsTheOldList fails a command in the middle of a
// Replace: the list is not switched, and the half-built version is gone.
func TestReplaceIncompleteKeepsTheOldList(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		l := newList(t, d, "incomplete", paginate.WithPrefix(prefix))
		if err := l.Replace(ctx, products(1, 3), time.Minute); err != nil {
			t.Fatal(err)
		}
		broken := newList(t, breakingDriver{d}, "incomplete", paginate.WithPrefix(prefix))
		if err := broken.Replace(ctx, products(2, 2500), time.Minute); !errors.Is(err, paginate.ErrIncomplete) {
			t.Fatalf("Replace with a failed command: %v, want ErrIncomplete", err)
		}
		p, err := l.Page(ctx, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(p, productID); !equalStrings(got.IDs, ids(1, 0, 3)) || got.Total != 3 {
			t.Errorf("after a failed Replace the list is %v (total %d), want the old one", got.IDs, got.Total)
		}
		if keys := keysUnder(ctx, t, d, prefix); len(keys) != 3 {
			t.Errorf("the failed Replace left keys behind: %v", keys)
		}
	})
}

// TestListRedisDown reads a list through a proxy that refuses: the call
// returns an error that is not a miss: a reader never takes a Redis
// outage for an empty or expired list.
func TestListRedisDown(t *testing.T) {
	for _, k := range []struct {
		name string
		open func(testing.TB, string) conn.Driver
	}{{"goredis", openGoredis}, {"radix", openRadix}} {
		t.Run(k.name, func(t *testing.T) {
			proxy := conntest.NewProxy(t, conntest.RedisAddr(t))
			d := k.open(t, "redis://"+proxy.Addr())
			ctx := testCtx(t)
			l := newList(t, d, "down")
			if err := l.Replace(ctx, products(1, 5), time.Minute); err != nil {
				t.Fatal(err)
			}
			proxy.Refuse()
			proxy.Reset()
			callCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			_, err := l.Page(callCtx, 1, 5)
			if err == nil || errors.Is(err, paginate.ErrMiss) {
				t.Errorf("Page with Redis down: %v, want a transport error, not a miss", err)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
