package goredis_test

import (
	"strings"
	"testing"

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
			d, err := goredis.Open("redis://" + addr)
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
			d, err := goredis.Open("redis+cluster://" + strings.Join(addrs, ","))
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

func TestBadURLs(t *testing.T) {
	conntest.RunBadURLs(t, func(rawURL string) (conn.Driver, error) {
		d, err := goredis.Open(rawURL)
		if err != nil {
			return nil, err
		}
		return d, nil
	})
}
