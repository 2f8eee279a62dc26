package radix_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// key returns a fresh key, deleted when the test ends.
func key(t testing.TB, d conn.Driver, name string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	k := "radixtest:" + name + ":" + hex.EncodeToString(b)
	t.Cleanup(func() { _, _ = d.Del(context.Background(), k) })
	return k
}

var testTimeout = 30 * time.Second

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// drivers returns the drivers a test runs against: standalone over RESP2
// and RESP3, and a cluster, each when its server is there.
func drivers(t *testing.T, fn func(t *testing.T, d *radix.Driver, cluster bool)) {
	t.Run("standalone", func(t *testing.T) {
		fn(t, openT(t, "redis://"+conntest.RedisAddr(t)), false)
	})
	t.Run("standaloneRESP3", func(t *testing.T) {
		fn(t, openT(t, "redis://"+conntest.RedisAddr(t)+"?protocol=3"), false)
	})
	t.Run("cluster", func(t *testing.T) {
		fn(t, openT(t, clusterURL(conntest.ClusterAddrs(t))), true)
	})
}

// TestDoReplies checks the reply table of conn.Driver.Do on replies that
// differ between RESP2 and RESP3.
func TestDoReplies(t *testing.T) {
	drivers(t, func(t *testing.T, d *radix.Driver, cluster bool) {
		ctx := ctxT(t)
		h, s, z := key(t, d, "h"), key(t, d, "s"), key(t, d, "z")
		_, err := d.Do(ctx, "HSET", h, "f", "v")
		must(t, err)
		_, err = d.Do(ctx, "SADD", s, "only")
		must(t, err)
		_, err = d.Do(ctx, "ZADD", z, "+inf", "m", 0.25, "n")
		must(t, err)
		cases := []struct {
			args []any
			want any
		}{
			{[]any{"HGETALL", h}, []any{"f", "v"}},
			{[]any{"SMEMBERS", s}, []any{"only"}},
			{[]any{"ZSCORE", z, "m"}, "inf"},
			{[]any{"ZSCORE", z, "n"}, "0.25"},
			{[]any{"EVAL", "return true", 0}, int64(1)},
			{[]any{"EVAL", "return {1, 'two', false}", 0}, []any{int64(1), "two", nil}},
			{[]any{"EVAL", "return redis.call('HGETALL', KEYS[1])", 1, h}, []any{"f", "v"}},
		}
		for _, c := range cases {
			got, err := d.Do(ctx, c.args...)
			must(t, err)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Do%v = %#v, want %#v", c.args, got, c.want)
			}
		}
	})
}

// TestPipelineTransaction checks MULTI ... EXEC inside a pipeline, with an
// error reply nested in EXEC's reply.
func TestPipelineTransaction(t *testing.T) {
	drivers(t, func(t *testing.T, d *radix.Driver, cluster bool) {
		ctx := ctxT(t)
		k := key(t, d, "tx")
		cmds := []*conn.Cmd{
			conn.NewCmd("MULTI"),
			conn.NewCmd("SET", k, "v"),
			conn.NewCmd("LPUSH", k, "x"), // fails when EXEC runs it
			conn.NewCmd("GET", k),
			conn.NewCmd("EXEC"),
		}
		must(t, d.Pipeline(ctx, cmds...))
		for i, want := range []any{"OK", "QUEUED", "QUEUED", "QUEUED"} {
			if cmds[i].Err != nil || cmds[i].Reply != want {
				t.Errorf("cmd %d = %#v, %v; want %q", i, cmds[i].Reply, cmds[i].Err, want)
			}
		}
		res, ok := cmds[4].Reply.([]any)
		if !ok || len(res) != 3 || res[0] != "OK" || res[2] != "v" || !conn.IsReplyError(asErr(res[1]), "WRONGTYPE") {
			t.Fatalf("EXEC = %#v, %v; want [OK, WRONGTYPE error, v]", cmds[4].Reply, cmds[4].Err)
		}
	})
}

func asErr(v any) error {
	err, _ := v.(error)
	return err
}

