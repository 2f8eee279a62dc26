package goredis_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redis/go-redis/v9"
)

// The suite runs twice per server: through Open (RESP2, the driver owns
// the client) and through New around a RESP3 client the test owns, so that
// reply normalisation is exercised with both protocols.

func TestConformanceStandalone(t *testing.T) {
	addr := conntest.RedisAddr(t)
	t.Run("Open", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) conn.Driver {
			d, err := goredis.Open(context.Background(), "redis://"+addr)
			if err != nil {
				t.Fatal(err)
			}
			return d
		})
	})
	t.Run("NewRESP3", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) conn.Driver {
			c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 3, ContextTimeoutEnabled: true})
			t.Cleanup(func() { _ = c.Close() })
			return goredis.New(c)
		})
	})
}

func TestConformanceCluster(t *testing.T) {
	addrs := conntest.ClusterAddrs(t)
	t.Run("Open", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) conn.Driver {
			d, err := goredis.Open(context.Background(), "redis+cluster://"+strings.Join(addrs, ","))
			if err != nil {
				t.Fatal(err)
			}
			return d
		})
	})
	t.Run("NewRESP3", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) conn.Driver {
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Protocol: 3, ContextTimeoutEnabled: true})
			return goredis.New(c, goredis.WithOwnedClient())
		})
	})
}

// TestErrors: the driver's own errors carry its prefix and wrap conn's
// sentinels, as every driver's do.
func TestErrors(t *testing.T) {
	addr := conntest.RedisAddr(t)
	conntest.RunErrors(t, conntest.Errors{
		Prefix: "redcache/goredis: ",
		Driver: func(t *testing.T) conn.Driver {
			d, err := goredis.Open(context.Background(), "redis://"+addr)
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		Open: func(ctx context.Context, rawURL string) (conn.Driver, error) {
			return goredis.Open(ctx, rawURL)
		},
	})
}

// TestTLS: WithTLSConfig makes Open trust a private CA.
func TestTLS(t *testing.T) {
	conntest.RunTLS(t, func(ctx context.Context, rawURL string, tc *tls.Config) (conn.Driver, error) {
		var opts []goredis.Option
		if tc != nil {
			opts = append(opts, goredis.WithTLSConfig(tc))
		}
		return goredis.Open(ctx, rawURL, opts...)
	})
}

func TestBadURLs(t *testing.T) {
	conntest.RunBadURLs(t, func(rawURL string) (conn.Driver, error) {
		d, err := goredis.Open(context.Background(), rawURL)
		if err != nil {
			return nil, err
		}
		return d, nil
	})
}

// faultPoolSize is the pool size of the drivers the fault suite opens.
const faultPoolSize = 8

func TestFaults(t *testing.T) {
	const interval, timeout = 200 * time.Millisecond, 300 * time.Millisecond
	conntest.RunFaults(t, conntest.FaultConfig{
		Open: func(t *testing.T, addr string) conn.Driver {
			d, err := goredis.Open(context.Background(), fmt.Sprintf("redis://%s/?pool_size=%d", addr, faultPoolSize),
				goredis.WithSubscriptionCheck(interval, timeout))
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		PoolSize:          faultPoolSize,
		SubscriptionCheck: interval + timeout,
		Prefix:            "redcache/goredis: ",
	})
}
