package tests_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// proxy stands between a driver and the test Redis, so a test can take
// Redis away (refuse connections), make it hang (accept and never answer)
// or bring it back, without touching the server other tests share.
type proxy struct {
	t        *testing.T
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	mode  string // "up", "down", "hang"
	conns []net.Conn
}

func newProxy(t *testing.T) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, upstream: conntest.RedisAddr(t), mode: "up"}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.set("down")
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// set changes the mode; leaving "up" cuts every open connection.
func (p *proxy) set(mode string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
	if mode != "up" {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		switch mode {
		case "down":
			c.Close()
		case "hang":
			p.track(c) // read nothing, answer nothing, until set() cuts it
		default:
			up, err := net.Dial("tcp", p.upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.track(c, up)
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}
}

func (p *proxy) track(cs ...net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, cs...)
	p.mu.Unlock()
}

// proxiedTargets are both drivers, talking to the test Redis through p.
func proxiedTargets(t *testing.T, p *proxy) []target {
	return []target{
		{"goredis", func(tb testing.TB) conn.Driver {
			return openGoredis(tb, "redis://"+p.addr()+"?max_retries=-1&dial_timeout=200ms")
		}},
		{"radix", func(tb testing.TB) conn.Driver { return openRadix(tb, "redis://"+p.addr()) }},
	}
}

func TestRedisDownAndBack(t *testing.T) {
	for i, name := range []string{"goredis", "radix"} {
		t.Run(name, func(t *testing.T) {
			p := newProxy(t)
			d := proxiedTargets(t, p)[i].open(t)
			ctx := testCtx(t)
			log := &errorLog{}
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
				core.WithErrorHandler(log.handler), core.WithTimeout(200*time.Millisecond),
				core.WithBreaker(3, 200*time.Millisecond))
			var calls counter
			get := core.Memoize(m, "down", func(_ context.Context, i int) (int, error) { calls.inc(); return i, nil })
			if v, err := get.Get(ctx, 1); err != nil || v != 1 {
				t.Fatalf("healthy: %v, %v", v, err)
			}
			get.Get(ctx, 1)
			if calls.n() != 1 {
				t.Fatal("healthy Redis did not cache")
			}

			p.set("down")
			for i := 0; i < 10; i++ {
				v, err := get.Get(ctx, 1)
				if err != nil || v != 1 {
					t.Fatalf("Redis down: Get = %v, %v; want the loader's value", v, err)
				}
			}
			s := m.Stats()
			if s.Breaker != core.BreakerOpen {
				t.Fatalf("breaker = %v after 10 failing calls, want open", s.Breaker)
			}
			if s.Bypassed == 0 || s.RedisErrors == 0 {
				t.Fatalf("stats = %+v: failures and bypasses must be counted", s)
			}
			var sawOpen, sawRedis bool
			for _, err := range log.all() {
				var ce *core.Error
				if !errors.As(err, &ce) {
					t.Fatalf("reported %T, want *core.Error", err)
				}
				sawOpen = sawOpen || errors.Is(err, core.ErrCircuitOpen)
				sawRedis = sawRedis || ce.Op == core.OpLoad || ce.Op == core.OpGeneration || ce.Op == core.OpSave
			}
			if !sawOpen || !sawRedis {
				t.Fatalf("reported %v: want the Redis failures and the breaker opening", log.all())
			}

			p.set("up")
			eventually(t, "the breaker to close after Redis came back", func() bool {
				get.Get(ctx, 2)
				return m.Stats().Breaker == core.BreakerClosed
			})
			// A pool may hold connections that died with the server; each
			// fails once before it is replaced. Hits must come back.
			k := 100
			eventually(t, "hits after recovery", func() bool {
				k++
				before := calls.n()
				get.Get(ctx, k)
				get.Get(ctx, k)
				return calls.n() == before+1
			})
		})
	}
}

func TestRedisHangs(t *testing.T) {
	for i, name := range []string{"goredis", "radix"} {
		t.Run(name, func(t *testing.T) {
			p := newProxy(t)
			d := proxiedTargets(t, p)[i].open(t)
			ctx := testCtx(t)
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
				core.WithTimeout(50*time.Millisecond), core.WithBreaker(2, time.Hour))
			get := core.Memoize(m, "hang", func(_ context.Context, i int) (int, error) { return i, nil })
			get.Get(ctx, 0) // connect while healthy
			p.set("hang")
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 0; i < 20; i++ {
					if v, err := get.Get(ctx, 1); err != nil || v != 1 {
						t.Errorf("Redis hanging: Get = %v, %v", v, err)
						return
					}
				}
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("calls hung with Redis hanging: the timeout does not bound them")
			}
			if s := m.Stats(); s.Breaker != core.BreakerOpen || s.Bypassed < 15 {
				t.Fatalf("stats = %+v: a hanging Redis must open the breaker and be bypassed", s)
			}
		})
	}
}