func TestRefusedCommandsAndArgs(t *testing.T) {
	d := openT(t, "redis://"+conntest.RedisAddr(t))
	ctx := ctxT(t)
	for _, args := range [][]any{
		{"SELECT", 1}, {"multi"}, {"WATCH", "k"}, {"subscribe", "c"}, {"MONITOR"},
		{"client", "reply", "off"}, {"QUIT"},
	} {
		if _, err := d.Do(ctx, args...); !errors.Is(err, radix.ErrStatefulCommand) {
			t.Errorf("Do%v = %v, want ErrStatefulCommand", args, err)
		}
	}
	for _, args := range [][]any{{}, {"SET", "k", struct{}{}}, {"SET", "k", nil}, {"GET", []int{1}}} {
		if _, err := d.Do(ctx, args...); !errors.Is(err, conn.ErrBadArg) {
			t.Errorf("Do%v = %v, want ErrBadArg", args, err)
		}
	}
	if _, err := d.Eval(ctx, nil, nil); !errors.Is(err, conn.ErrBadArg) {
		t.Errorf("Eval(nil script) = %v, want ErrBadArg", err)
	}
	if _, err := d.Subscribe(ctx); !errors.Is(err, conn.ErrBadArg) {
		t.Errorf("Subscribe() = %v, want ErrBadArg", err)
	}

	// Types defined on basic kinds are sent by their value.
	type userID int64
	type name string
	k := key(t, d, "named")
	_, err := d.Do(ctx, "SET", k, userID(42))
	must(t, err)
	if v, _ := d.Do(ctx, "GET", k); v != "42" {
		t.Errorf("userID(42) sent as %#v", v)
	}
	_, err = d.Do(ctx, "SET", k, name("n"))
	must(t, err)
	if v, _ := d.Do(ctx, "GET", k); v != "n" {
		t.Errorf("name(n) sent as %#v", v)
	}

	// In a pipeline, a refused command fails alone.
	k2 := key(t, d, "pipe")
	cmds := []*conn.Cmd{conn.NewCmd("SET", k2, "1"), conn.NewCmd("SELECT", 2), conn.NewCmd("GET", k2, struct{}{}), conn.NewCmd("GET", k2)}
	must(t, d.Pipeline(ctx, cmds...))
	if !errors.Is(cmds[1].Err, radix.ErrStatefulCommand) || !errors.Is(cmds[2].Err, conn.ErrBadArg) {
		t.Errorf("refused commands in a pipeline: %v, %v", cmds[1].Err, cmds[2].Err)
	}
	if cmds[0].Reply != "OK" || cmds[3].Reply != "1" {
		t.Errorf("the other commands: %#v, %#v", cmds[0].Reply, cmds[3].Reply)
	}
}

