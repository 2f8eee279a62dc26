package radix_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

func openT(t testing.TB, url string, opts ...radix.Option) *radix.Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := radix.Open(ctx, url, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func clusterURL(addrs []string) string {
	u := "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		if i == 0 {
			u += "?addr=" + a
		} else {
			u += "&addr=" + a
		}
	}
	if len(addrs) == 1 {
		u += "?cluster=true"
	}
	return u
}

// TestErrors: the driver's own errors carry its prefix and wrap conn's
// sentinels, as every driver's do.
func TestErrors(t *testing.T) {
	addr := conntest.RedisAddr(t)
	conntest.RunErrors(t, conntest.Errors{
		Prefix: "redcache/radix: ",
		Driver: func(t *testing.T) conn.Driver { return openT(t, "redis://"+addr) },
		Open: func(ctx context.Context, rawURL string) (conn.Driver, error) {
			return radix.Open(ctx, rawURL)
		},
	})
}

// TestTLS: WithTLSConfig makes Open trust a private CA.
func TestTLS(t *testing.T) {
	conntest.RunTLS(t, func(ctx context.Context, rawURL string, tc *tls.Config) (conn.Driver, error) {
		var opts []radix.Option
		if tc != nil {
			opts = append(opts, radix.WithTLSConfig(tc))
		}
		return radix.Open(ctx, rawURL, opts...)
	})
}

// TestConformance runs the shared suite against a standalone Redis, with
// the driver built both ways and over both protocol versions.
func TestConformance(t *testing.T) {
	addr := conntest.RedisAddr(t)
	t.Run("Open", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) conn.Driver { return openT(t, "redis://"+addr) })
	})
	t.Run("OpenRESP3", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) conn.Driver { return openT(t, "redis://"+addr+"?protocol=3") })
	})
	t.Run("NewPool", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) conn.Driver {
			pool, err := rdx.PoolConfig{}.New(context.Background(), "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = pool.Close() })
			return radix.New(pool)
		})
	})
	t.Run("WriteFlushInterval", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) conn.Driver {
			return openT(t, "redis://"+addr, radix.WithWriteFlushInterval(150*time.Microsecond))
		})
	})
}

// TestConformanceCluster runs the shared suite against a Redis Cluster.
func TestConformanceCluster(t *testing.T) {
	addrs := conntest.ClusterAddrs(t)
	t.Run("Open", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) conn.Driver { return openT(t, clusterURL(addrs)) })
	})
	t.Run("OpenCommaList", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) conn.Driver {
			return openT(t, "redis://"+strings.Join(addrs, ",")+"?protocol=3")
		})
	})
	t.Run("NewCluster", func(t *testing.T) {
		conntest.Run(t, func(t *testing.T) conn.Driver {
			cl, err := rdx.ClusterConfig{}.New(context.Background(), addrs)
			if err != nil {
				t.Fatal(err)
			}
			return radix.New(cl, radix.WithOwnedClient())
		})
	})
}

// subscriptionPing is the subscription health interval of the fault
// suite's drivers: a half-open subscription is reported within two of it.
const subscriptionPing = 200 * time.Millisecond

// TestFaults runs the shared fault suite against drivers from Open, on
// their default pool.
func TestFaults(t *testing.T) {
	conntest.RunFaults(t, conntest.FaultConfig{
		Open: func(t *testing.T, addr string) conn.Driver {
			return openT(t, "redis://"+addr, radix.WithSubscriptionCheck(subscriptionPing, subscriptionPing))
		},
		PoolSize:          4, // the default of WithPoolSize
		SubscriptionCheck: 2 * subscriptionPing,
		Prefix:            "redcache/radix: ",
	})
}

// TestBadURLs runs the shared table of URLs every driver must refuse.
func TestBadURLs(t *testing.T) {
	conntest.RunBadURLs(t, func(rawURL string) (conn.Driver, error) {
		return radix.Open(context.Background(), rawURL)
	})
}
