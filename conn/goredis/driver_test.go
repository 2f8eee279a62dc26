package goredis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redis/go-redis/v9"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func standaloneClient(t *testing.T, protocol int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: conntest.RedisAddr(t), Protocol: protocol, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func clusterClient(t *testing.T) *redis.ClusterClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: conntest.ClusterAddrs(t), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// keys returns n fresh keys and deletes them when the test ends.
func keys(t *testing.T, d conn.Driver, n int) []string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "goredis-test:" + t.Name() + ":" + hex.EncodeToString(b) + ":"
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = d.Del(ctx, ks...)
	})
	return ks
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCloseLeavesBorrowedClientOpen(t *testing.T) {
	c := standaloneClient(t, 2)
	d := goredis.New(c)
	if d.Client() != c {
		t.Fatal("Client() is not the client given to New")
	}
	must(t, d.Close())
	if err := c.Ping(ctxT(t)).Err(); err != nil {
		t.Fatalf("the caller's client was closed with the driver: %v", err)
	}
	if _, err := d.Get(ctxT(t), "k"); !errors.Is(err, conn.ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
}

func TestWithOwnedClient(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: conntest.RedisAddr(t)})
	d := goredis.New(c, goredis.WithOwnedClient(), nil)
	must(t, d.Close())
	if err := c.Ping(ctxT(t)).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("Ping on a client handed to the driver, after Close = %v, want redis.ErrClosed", err)
	}
}

func TestOpenClosesItsClient(t *testing.T) {
	d, err := goredis.Open(context.Background(), "redis://"+conntest.RedisAddr(t))
	must(t, err)
	_, err = d.Do(ctxT(t), "PING")
	must(t, err)
	must(t, d.Close())
	if err := d.Client().Ping(ctxT(t)).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("Ping on Open's client after Close = %v, want redis.ErrClosed", err)
	}
}

func TestOpenUnixSocket(t *testing.T) {
	c := standaloneClient(t, 2)
	v, err := c.ConfigGet(ctxT(t), "unixsocket").Result()
	must(t, err)
	if v["unixsocket"] == "" {
		t.Skip("the test server does not listen on a unix socket")
	}
	d, err := goredis.Open(context.Background(), "unix://"+v["unixsocket"])
	must(t, err)
	defer d.Close()
	_, err = d.Do(ctxT(t), "PING")
	must(t, err)
}

func TestValuesAreNotShared(t *testing.T) {
	d := goredis.New(standaloneClient(t, 2))
	ctx := ctxT(t)
	ks := keys(t, d, 2)
	must(t, d.Set(ctx, ks[0], []byte("a"), time.Minute))
	must(t, d.Set(ctx, ks[1], []byte("hello"), time.Minute))
	for i := 0; i < 2; i++ {
		v, err := d.Get(ctx, ks[0])
		must(t, err)
		vs, err := d.MGet(ctx, ks...)
		must(t, err)
		if string(v) != "a" || string(vs[0]) != "a" || string(vs[1]) != "hello" {
			t.Fatalf("round %d: Get = %q, MGet = %q: a value changed because a caller wrote into an earlier one", i, v, vs)
		}
		// The caller owns what it gets and may write into it.
		v[0] = 'X'
		vs[0][0], vs[1][0] = 'Y', 'Z'
	}
	if s := string([]byte{'a'}); s != "a" {
		t.Fatalf("a one-byte string was changed in place: %q", s)
	}
}