// TestCluster checks what only a cluster shows.
func TestCluster(t *testing.T) {
	addrs := conntest.ClusterAddrs(t)
	d := openT(t, clusterURL(addrs))
	ctx := ctxT(t)

	nodes := 0
	must(t, d.ForEachNode(ctx, func(ctx context.Context, node conn.Driver) error {
		nodes++
		v, err := node.Do(ctx, "CLUSTER", "MYID")
		if err != nil {
			return err
		}
		if _, ok := v.(string); !ok {
			return fmt.Errorf("CLUSTER MYID = %#v", v)
		}
		return node.Close() // closing a node driver leaves d alone
	}))
	if nodes != len(addrs) {
		t.Errorf("ForEachNode visited %d nodes, want %d", nodes, len(addrs))
	}
	if _, err := d.Do(ctx, "PING"); err != nil {
		t.Fatalf("PING after closing node drivers: %v", err)
	}

	// Keys with one hash tag go together; different slots are refused by
	// Redis, not by the driver, and reported as such.
	a, b := key(t, d, "{t}a"), key(t, d, "{t}b") // hash tag "t"
	sc := conn.NewScript(`redis.call("SET", KEYS[1], ARGV[1]); redis.call("SET", KEYS[2], ARGV[1]); return redis.call("MGET", KEYS[1], KEYS[2])`)
	v, err := d.Eval(ctx, sc, []string{a, b}, "x")
	must(t, err)
	if !reflect.DeepEqual(v, []any{"x", "x"}) {
		t.Fatalf("Eval with hash-tagged keys = %#v", v)
	}
	x, y := key(t, d, "x"), key(t, d, "y")
	for i := 0; slotOf(x) == slotOf(y); i++ {
		y = key(t, d, fmt.Sprint("y", i))
	}
	if _, err := d.Eval(ctx, sc, []string{x, y}, "x"); !conn.IsReplyError(err, "CROSSSLOT") {
		t.Fatalf("Eval across slots = %v, want CROSSSLOT", err)
	}

	// A large pipeline over every node keeps its order.
	var cmds []*conn.Cmd
	for i := 0; i < 500; i++ {
		k := key(t, d, fmt.Sprint("p", i))
		cmds = append(cmds, conn.NewCmd("INCRBY", k, i), conn.NewCmd("GET", k), conn.NewCmd("PING"))
	}
	must(t, d.Pipeline(ctx, cmds...))
	for i := 0; i < 500; i++ {
		if c := cmds[3*i]; c.Reply != int64(i) {
			t.Fatalf("INCRBY %d = %#v, %v", i, c.Reply, c.Err)
		}
		if c := cmds[3*i+1]; c.Reply != fmt.Sprint(i) {
			t.Fatalf("GET %d = %#v, %v", i, c.Reply, c.Err)
		}
		if c := cmds[3*i+2]; c.Reply != "PONG" {
			t.Fatalf("PING %d = %#v, %v", i, c.Reply, c.Err)
		}
	}

	// A raw radix Cluster refuses a pipeline across slots; the driver
	// splits it.
	p := rdx.NewPipeline()
	p.Append(rdx.Cmd(nil, "GET", x))
	p.Append(rdx.Cmd(nil, "GET", y))
	if err := d.Client().Do(ctx, p); err == nil {
		t.Log("note: radix accepted a pipeline across slots")
	}
}

func slotOf(k string) uint16 { return rdx.ClusterSlot([]byte(k)) }

// TestCancelledCallsKeepRepliesStraight cancels calls at random points on
// shared connections while other calls run, and checks that no call ever
// reads another's reply.
func TestCancelledCallsKeepRepliesStraight(t *testing.T) {
	drivers(t, func(t *testing.T, d *radix.Driver, cluster bool) {
		ctx := ctxT(t)
		const workers = 16
		var wg sync.WaitGroup
		errc := make(chan error, workers)
		for w := 0; w < workers; w++ {
			k := key(t, d, fmt.Sprint("cancel", w))
			wg.Add(1)
			go func(w int, k string) {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					want := []byte(fmt.Sprintf("%d/%d", w, i))
					if w%2 == 0 {
						// The cancelled ones: a deadline somewhere inside
						// the round trip.
						cctx, cancel := context.WithTimeout(ctx, time.Duration(i%50)*time.Microsecond)
						_ = d.Set(cctx, k, want, time.Minute)
						_, _ = d.Get(cctx, k)
						_, _ = d.MGet(cctx, k, k)
						_ = d.Pipeline(cctx, conn.NewCmd("GET", k), conn.NewCmd("PING"))
						cancel()
						continue
					}
					if err := d.Set(ctx, k, want, time.Minute); err != nil {
						errc <- err
						return
					}
					got, err := d.Get(ctx, k)
					if err != nil {
						errc <- err
						return
					}
					if string(got) != string(want) {
						errc <- fmt.Errorf("worker %d read %q, want %q", w, got, want)
						return
					}
				}
			}(w, k)
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
		k := key(t, d, "after")
		for i := 0; i < 50; i++ {
			v := []byte(fmt.Sprint(i))
			must(t, d.Set(ctx, k, v, time.Minute))
			got, err := d.Get(ctx, k)
			must(t, err)
			if string(got) != string(v) {
				t.Fatalf("after the cancellations: read %q, want %q", got, v)
			}
		}
	})
}