func TestCorruptEntries(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		log := &errorLog{}
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithErrorHandler(log.handler))
		var calls counter
		get := core.Memoize(m, "corrupt", func(_ context.Context, k string) (string, error) {
			calls.inc()
			return "good:" + k, nil
		})
		valid := func(k string) []byte {
			get.Get(ctx, k)
			key, _ := get.Key(k)
			b, err := d.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		good := valid("template")
		flipped := append([]byte(nil), good...)
		flipped[len(flipped)-1] ^= 0x01
		truncated := good[:len(good)-3]
		cases := map[string][]byte{
			"foreign bytes": []byte("hello, not ours"),
			"empty":         {},
			"bit flip":      flipped,
			"truncated":     truncated,
			// Version 0 never existed; a newer version is a quiet miss
			// (TestNewerEntriesAreQuietMisses).
			"version 0": append([]byte{0xC5, 0x00}, good[2:]...),
		}
		// An entry written by a JSON manager is foreign to a Gob one.
		jm := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix+"j"), core.WithCodec(codec.JSON))
		jget := core.Memoize(jm, "corrupt", func(_ context.Context, k string) (string, error) { return "json", nil })
		jget.Get(ctx, "x")
		jkey, _ := jget.Key("x")
		jbytes, _ := d.Get(ctx, jkey)
		cases["other codec"] = jbytes

		for name, raw := range cases {
			t.Run(name, func(t *testing.T) {
				key, _ := get.Key(name)
				if err := d.Set(ctx, key, raw, time.Minute); err != nil {
					t.Fatal(err)
				}
				before, reported := calls.n(), len(log.all())
				v, err := get.Get(ctx, name)
				if err != nil || v != "good:"+name {
					t.Fatalf("Get over a corrupt entry = %q, %v; want the loader's value", v, err)
				}
				if calls.n() != before+1 {
					t.Fatal("a corrupt entry was served as a hit")
				}
				errs := log.all()[reported:]
				if len(errs) != 1 || !errors.Is(errs[0], core.ErrCorruptEntry) {
					t.Fatalf("reported %v, want one ErrCorruptEntry", errs)
				}
				// Overwritten: the next call hits.
				get.Get(ctx, name)
				if calls.n() != before+1 {
					t.Fatal("the corrupt entry was not overwritten")
				}
			})
		}
		if s := m.Stats(); s.CorruptEntries != uint64(len(cases)) {
			t.Fatalf("CorruptEntries = %d, want %d", s.CorruptEntries, len(cases))
		}
	})
}

// failingStore fails every Save, as a full Redis would.
type failingStore struct{ core.RedisStore }

var errFull = &conn.ReplyError{Msg: "OOM command not allowed when used memory > 'maxmemory'."}

func (failingStore) Save(context.Context, conn.Driver, string, []byte, time.Duration) error {
	return errFull
}

func TestFailedWriteNeverFailsTheCall(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		log := &errorLog{}
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithStore(failingStore{}), core.WithErrorHandler(log.handler))
		get := core.Memoize(m, "full", func(_ context.Context, i int) (int, error) { return i * 2, nil })
		for i := 0; i < 10; i++ {
			if v, err := get.Get(ctx, 21); err != nil || v != 42 {
				t.Fatalf("Get with failing writes = %v, %v", v, err)
			}
		}
		errs := log.all()
		if len(errs) != 10 || !conn.IsReplyError(errs[0], "OOM") {
			t.Fatalf("reported %d errors (%v), want 10 OOM", len(errs), errs)
		}
		if s := m.Stats(); s.Breaker != core.BreakerClosed {
			t.Fatal("refusals from a live Redis opened the breaker")
		}

		// A value the codec cannot encode is returned and reported.
		log2 := &errorLog{}
		m2 := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)), core.WithErrorHandler(log2.handler))
		fn := core.Memoize(m2, "unencodable", func(context.Context, int) (func(), error) { return func() {}, nil })
		if v, err := fn.Get(ctx, 1); err != nil || v == nil {
			t.Fatalf("unencodable value: nil=%t, %v", v == nil, err)
		}
		if errs := log2.all(); len(errs) != 1 || errs[0].(*core.Error).Op != core.OpEncode {
			t.Fatalf("reported %v, want one encode error", errs)
		}
	})
}

func TestUnsupportedKeys(t *testing.T) {
	m := core.New()
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if r := recover(); r == nil {
				t.Fatalf("%s did not panic", name)
			} else if err, ok := r.(error); ok && name != "bad name" && !errors.Is(err, core.ErrUnsupportedKey) {
				t.Fatalf("%s panicked with %v", name, r)
			}
		}()
		f()
	}
	mustPanic("chan", func() { core.Memoize(m, "c", func(context.Context, chan int) (int, error) { return 0, nil }) })
	mustPanic("func field", func() {
		core.Memoize(m, "f", func(context.Context, struct{ F func() }) (int, error) { return 0, nil })
	})
	mustPanic("bad name", func() { core.Memoize(m, "a:b", func(context.Context, int) (int, error) { return 0, nil }) })

	get := core.Memoize(m, "any", func(context.Context, any) (int, error) { return 1, nil })
	if _, err := get.Get(context.Background(), make(chan int)); !errors.Is(err, core.ErrUnsupportedKey) {
		t.Fatalf("a channel in an interface argument = %v, want ErrUnsupportedKey", err)
	}
}

func TestClose(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		started := make(chan struct{})
		get := core.Memoize(m, "close", func(ctx context.Context, _ int) (int, error) {
			close(started)
			<-ctx.Done() // a loader that runs until it is told to stop
			return 0, ctx.Err()
		})
		short, cancel := context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		if _, err := get.Get(short, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Get = %v", err)
		}
		done := make(chan struct{})
		go func() { m.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not stop the abandoned load")
		}
		// After Close, calls go straight to the loader.
		after := core.Memoize(m, "after", func(context.Context, int) (int, error) { return 9, nil })
		if v, err := after.Get(context.Background(), 1); err != nil || v != 9 {
			t.Fatalf("after Close: %v, %v", v, err)
		}
	})
}