func TestPipelineBadArgsRunsTheRest(t *testing.T) {
	d := goredis.New(standaloneClient(t, 2))
	ctx := ctxT(t)
	k := keys(t, d, 1)[0]
	cmds := []*conn.Cmd{
		conn.NewCmd("SET", k, "v"),
		conn.NewCmd("SET", k, struct{}{}),
		conn.NewCmd(),
		conn.NewCmd("GET", k),
	}
	must(t, d.Pipeline(ctx, cmds...))
	if cmds[0].Err != nil || cmds[0].Reply != "OK" || cmds[3].Err != nil || cmds[3].Reply != "v" {
		t.Fatalf("good commands: %+v %+v", cmds[0], cmds[3])
	}
	for _, c := range cmds[1:3] {
		if !errors.Is(c.Err, conn.ErrBadArg) {
			t.Fatalf("bad command %v: Err = %v, want ErrBadArg", c.Args, c.Err)
		}
	}
	if _, err := d.Do(ctx); !errors.Is(err, conn.ErrBadArg) {
		t.Fatalf("Do() = %v, want ErrBadArg", err)
	}
	if _, err := d.Eval(ctx, conn.NewScript("return 1"), nil, struct{}{}); !errors.Is(err, conn.ErrBadArg) {
		t.Fatalf("Eval with a struct argument = %v, want ErrBadArg", err)
	}
}

func TestPipelineTransportError(t *testing.T) {
	// Nothing listens on port 1.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	d := goredis.New(c, goredis.WithOwnedClient())
	defer d.Close()
	cmds := []*conn.Cmd{conn.NewCmd("PING"), conn.NewCmd("GET", "k")}
	err := d.Pipeline(ctxT(t), cmds...)
	if err == nil || conn.IsReplyError(err, "") {
		t.Fatalf("Pipeline to a closed port = %v, want a transport error", err)
	}
	for _, c := range cmds {
		if c.Err == nil || c.Reply != nil {
			t.Fatalf("command %v after a failed pipeline: %#v, %v; want the error", c.Args, c.Reply, c.Err)
		}
	}
}

// TestRESP3Replies checks the conversion of RESP3-only reply types against
// what the same commands return over RESP2.
func TestRESP3Replies(t *testing.T) {
	d2 := goredis.New(standaloneClient(t, 2))
	d3 := goredis.New(standaloneClient(t, 3))
	ctx := ctxT(t)
	ks := keys(t, d2, 2)
	hash, zset := ks[0], ks[1]
	_, err := d2.Do(ctx, "HSET", hash, "b", "2", "a", "1", "c", "")
	must(t, err)
	_, err = d2.Do(ctx, "ZADD", zset, 2.5, "m", "inf", "n")
	must(t, err)

	for _, tt := range []struct {
		name string
		args []any
		want any
	}{
		{"HGETALL", []any{"HGETALL", hash}, []any{"a", "1", "b", "2", "c", ""}},
		{"ZSCORE", []any{"ZSCORE", zset, "m"}, "2.5"},
		{"ZSCORE inf", []any{"ZSCORE", zset, "n"}, "inf"},
		{"ZINCRBY", []any{"ZINCRBY", zset, 0.5, "m"}, "3"},
		{"SMEMBERS of nothing", []any{"SMEMBERS", hash + "-none"}, []any{}},
	} {
		v, err := d3.Do(ctx, tt.args...)
		must(t, err)
		if tt.name == "HGETALL" { // RESP2 keeps the server's order, RESP3 orders by key
			sortPairs(v)
		}
		if !reflect.DeepEqual(v, tt.want) {
			t.Errorf("%s over RESP3 = %#v, want %#v", tt.name, v, tt.want)
		}
	}

	// Lua's true is a RESP3 boolean; over RESP2 it is the integer 1.
	for _, d := range []*goredis.Driver{d2, d3} {
		v, err := d.Eval(ctx, conn.NewScript("return true"), nil)
		must(t, err)
		if v != int64(1) {
			t.Errorf("Eval(return true) = %#v, want int64(1)", v)
		}
	}
	v, err := d3.Eval(ctx, conn.NewScript("return {double=0.25}"), nil)
	must(t, err)
	if v != "0.25" {
		t.Errorf("a RESP3 double from Lua = %#v, want \"0.25\"", v)
	}
	// HELLO answers a map over RESP3 and a flat array over RESP2.
	v, err = d3.Do(ctx, "HELLO", 3)
	must(t, err)
	fields, ok := v.([]any)
	if !ok || len(fields)%2 != 0 || !hasPair(fields, "proto", int64(3)) {
		t.Errorf("HELLO over RESP3 = %#v, want alternating pairs with proto 3", v)
	}
}

