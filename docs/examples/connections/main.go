// Command connections is the program of the connections guide
// (docs/connections.md): which Redis a call uses, and how to open one with
// either driver.
//
//	go run ./docs/examples/connections    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/redis/go-redis/v9"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// goredisURLs are URLs goredis.Open takes. Open does not connect: the
// first command does.
var goredisURLs = []string{
	"redis://localhost:6379/0",
	"redis://:secret@localhost:6379/2?dial_timeout=2s&read_timeout=500ms&pool_size=20",
	"rediss://app:secret@cache.example.com:6380",     // TLS, with an ACL user
	"unix:///run/redis/redis.sock?db=1",              // a Unix socket
	"redis+cluster://10.0.0.1:7000,10.0.0.2:7000",    // Redis Cluster: any of its nodes
	"rediss+cluster://10.0.0.1:7000?client_name=web", // Cluster over TLS
	"redis+sentinel://10.0.0.1:26379,10.0.0.2:26379?master_name=mymaster",
}

// radixURLs are URLs radix.Open takes. Open dials before it returns.
var radixURLs = []string{
	"redis://localhost:6379/0",
	"redis://:secret@localhost:6379/2?pool_size=8",
	"rediss://app:secret@cache.example.com:6380", // TLS, with an ACL user
	"unix:///run/redis/redis.sock?db=1",
	"redis+cluster://10.0.0.1:7000,10.0.0.2:7000", // Redis Cluster, as go-redis takes it...
	"redis://10.0.0.1:7000,10.0.0.2:7000",         // ...or several nodes...
	"redis://10.0.0.1:7000?cluster=true",          // ...or one, and cluster=true
	"redis+sentinel://10.0.0.1:26379,10.0.0.2:26379?master_name=mymaster",
}

// openGoRedisClient wraps a go-redis client you built yourself, for what a
// URL cannot say: a TLS configuration, a credentials provider, hooks.
func openGoRedisClient(addrs []string, tlsConfig *tls.Config) conn.Driver {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 addrs, // one address: a single node; several: a cluster
		TLSConfig:             tlsConfig,
		ContextTimeoutEnabled: true, // let contexts bound every call
	})
	return goredis.New(rdb, goredis.WithOwnedClient()) // d.Close closes rdb too
}

// openTLS connects over TLS to a server whose certificate a private
// authority signed (tlsConfig.RootCAs holds it), with either driver: the
// option has the same name in both.
func openTLS(ctx context.Context, addr string, tlsConfig *tls.Config, useRadix bool) (conn.Driver, error) {
	if useRadix {
		return radix.Open(ctx, "rediss://"+addr,
			radix.WithTLSConfig(tlsConfig),
			radix.WithWriteFlushInterval(150*time.Microsecond), // batch the writes of concurrent calls
		)
	}
	return goredis.Open(ctx, "rediss://"+addr, goredis.WithTLSConfig(tlsConfig))
}

// openRadixSentinel follows the primary that Redis Sentinel names, with a
// radix client built by hand, for the settings a redis+sentinel:// URL
// cannot give.
func openRadixSentinel(ctx context.Context, master string, sentinels []string) (conn.Driver, error) {
	client, err := rdx.SentinelConfig{}.New(ctx, master, sentinels)
	if err != nil {
		return nil, err
	}
	return radix.New(client, radix.WithOwnedClient()), nil
}

// newReportsManager returns a Manager that always uses d, whatever the
// context and the stack say.
func newReportsManager(d conn.Driver) *core.Manager {
	return core.New(core.WithDriver(d), core.WithPrefix("reports"))
}

// openCluster connects to a Redis Cluster through any of its nodes, with
// either driver.
func openCluster(ctx context.Context, nodes []string, useRadix bool) (conn.Driver, error) {
	if useRadix {
		return radix.Open(ctx, "redis://"+strings.Join(nodes, ","))
	}
	return goredis.Open(ctx, "redis+cluster://"+strings.Join(nodes, ","))
}

func run(ctx context.Context, w io.Writer, redisURL string) error {
	// The process-wide connection, set once at start-up: use_connection().
	primary, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer primary.Close()
	if err := conn.Use(primary); err != nil {
		return err
	}

	// A second connection, to the same server here; in a real program
	// another Redis (a tenant's, a region's), or the same one through the
	// other driver.
	other, err := radix.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer other.Close()

	name := func(d conn.Driver) string {
		switch d {
		case primary:
			return "primary (go-redis)"
		case other:
			return "other (radix)"
		}
		return fmt.Sprint(d)
	}
	show := func(what string, ctx context.Context, explicit conn.Driver) {
		d, err := conn.Resolve(ctx, explicit)
		if err != nil {
			fmt.Fprintf(w, "%-32s %v\n", what, err)
			return
		}
		fmt.Fprintf(w, "%-32s %s\n", what, name(d))
	}

	show("the stack:", ctx, nil)
	err = conn.Scope(other, func() error { // with Connection(other):
		show("inside Scope(other):", ctx, nil)
		return nil
	})
	if err != nil {
		return err
	}
	show("after Scope:", ctx, nil)

	reqCtx := conn.With(ctx, other) // a connection for one request
	show("a context that carries other:", reqCtx, nil)
	show("explicit primary beats it:", reqCtx, primary)

	conn.Pop() // the stack is empty again
	show("nothing at all:", ctx, nil)
	return nil
}

func main() {
	redisURL, stop, err := devredis.URL() // $REDIS_URL, or an embedded Redis
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	if err := run(context.Background(), os.Stdout, redisURL); err != nil {
		log.Fatal(err)
	}
}
