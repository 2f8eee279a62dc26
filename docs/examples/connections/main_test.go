package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t)
	var out bytes.Buffer
	if err := run(context.Background(), &out, url); err != nil {
		t.Fatal(err)
	}
	const want = `the stack:                       primary (go-redis)
inside Scope(other):             other (radix)
after Scope:                     primary (go-redis)
a context that carries other:    other (radix)
explicit primary beats it:       primary (go-redis)
nothing at all:                  redcache: no connection (pass a driver, use conn.With, or conn.Use/Push one)
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// Every URL the guide lists is one goredis.Open accepts; it does not
// connect, so the hosts need not exist.
func TestGoRedisURLs(t *testing.T) {
	d, err := openTLS(context.Background(), "cache.example.com:6380", &tls.Config{MinVersion: tls.VersionTLS12}, false)
	if err != nil {
		t.Errorf("openTLS with go-redis: %v", err)
	} else {
		d.Close()
	}
	for _, u := range goredisURLs {
		d, err := goredis.Open(context.Background(), u)
		if err != nil {
			t.Errorf("goredis.Open(%q): %v", u, err)
			continue
		}
		d.Close()
	}
}

// Every URL the guide lists is one radix.Open accepts: with a cancelled
// context, Open parses the URL and stops before dialling.
func TestRadixURLs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, u := range radixURLs {
		if _, err := radix.Open(ctx, u); !errors.Is(err, context.Canceled) {
			t.Errorf("radix.Open(%q) = %v, want it to parse and stop at the cancelled context", u, err)
		}
	}
	if _, err := openTLS(ctx, "cache.example.com:6380", &tls.Config{MinVersion: tls.VersionTLS12}, true); !errors.Is(err, context.Canceled) {
		t.Errorf("openTLS with radix = %v", err)
	}
}

func TestGoRedisClient(t *testing.T) {
	addr := conntest.RedisAddr(t)
	d := openGoRedisClient([]string{addr}, nil)
	defer d.Close()
	if v, err := d.Do(context.Background(), "PING"); err != nil || v != "PONG" {
		t.Fatalf("PING = %v, %v", v, err)
	}
}

// A fixed driver beats the context and the stack.
func TestReportsManager(t *testing.T) {
	url := devredis.TestURL(t, "reports:*")
	d, err := goredis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m := newReportsManager(d)
	defer m.Close()
	daily := core.Memoize(m, "daily", func(_ context.Context, day string) (int, error) { return len(day), nil })
	// No connection on the stack or in the context: the Manager's own is used.
	if n, err := daily.Get(context.Background(), "monday"); err != nil || n != 6 {
		t.Fatalf("Get = %d, %v", n, err)
	}
	if _, found, err := daily.Peek(context.Background(), "monday"); err != nil || !found {
		t.Fatalf("Peek = %v, %v; want the value cached through the fixed driver", found, err)
	}
}

// Both drivers reach a Redis Cluster from a list of nodes, and the cache
// works across its slots.
func TestCluster(t *testing.T) {
	nodes := conntest.ClusterAddrs(t)
	for _, useRadix := range []bool{false, true} {
		t.Run(fmt.Sprint("radix=", useRadix), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d, err := openCluster(ctx, nodes, useRadix)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			// A generous bound: under -race on a loaded machine, a cold
			// cluster client can take more than the default 100ms.
			m := core.New(core.WithDriver(d), core.WithPrefix(fmt.Sprint("docs-cluster-", time.Now().UnixNano())),
				core.WithTimeout(time.Second))
			defer m.Close()
			calls := 0
			square := core.Memoize(m, "square", func(_ context.Context, n int) (int, error) { calls++; return n * n, nil })
			for round := 0; round < 2; round++ {
				for n := 0; n < 20; n++ { // 20 keys: spread over the slots
					if v, err := square.Get(ctx, n); err != nil || v != n*n {
						t.Fatalf("square(%d) = %d, %v", n, v, err)
					}
				}
			}
			// A Redis call that failed (a timeout under -race on a
			// loaded machine) makes its key load again, or not store:
			// the test allows one extra load per failed call, never a
			// silent one.
			st := square.Stats()
			if calls < 20 || uint64(calls-20) > st.RedisErrors {
				t.Fatalf("%d loads, want 20 (the second round from Redis); %d Redis calls failed, %d stores fenced",
					calls, st.RedisErrors, st.FencedStores)
			}
			if err := square.InvalidateAll(ctx); err != nil {
				t.Fatal(err)
			}
			before := calls
			if _, err := square.Get(ctx, 1); err != nil || calls != before+1 {
				t.Fatalf("after InvalidateAll: %v, %d loads; want %d", err, calls, before+1)
			}
			if s := m.Stats(); s.RedisErrors > uint64(calls-20) {
				t.Fatalf("stats: %+v", s)
			}
		})
	}
	// The client built by hand, with several addresses, is a cluster client.
	d := openGoRedisClient(nodes, nil)
	defer d.Close()
	v, err := d.Do(context.Background(), "CLUSTER", "INFO")
	if err != nil || !strings.Contains(v.(string), "cluster_state:ok") {
		t.Fatalf("CLUSTER INFO = %v, %v", v, err)
	}
}