func sortPairs(v any) {
	a, _ := v.([]any)
	type kv struct{ k, v any }
	var ps []kv
	for i := 0; i+1 < len(a); i += 2 {
		ps = append(ps, kv{a[i], a[i+1]})
	}
	sort.Slice(ps, func(i, j int) bool { return fmt.Sprint(ps[i].k) < fmt.Sprint(ps[j].k) })
	for i, p := range ps {
		a[2*i], a[2*i+1] = p.k, p.v
	}
}

func hasPair(a []any, k string, v any) bool {
	for i := 0; i+1 < len(a); i += 2 {
		if a[i] == k && a[i+1] == v {
			return true
		}
	}
	return false
}

func TestPExpireZero(t *testing.T) {
	d := goredis.New(standaloneClient(t, 2))
	ctx := ctxT(t)
	ks := keys(t, d, 3)
	must(t, d.Set(ctx, ks[0], []byte("v"), time.Minute))
	must(t, d.Set(ctx, ks[1], []byte("v"), 0))
	for i, want := range []bool{true, true, false} {
		ok, err := d.PExpire(ctx, ks[i], 0)
		must(t, err)
		if ok != want {
			t.Errorf("PExpire(key %d, 0) = %v, want %v", i, ok, want)
		}
	}
	if p, _ := d.Do(ctx, "PTTL", ks[0]); p != int64(-1) {
		t.Errorf("PTTL after PExpire(0) = %v, want -1", p)
	}
}

func TestSubscribeClosedWithDriver(t *testing.T) {
	d := goredis.New(standaloneClient(t, 2))
	ctx := ctxT(t)
	sub, err := d.Subscribe(ctx, "goredis-test:close-with-driver")
	must(t, err)
	must(t, d.Close())
	if _, err := sub.Receive(ctx); !errors.Is(err, conn.ErrClosed) {
		t.Fatalf("Receive after the driver closed = %v, want ErrClosed", err)
	}
	if _, err := d.Subscribe(ctx, "x"); !errors.Is(err, conn.ErrClosed) {
		t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

func TestSubscribeLeavesNoGoroutine(t *testing.T) {
	d := goredis.New(standaloneClient(t, 2))
	ctx := ctxT(t)
	if _, err := d.Do(ctx, "PING"); err != nil { // warm the pool
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		sub, err := d.Subscribe(ctx, fmt.Sprintf("goredis-test:leak%d", i))
		must(t, err)
		must(t, sub.Close())
	}
	// A Subscribe that fails cleans up too: nothing listens on port 1, so
	// the subscription fails with the dial error (or the deadline, if the
	// dial is slower).
	dead := goredis.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), goredis.WithOwnedClient())
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err := dead.Subscribe(short, "x")
	cancel()
	var op *net.OpError
	if !errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &op) {
		t.Fatalf("Subscribe to a dead server = %v, want a dial error or DeadlineExceeded", err)
	}
	must(t, dead.Close())

	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSubscribeBuffersEarlyMessages(t *testing.T) {
	// A message on the first channel may come before the second channel
	// is confirmed; Subscribe keeps it for Receive.
	c := standaloneClient(t, 2)
	d := goredis.New(c)
	ctx := ctxT(t)
	chans := make([]string, 50)
	for i := range chans {
		chans[i] = fmt.Sprintf("goredis-test:early:%d", i)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c.Publish(ctx, chans[0], fmt.Sprint(i))
		}
	}()
	sub, err := d.Subscribe(ctx, chans...)
	close(stop)
	wg.Wait()
	must(t, err)
	defer sub.Close()
	must(t, c.Publish(ctx, chans[0], "last").Err())
	// Whatever was kept comes first and in order, then "last".
	prev := -1
	for {
		m, err := sub.Receive(ctx)
		must(t, err)
		if m.Channel != chans[0] {
			t.Fatalf("Receive = %+v", m)
		}
		if string(m.Payload) == "last" {
			return
		}
		var i int
		if _, err := fmt.Sscan(string(m.Payload), &i); err != nil || i <= prev {
			t.Fatalf("message %q after %d", m.Payload, prev)
		}
		prev = i
	}
}

