package tests_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
)

// target is one Redis the tests run against, through one driver.
type target struct {
	name string
	open func(tb testing.TB) conn.Driver
}

// targets are both drivers on both servers of the test runner: go-redis
// and radix, standalone and the 3-primary cluster. Each server is looked
// up in the subtest that opens it, so a missing cluster skips only the
// cluster subtests (unless REDCACHE_TEST_REQUIRE=1 makes it a failure).
func targets() []target {
	standalone := func(tb testing.TB) string { return "redis://" + conntest.RedisAddr(tb) }
	cluster := func(tb testing.TB) string {
		return "redis+cluster://" + strings.Join(conntest.ClusterAddrs(tb), ",")
	}
	return []target{
		{"goredis/standalone", func(tb testing.TB) conn.Driver { return openGoredis(tb, standalone(tb)) }},
		{"goredis/cluster", func(tb testing.TB) conn.Driver { return openGoredis(tb, cluster(tb)) }},
		{"radix/standalone", func(tb testing.TB) conn.Driver { return openRadix(tb, standalone(tb)) }},
		{"radix/cluster", func(tb testing.TB) conn.Driver { return openRadix(tb, cluster(tb)) }},
	}
}

func openGoredis(tb testing.TB, url string) conn.Driver {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := goredis.Open(ctx, url)
	if err != nil {
		tb.Fatalf("goredis.Open(%s): %v", url, err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

func openRadix(tb testing.TB, url string) conn.Driver {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := radix.Open(ctx, url)
	if err != nil {
		tb.Fatalf("radix.Open(%s): %v", url, err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

// eachTarget runs fn as a subtest for every target, with a fresh driver.
func eachTarget(t *testing.T, fn func(t *testing.T, d conn.Driver)) {
	t.Helper()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) { fn(t, tg.open(t)) })
	}
}

// uniquePrefix keeps tests apart on a shared server.
func uniquePrefix(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "pgtest-" + hex.EncodeToString(b)
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// product is the item type of most tests.
type product struct {
	ID   string
	Name string
	Gen  int // which Replace wrote it, for the torn-page soak
	Pos  int // its position in that Replace
}

func productID(p product) string { return p.ID }

func products(gen, n int) []product {
	out := make([]product, n)
	for i := range out {
		out[i] = product{ID: itemID(gen, i), Name: "product " + itemID(gen, i), Gen: gen, Pos: i}
	}
	return out
}

func itemID(gen, i int) string {
	return "g" + strconv.Itoa(gen) + "-" + strconv.Itoa(i)
}

// keysUnder returns every key under prefix, on every node.
func keysUnder(ctx context.Context, t *testing.T, d conn.Driver, prefix string) []string {
	t.Helper()
	var out []string
	err := conn.ForEachNode(ctx, d, func(ctx context.Context, node conn.Driver) error {
		cursor := "0"
		for {
			r, err := node.Do(ctx, "SCAN", cursor, "MATCH", prefix+"*", "COUNT", 1000)
			if err != nil {
				return err
			}
			a := r.([]any)
			for _, k := range a[1].([]any) {
				out = append(out, k.(string))
			}
			if cursor = a[0].(string); cursor == "0" {
				return nil
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