func TestCloseOwnership(t *testing.T) {
	addr := conntest.RedisAddr(t)
	ctx := ctxT(t)
	pool, err := rdx.PoolConfig{}.New(ctx, "tcp", addr)
	must(t, err)
	defer pool.Close()

	d := radix.New(pool)
	must(t, d.Close())
	if err := pool.Do(ctx, rdx.Cmd(nil, "PING")); err != nil {
		t.Fatalf("Close closed a client the caller owns: %v", err)
	}
	if _, err := d.Get(ctx, "k"); !errors.Is(err, conn.ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}

	d = radix.New(pool, radix.WithOwnedClient())
	must(t, d.Close())
	if err := pool.Do(ctx, rdx.Cmd(nil, "PING")); err == nil {
		t.Fatal("Close with WithOwnedClient left the client open")
	}
}

// TestCloseEndsSubscriptions checks that a driver's Close ends the
// subscriptions made through it.
func TestCloseEndsSubscriptions(t *testing.T) {
	d, err := radix.Open(ctxT(t), "redis://"+conntest.RedisAddr(t))
	must(t, err)
	sub, err := d.Subscribe(ctxT(t), "radixtest:close")
	must(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := sub.Receive(context.Background())
		done <- err
	}()
	must(t, d.Close())
	select {
	case err := <-done:
		if !errors.Is(err, conn.ErrClosed) {
			t.Fatalf("Receive after the driver closed = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("closing the driver left Receive blocked")
	}
	if _, err := d.Subscribe(ctxT(t), "x"); !errors.Is(err, conn.ErrClosed) {
		t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

// TestNoGoroutineLeak checks that Close stops everything Open started:
// radix's pool, cluster and connection goroutines, and subscriptions.
func TestNoGoroutineLeak(t *testing.T) {
	urls := []string{"redis://" + conntest.RedisAddr(t) + "?pool_size=8"}
	if v := os.Getenv(conntest.EnvCluster); v != "" {
		urls = append(urls, clusterURL(strings.Split(v, ",")))
	}
	for _, u := range urls {
		before := runtime.NumGoroutine()
		ctx := ctxT(t)
		d, err := radix.Open(ctx, u)
		must(t, err)
		k := key(t, d, "leak")
		must(t, d.Set(ctx, k, []byte("v"), time.Minute))
		_, err = d.MGet(ctx, k, k+"x", k+"y")
		must(t, err)
		sub, err := d.Subscribe(ctx, "radixtest:leak")
		must(t, err)
		_ = sub
		tctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		_, _ = d.Do(tctx, "BLPOP", k+"list", 0)
		cancel()
		_, _ = d.Del(ctx, k)
		must(t, d.Close())
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Fatalf("%s: %d goroutines before Open, %d after Close:\n%s", u, before, n, buf[:runtime.Stack(buf, true)])
		}
	}
}

func TestOpenDatabase(t *testing.T) {
	addr := conntest.RedisAddr(t)
	ctx := ctxT(t)
	d5 := openT(t, "redis://"+addr+"/5")
	d0 := openT(t, "redis://"+addr)
	k := key(t, d5, "db")
	must(t, d5.Set(ctx, k, []byte("five"), time.Minute))
	if _, err := d0.Get(ctx, k); !errors.Is(err, conn.ErrMiss) {
		t.Fatalf("the key written in db 5 is in db 0: %v", err)
	}
	// A subscription's own connection works in any database (pub/sub
	// ignores them), and it is dialled with the URL's settings.
	sub, err := d5.Subscribe(ctx, "radixtest:db")
	must(t, err)
	defer sub.Close()
	_, err = d0.Do(ctx, "PUBLISH", "radixtest:db", "hi")
	must(t, err)
	m, err := sub.Receive(ctx)
	must(t, err)
	if string(m.Payload) != "hi" {
		t.Fatalf("Receive = %q", m.Payload)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := ctxT(t)
	if _, err := radix.Open(ctx, "http://localhost"); !errors.Is(err, radix.ErrBadURL) || !errors.Is(err, conn.ErrBadURL) {
		t.Fatalf("Open(http://) = %v, want ErrBadURL", err)
	}
	// Out of range options fail before any dial: in the URL as a bad URL,
	// given to WithPoolSize as a bad argument.
	for _, c := range []struct {
		url  string
		opts []radix.Option
		want error
	}{
		{"redis+cluster://u:hunter2@127.0.0.1:1?pool_size=-3", nil, conn.ErrBadURL},
		{"redis://u:hunter2@127.0.0.1:1", []radix.Option{radix.WithPoolSize(-3)}, conn.ErrBadArg},
		{"redis://u:hunter2@127.0.0.1:1", []radix.Option{radix.WithPoolSize(1 << 40)}, conn.ErrBadArg},
	} {
		_, err := radix.Open(ctx, c.url, c.opts...)
		if !errors.Is(err, c.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%s) = %v, want %v without the password", c.url, err, c.want)
		}
	}
	// Nothing listens on a port just released.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	free := ln.Addr().String()
	ln.Close()
	_, err = radix.Open(ctx, "redis://"+free)
	if err == nil || errors.Is(err, radix.ErrBadURL) {
		t.Fatalf("Open(no server) = %v, want a dial error", err)
	}
	addr := conntest.RedisAddr(t)
	_, err = radix.Open(ctx, "redis://nosuchuser:hunter2@"+addr)
	if err == nil {
		t.Fatal("Open with a wrong user succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("the error shows the password: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := radix.Open(cctx, "redis://"+addr); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context = %v", err)
	}
}

// TestOpenTLS runs calls over rediss:// through a TLS proxy in front of
// the test server.
func TestOpenTLS(t *testing.T) {
	addr := conntest.RedisAddr(t)
	cert, pool := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	must(t, err)
	proxy(t, ln, "tcp", addr)

	d := openT(t, "rediss://"+ln.Addr().String(), radix.WithTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	smoke(t, d)

	// Without the CA the certificate is refused, unless told to skip.
	if _, err := radix.Open(ctxT(t), "rediss://"+ln.Addr().String()); err == nil {
		t.Fatal("Open trusted a self-signed certificate")
	}
	smoke(t, openT(t, "rediss://"+ln.Addr().String()+"?skip_verify=true"))
}

// TestOpenUnix runs calls over unix:// through a socket proxy in front of
// the test server.
func TestOpenUnix(t *testing.T) {
	addr := conntest.RedisAddr(t)
	sock := filepath.Join(t.TempDir(), "redis.sock")
	ln, err := net.Listen("unix", sock)
	must(t, err)
	proxy(t, ln, "tcp", addr)
	smoke(t, openT(t, "unix://"+sock+"?db=3"))
}

// smoke checks a driver end to end: commands and a subscription.
func smoke(t *testing.T, d *radix.Driver) {
	t.Helper()
	ctx := ctxT(t)
	k := key(t, d, "smoke")
	must(t, d.Set(ctx, k, []byte("v"), time.Minute))
	got, err := d.Get(ctx, k)
	must(t, err)
	if string(got) != "v" {
		t.Fatalf("Get = %q", got)
	}
	ch := "radixtest:smoke:" + k
	sub, err := d.Subscribe(ctx, ch)
	must(t, err)
	defer sub.Close()
	_, err = d.Do(ctx, "PUBLISH", ch, "m")
	must(t, err)
	m, err := sub.Receive(ctx)
	must(t, err)
	if m.Channel != ch || string(m.Payload) != "m" {
		t.Fatalf("Receive = %q %q", m.Channel, m.Payload)
	}
}

// proxy forwards the connections accepted by ln to target until the test
// ends.
func proxy(t *testing.T, ln net.Listener, network, target string) {
	t.Helper()
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial(network, target)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(s)
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(s, c); s.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "redcache test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	leaf, err := x509.ParseCertificate(der)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