func TestClusterPublishKeepsOrder(t *testing.T) {
	d := goredis.New(clusterClient(t))
	ctx := ctxT(t)
	ch := "goredis-test:order"
	sub, err := d.Subscribe(ctx, ch)
	must(t, err)
	defer sub.Close()
	const n = 200
	for i := 0; i < n; i++ {
		_, err := d.Do(ctx, []byte("publish"), ch, fmt.Sprint(i))
		must(t, err)
	}
	for i := 0; i < n; i++ {
		m, err := sub.Receive(ctx)
		must(t, err)
		if string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d = %q: messages of one channel arrived out of order", i, m.Payload)
		}
	}
}

func TestClusterMGetDelAcrossSlots(t *testing.T) {
	d := goredis.New(clusterClient(t))
	ctx := ctxT(t)
	ks := keys(t, d, 40)
	// Two keys that share a slot through a hash tag, next to the others.
	ks = append(ks, "{goredis-test-tag}.a", "{goredis-test-tag}.b")
	t.Cleanup(func() { _, _ = d.Del(context.Background(), ks[40:]...) })
	for i, k := range ks {
		if i%4 != 0 {
			must(t, d.Set(ctx, k, []byte(k), time.Minute))
		}
	}
	got, err := d.MGet(ctx, ks...)
	must(t, err)
	for i, v := range got {
		if i%4 == 0 {
			if v != nil {
				t.Fatalf("MGet[%d] = %q, want nil", i, v)
			}
		} else if !bytes.Equal(v, []byte(ks[i])) {
			t.Fatalf("MGet[%d] = %q, want %q", i, v, ks[i])
		}
	}
	n, err := d.Del(ctx, ks...)
	must(t, err)
	if want := int64(len(ks) - (len(ks)+3)/4); n != want {
		t.Fatalf("Del = %d, want %d", n, want)
	}
}

func TestClusterForEachNode(t *testing.T) {
	c := clusterClient(t)
	d := goredis.New(c)
	ctx := ctxT(t)
	var (
		inFlight, maxInFlight atomic.Int32
		ids                   []string
	)
	err := d.ForEachNode(ctx, func(ctx context.Context, node conn.Driver) error {
		if n := inFlight.Add(1); n > maxInFlight.Load() {
			maxInFlight.Store(n)
		}
		defer inFlight.Add(-1)
		time.Sleep(10 * time.Millisecond)
		v, err := node.Do(ctx, "CLUSTER", "MYID")
		if err != nil {
			return err
		}
		ids = append(ids, v.(string))
		return node.Close() // a node driver's Close leaves the cluster alone
	})
	must(t, err)
	if want := len(conntest.ClusterAddrs(t)); len(ids) != want {
		t.Fatalf("ForEachNode visited %d nodes (%q), want %d", len(ids), ids, want)
	}
	sort.Strings(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Fatalf("node %s visited twice", ids[i])
		}
	}
	if maxInFlight.Load() != 1 {
		t.Fatalf("fn ran on %d nodes at once, want one at a time", maxInFlight.Load())
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the cluster client after closing node drivers: %v", err)
	}
}

func TestStandaloneForEachNodeIsSelf(t *testing.T) {
	d := goredis.New(standaloneClient(t, 2))
	calls := 0
	err := d.ForEachNode(ctxT(t), func(_ context.Context, node conn.Driver) error {
		calls++
		if node != conn.Driver(d) {
			t.Errorf("ForEachNode on one server passed %v, want the driver itself", node)
		}
		return nil
	})
	must(t, err)
	if calls != 1 {
		t.Fatalf("fn called %d times, want 1", calls)
	}
}

func TestRing(t *testing.T) {
	// A ring of two "shards" on the same server is enough to check that
	// MGet and Del work key by key and that ForEachNode sees both.
	addr := conntest.RedisAddr(t)
	r := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr, "b": addr}, ContextTimeoutEnabled: true})
	d := goredis.New(r, goredis.WithOwnedClient())
	defer d.Close()
	ctx := ctxT(t)
	ks := keys(t, d, 10)
	for i, k := range ks {
		if i%2 == 0 {
			must(t, d.Set(ctx, k, []byte(k), time.Minute))
		}
	}
	_, err := d.Do(ctx, "RPUSH", ks[1], "a list, which MGET reads as missing")
	must(t, err)
	got, err := d.MGet(ctx, ks...)
	must(t, err)
	for i, v := range got {
		if (i%2 == 0) != (v != nil) || (v != nil && string(v) != ks[i]) {
			t.Fatalf("MGet[%d] = %q", i, v)
		}
	}
	n, err := d.Del(ctx, ks...)
	must(t, err)
	if n != 6 {
		t.Fatalf("Del = %d, want 6", n)
	}
	nodes := 0
	must(t, d.ForEachNode(ctx, func(context.Context, conn.Driver) error { nodes++; return nil }))
	if nodes != 2 {
		t.Fatalf("ForEachNode on a ring of 2 visited %d", nodes)
	}
}

func TestDoBlockedCallDeadline(t *testing.T) {
	// A RESP3 client, to check the deadline path on the protocol Open does
	// not use.
	d := goredis.New(standaloneClient(t, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.Do(ctx, "BLPOP", "goredis-test:nothing", 5)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BLPOP past its deadline = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("BLPOP returned %v after its deadline", took)
	}
	if strings.Contains(fmt.Sprint(err), "redis: nil") {
		t.Fatalf("deadline error looks like a miss: %v", err)
	}
}

func TestClientSideCacheValuesAreCopied(t *testing.T) {
	// go-redis's client-side cache hands the same string to every reader
	// of a key; the driver must not let one caller's writes reach another.
	c := redis.NewClient(&redis.Options{
		Addr:                  conntest.RedisAddr(t),
		Protocol:              3,
		ContextTimeoutEnabled: true,
		ClientSideCacheConfig: &redis.ClientSideCacheConfig{},
	})
	t.Cleanup(func() { _ = c.Close() })
	d := goredis.New(c)
	ctx := ctxT(t)
	k := keys(t, d, 1)[0]
	must(t, d.Set(ctx, k, []byte("cached"), time.Minute))
	for i := 0; i < 3; i++ {
		v, err := d.Get(ctx, k)
		must(t, err)
		if string(v) != "cached" {
			t.Fatalf("read %d = %q: a caller's write reached the cache", i, v)
		}
		v[0] = 'X'
	}
}

func TestRingPublish(t *testing.T) {
	addr := conntest.RedisAddr(t)
	r := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr, "b": addr}, ContextTimeoutEnabled: true})
	d := goredis.New(r, goredis.WithOwnedClient())
	defer d.Close()
	ctx := ctxT(t)
	sub, err := d.Subscribe(ctx, "goredis-test:ring")
	must(t, err)
	defer sub.Close()
	n, err := d.Do(ctx, "PUBLISH", "goredis-test:ring", "hi")
	must(t, err)
	if n != int64(1) {
		t.Fatalf("PUBLISH reached %v subscribers, want 1", n)
	}
	m, err := sub.Receive(ctx)
	must(t, err)
	if string(m.Payload) != "hi" {
		t.Fatalf("Receive = %+v", m)
	}
}
