package memory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/memory"
)

// clock is a fake clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newT(t *testing.T, opts ...memory.Option) *memory.Driver {
	t.Helper()
	d := memory.New(opts...)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, d *memory.Driver, args ...any) any {
	t.Helper()
	v, err := d.Do(ctxT(t), args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

func TestExpiryFollowsTheClock(t *testing.T) {
	clk := newClock()
	d := newT(t, memory.WithClock(clk.Now))
	ctx := ctxT(t)
	must(t, d.Set(ctx, "k", []byte("v"), 1500*time.Millisecond))
	if p := do(t, d, "PTTL", "k"); p != int64(1500) {
		t.Fatalf("PTTL = %v, want 1500", p)
	}
	clk.Add(1499 * time.Millisecond)
	if p := do(t, d, "PTTL", "k"); p != int64(1) {
		t.Fatalf("PTTL 1ms before expiry = %v, want 1", p)
	}
	if _, err := d.Get(ctx, "k"); err != nil {
		t.Fatalf("Get before expiry: %v", err)
	}
	clk.Add(time.Millisecond)
	if _, err := d.Get(ctx, "k"); !errors.Is(err, conn.ErrMiss) {
		t.Fatalf("Get at expiry = %v, want ErrMiss", err)
	}
	if p := do(t, d, "PTTL", "k"); p != int64(-2) {
		t.Fatalf("PTTL after expiry = %v, want -2", p)
	}

	// EXPIRE, TTL, PERSIST, and a key that expires out of MGET, EXISTS,
	// KEYS, SCAN and DBSIZE.
	must(t, d.Set(ctx, "a", []byte("1"), 0))
	must(t, d.Set(ctx, "b", []byte("2"), 0))
	do(t, d, "EXPIRE", "a", 10)
	if v := do(t, d, "TTL", "a"); v != int64(10) {
		t.Fatalf("TTL = %v, want 10", v)
	}
	do(t, d, "EXPIRE", "b", 10)
	if v := do(t, d, "PERSIST", "b"); v != int64(1) {
		t.Fatalf("PERSIST = %v, want 1", v)
	}
	clk.Add(10 * time.Second)
	vals, err := d.MGet(ctx, "a", "b")
	must(t, err)
	if vals[0] != nil || string(vals[1]) != "2" {
		t.Fatalf("MGet after a expired = %q", vals)
	}
	if v := do(t, d, "EXISTS", "a", "b"); v != int64(1) {
		t.Fatalf("EXISTS = %v, want 1", v)
	}
	if v := do(t, d, "DBSIZE"); v != int64(1) {
		t.Fatalf("DBSIZE = %v, want 1", v)
	}
	if v := do(t, d, "KEYS", "*"); fmt.Sprint(v) != "[b]" {
		t.Fatalf("KEYS = %v, want [b]", v)
	}

	// An expiry in the past deletes; PEXPIRE 0 through the typed call is
	// PERSIST.
	do(t, d, "PEXPIRE", "b", -1)
	if _, err := d.Get(ctx, "b"); !errors.Is(err, conn.ErrMiss) {
		t.Fatalf("Get after PEXPIRE -1 = %v, want ErrMiss", err)
	}
}

func TestExpiryRealClock(t *testing.T) {
	d := newT(t)
	ctx := ctxT(t)
	must(t, d.Set(ctx, "k", []byte("v"), 20*time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := d.Get(ctx, "k"); errors.Is(err, conn.ErrMiss) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a 20ms key still exists after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHookHoldsACall(t *testing.T) {
	release := make(chan struct{})
	held := make(chan []string, 1)
	d := newT(t, memory.WithHook(func(ctx context.Context, args []string) error {
		if args[0] == "SET" && args[1] == "held" {
			held <- args
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}))
	ctx := ctxT(t)
	done := make(chan error, 1)
	go func() { done <- d.Set(ctx, "held", []byte("v"), 1500*time.Millisecond) }()
	args := <-held
	if want := []string{"SET", "held", "v", "PX", "1500"}; fmt.Sprint(args) != fmt.Sprint(want) {
		t.Fatalf("hook saw %q, want %q", args, want)
	}
	// While the call is held, the command has not run, and others go on.
	if _, err := d.Get(ctx, "held"); !errors.Is(err, conn.ErrMiss) {
		t.Fatalf("Get while the Set is held = %v, want ErrMiss", err)
	}
	must(t, d.Set(ctx, "other", []byte("x"), 0))
	close(release)
	must(t, <-done)
	got, err := d.Get(ctx, "held")
	if err != nil || string(got) != "v" {
		t.Fatalf("Get after release = %q, %v", got, err)
	}
}

func TestHookContextEnds(t *testing.T) {
	d := newT(t, memory.WithHook(func(ctx context.Context, _ []string) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.Set(ctx, "k", []byte("v"), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Set held past its deadline = %v, want DeadlineExceeded", err)
	}
}

func TestHookInjectsFailures(t *testing.T) {
	boom := errors.New("injected")
	var mu sync.Mutex
	var seen [][]string
	d := newT(t, memory.WithHook(func(_ context.Context, args []string) error {
		mu.Lock()
		seen = append(seen, args)
		mu.Unlock()
		if args[0] == "GET" || args[0] == "INCR" {
			return boom
		}
		return nil
	}))
	ctx := ctxT(t)
	must(t, d.Set(ctx, "k", []byte("v"), 0))
	if _, err := d.Get(ctx, "k"); !errors.Is(err, boom) {
		t.Fatalf("Get = %v, want the injected error", err)
	}
	if _, err := d.Do(ctx, "GET", "k"); !errors.Is(err, boom) {
		t.Fatalf("Do GET = %v, want the injected error", err)
	}
	cmds := []*conn.Cmd{conn.NewCmd("SET", "n", 1), conn.NewCmd("INCR", "n"), conn.NewCmd("PING")}
	if err := d.Pipeline(ctx, cmds...); !errors.Is(err, boom) {
		t.Fatalf("Pipeline = %v, want the injected error", err)
	}
	if cmds[0].Err != nil || !errors.Is(cmds[1].Err, boom) || !errors.Is(cmds[2].Err, boom) {
		t.Fatalf("pipeline errors = %v, %v, %v; want nil, injected, injected", cmds[0].Err, cmds[1].Err, cmds[2].Err)
	}
	if v := do(t, d, "MGET", "n"); fmt.Sprint(v) != "[1]" {
		t.Fatalf("n = %v: INCR ran although the hook failed it", v)
	}
	// The hook sees the typed calls as the commands they stand for.
	_, _ = d.SetNX(ctx, "nx", []byte("v"), time.Second)
	_, _ = d.PExpire(ctx, "nx", 0)
	_, _ = d.Eval(ctx, conn.NewScript("return 1"), []string{"a"}, "b")
	sub, err := d.Subscribe(ctx, "ch")
	must(t, err)
	_ = sub.Close()
	mu.Lock()
	defer mu.Unlock()
	got := fmt.Sprint(seen[len(seen)-5:])
	want := "[[SET nx v NX PX 1000] [PERSIST nx] [EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 1 a b] [EVAL return 1 1 a b] [SUBSCRIBE ch]]"
	if got != want {
		t.Fatalf("hook saw %s\nwant %s", got, want)
	}
}

func TestUnknownCommand(t *testing.T) {
	d := newT(t)
	ctx := ctxT(t)
	for _, args := range [][]any{{"NOSUCH", "k"}, {"CLUSTER", "SLOTS"}, {"OBJECT", "ENCODING", "k"}, {"SUBSCRIBE", "ch"}} {
		v, err := d.Do(ctx, args...)
		if !conn.IsReplyError(err, "ERR") || v != nil {
			t.Errorf("Do%q = %v, %v; want nil and an ERR reply error", args, v, err)
		}
	}
	if _, err := d.Do(ctx, "GET"); !conn.IsReplyError(err, "ERR") || !strings.Contains(err.Error(), "wrong number of arguments") {
		t.Errorf("GET without a key = %v, want a wrong number of arguments error", err)
	}
	// A command without a name never reaches a server: the network
	// drivers refuse it as a bad argument, and so does this one.
	if _, err := d.Do(ctx); !errors.Is(err, conn.ErrBadArg) {
		t.Errorf("Do() = %v, want ErrBadArg", err)
	}
	empty := conn.NewCmd()
	if err := d.Pipeline(ctx, empty, conn.NewCmd("PING")); err != nil || !errors.Is(empty.Err, conn.ErrBadArg) {
		t.Errorf("Pipeline with an empty command = %v, %v; want nil, ErrBadArg", err, empty.Err)
	}
	if _, err := d.Do(ctx, "GET", struct{}{}); !errors.Is(err, conn.ErrBadArg) {
		t.Errorf("Do with a struct argument = %v, want ErrBadArg", err)
	}
}

func TestScripts(t *testing.T) {
	d := newT(t)
	ctx := ctxT(t)
	tests := []struct {
		name string
		src  string
		keys []string
		args []any
		want any
		err  string // reply error prefix
	}{
		{"number truncates", "return 3.9", nil, nil, int64(3), ""},
		{"true is 1", "return true", nil, nil, int64(1), ""},
		{"false is nil", "return false", nil, nil, nil, "miss"},
		{"array stops at nil", "return {1, 'a', nil, 'b'}", nil, nil, []any{int64(1), "a"}, ""},
		{"status reply", "return redis.status_reply('FINE')", nil, nil, "FINE", ""},
		{"error reply", "return redis.error_reply('MYERR no')", nil, nil, nil, "MYERR"},
		{"sha1hex", "return redis.sha1hex(ARGV[1])", nil, []any{"return 1"}, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", ""},
		{"call sees a missing key as false", "return redis.call('GET', KEYS[1]) == false", []string{"nokey"}, nil, int64(1), ""},
		{"call raises", "redis.call('INCR', KEYS[1]); return 'not reached'", []string{"text"}, nil, nil, "ERR"},
		{"pcall returns the error", "local r = redis.pcall('INCR', KEYS[1]); return r.err", []string{"text"}, nil, "ERR value is not an integer or out of range", ""},
		{"pcall of call", "local ok, e = pcall(redis.call, 'INCR', KEYS[1]); if ok then return 'no' end; return e.err", []string{"text"}, nil, "ERR value is not an integer or out of range", ""},
		{"status from call", "return redis.call('SET', KEYS[1], 'x')", []string{"s"}, nil, "OK", ""},
		{"status as a table", "return redis.call('SET', KEYS[1], 'x').ok", []string{"s"}, nil, "OK", ""},
		{"numbers as arguments", "redis.call('SET', KEYS[1], 42); return redis.call('INCRBY', KEYS[1], 8)", []string{"n"}, nil, int64(50), ""},
		{"no globals", "x = 1; return x", nil, nil, nil, "ERR"},
		{"no undefined globals", "return undefined_thing", nil, nil, nil, "ERR"},
		{"no files", "return dofile('/etc/passwd')", nil, nil, nil, "ERR"},
		{"does not compile", "return +", nil, nil, nil, "ERR"},
		{"no eval inside", "return redis.call('EVAL', 'return 1', 0)", nil, nil, nil, "ERR"},
	}
	must(t, d.Set(ctx, "text", []byte("abc"), 0))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := d.Eval(ctx, conn.NewScript(tc.src), tc.keys, tc.args...)
			switch tc.err {
			case "":
				if err != nil || fmt.Sprintf("%#v", v) != fmt.Sprintf("%#v", tc.want) {
					t.Fatalf("Eval = %#v, %v; want %#v", v, err, tc.want)
				}
			case "miss":
				if !errors.Is(err, conn.ErrMiss) || v != nil {
					t.Fatalf("Eval = %#v, %v; want nil, ErrMiss", v, err)
				}
			default:
				if !conn.IsReplyError(err, tc.err) {
					t.Fatalf("Eval = %#v, %v; want a reply error %s", v, err, tc.err)
				}
			}
		})
	}
}

func TestScriptCache(t *testing.T) {
	d := newT(t)
	ctx := ctxT(t)
	sc := conn.NewScript("return ARGV[1]")
	if _, err := d.Do(ctx, "EVALSHA", sc.Hash(), 0, "x"); !conn.IsReplyError(err, "NOSCRIPT") {
		t.Fatalf("EVALSHA of an unknown script = %v, want NOSCRIPT", err)
	}
	if v := do(t, d, "SCRIPT", "EXISTS", sc.Hash()); fmt.Sprint(v) != "[0]" {
		t.Fatalf("SCRIPT EXISTS = %v", v)
	}
	if v := do(t, d, "SCRIPT", "LOAD", sc.Source()); v != sc.Hash() {
		t.Fatalf("SCRIPT LOAD = %v, want %s", v, sc.Hash())
	}
	if v := do(t, d, "EVALSHA", sc.Hash(), 0, "x"); v != "x" {
		t.Fatalf("EVALSHA after LOAD = %v", v)
	}
	do(t, d, "SCRIPT", "FLUSH")
	if _, err := d.Do(ctx, "EVALSHA", sc.Hash(), 0, "x"); !conn.IsReplyError(err, "NOSCRIPT") {
		t.Fatalf("EVALSHA after SCRIPT FLUSH = %v, want NOSCRIPT", err)
	}
	// Eval falls back to EVAL, which loads the script for the next time;
	// a second driver of the same data sees it.
	if v, err := d.Eval(ctx, sc, nil, "y"); err != nil || v != "y" {
		t.Fatalf("Eval = %v, %v", v, err)
	}
	other := d.Connect()
	defer other.Close()
	if v, err := other.Do(ctx, "EVALSHA", sc.Hash(), 0, "z"); err != nil || v != "z" {
		t.Fatalf("EVALSHA from another driver = %v, %v", v, err)
	}
	if _, err := d.Do(ctx, "EVAL", "return 1", -1); !conn.IsReplyError(err, "ERR") {
		t.Fatalf("EVAL with -1 keys = %v, want ERR", err)
	}
	if _, err := d.Do(ctx, "EVAL", "return 1", 2, "k"); !conn.IsReplyError(err, "ERR") {
		t.Fatalf("EVAL with more keys than arguments = %v, want ERR", err)
	}
}

func TestScriptHonoursContext(t *testing.T) {
	d := newT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := d.Eval(ctx, conn.NewScript("while true do end"), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an endless script = %v, want DeadlineExceeded", err)
	}
	// The lock was released.
	must(t, d.Set(ctxT(t), "k", []byte("v"), 0))
}

func TestScriptIsAtomic(t *testing.T) {
	d := newT(t)
	ctx := ctxT(t)
	sc := conn.NewScript("local v = tonumber(redis.call('GET', KEYS[1]) or '0'); redis.call('SET', KEYS[1], v + 1); return v + 1")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := d.Eval(ctx, sc, []string{"counter"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := do(t, d, "GET", "counter"); v != "400" {
		t.Fatalf("counter = %v after 400 read-modify-write scripts, want 400", v)
	}
}

func TestCommands(t *testing.T) {
	d := newT(t)
	tests := []struct {
		args []any
		want string // fmt.Sprintf("%#v") of the reply, or "ERR..." for an error prefix
	}{
		{[]any{"SET", "s", "v", "NX"}, `"OK"`},
		{[]any{"SET", "s", "w", "NX"}, "miss"},
		{[]any{"SET", "s", "w", "XX", "GET"}, `"v"`},
		{[]any{"SET", "s", "x", "EX", 0}, "ERR"},
		{[]any{"SET", "long", "x", "PX", int64(90 * 24 * time.Hour / time.Millisecond)}, `"OK"`},
		{[]any{"PTTL", "long"}, `7776000000`},
		{[]any{"DEL", "long"}, `1`},
		{[]any{"SET", "s", "x", "NX", "XX"}, "ERR"},
		{[]any{"SET", "s", "x", "PX", 100, "EX", 1}, "ERR"},
		{[]any{"APPEND", "s", "!"}, `2`},
		{[]any{"STRLEN", "s"}, `2`},
		{[]any{"INCR", "s"}, "ERR"},
		{[]any{"INCRBY", "n", 9223372036854775807}, `9223372036854775807`},
		{[]any{"INCR", "n"}, "ERR"},
		{[]any{"DECRBY", "m", 5}, `-5`},
		{[]any{"INCRBYFLOAT", "f", "1.5"}, `"1.5"`},
		{[]any{"GETDEL", "f"}, `"1.5"`},
		{[]any{"EXISTS", "f"}, `0`},
		{[]any{"TYPE", "s"}, `"string"`},
		{[]any{"RPUSH", "l", "a", "b", "c"}, `3`},
		{[]any{"LPUSH", "l", "z"}, `4`},
		{[]any{"LRANGE", "l", 1, -2}, `[]interface {}{"a", "b"}`},
		{[]any{"LPOP", "l"}, `"z"`},
		{[]any{"RPOP", "l", 2}, `[]interface {}{"c", "b"}`},
		{[]any{"LLEN", "l"}, `1`},
		{[]any{"LINDEX", "l", -1}, `"a"`},
		{[]any{"BLPOP", "l", 1}, `[]interface {}{"l", "a"}`},
		{[]any{"EXISTS", "l"}, `0`},
		{[]any{"GET", "l"}, "miss"},
		{[]any{"HSET", "h", "f1", "1", "f2", "2"}, `2`},
		{[]any{"HSET", "h", "f1", "one"}, `0`},
		{[]any{"HGET", "h", "f1"}, `"one"`},
		{[]any{"HMGET", "h", "f1", "nope"}, `[]interface {}{"one", interface {}(nil)}`},
		{[]any{"HINCRBY", "h", "f2", 5}, `7`},
		{[]any{"HGETALL", "h"}, `[]interface {}{"f1", "one", "f2", "7"}`},
		{[]any{"HDEL", "h", "f1", "f2", "f3"}, `2`},
		{[]any{"EXISTS", "h"}, `0`},
		{[]any{"GET", "h"}, "miss"},
		{[]any{"HSET", "s", "f", "v"}, "WRONGTYPE"},
		{[]any{"SADD", "set", "b", "a", "b"}, `2`},
		{[]any{"SMEMBERS", "set"}, `[]interface {}{"a", "b"}`},
		{[]any{"SISMEMBER", "set", "a"}, `1`},
		{[]any{"ZADD", "z", 2, "b", 1, "a", 3, "c"}, `3`},
		{[]any{"ZADD", "z", "CH", 5, "a"}, `1`},
		{[]any{"ZADD", "z", "NX", 9, "a"}, `0`},
		{[]any{"ZADD", "z", "INCR", 0.5, "b"}, `"2.5"`},
		{[]any{"ZRANGE", "z", 0, -1}, `[]interface {}{"b", "c", "a"}`},
		{[]any{"ZRANGE", "z", 0, 0, "WITHSCORES"}, `[]interface {}{"b", "2.5"}`},
		{[]any{"ZREVRANGE", "z", 0, 0}, `[]interface {}{"a"}`},
		{[]any{"ZRANGEBYSCORE", "z", "(2.5", "+inf"}, `[]interface {}{"c", "a"}`},
		{[]any{"ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", 1, 1}, `[]interface {}{"c"}`},
		{[]any{"ZCOUNT", "z", "-inf", 3}, `2`},
		{[]any{"ZRANK", "z", "a"}, `2`},
		{[]any{"ZSCORE", "z", "a"}, `"5"`},
		{[]any{"ZREM", "z", "a", "x"}, `1`},
		{[]any{"ZCARD", "z"}, `2`},
		{[]any{"ZREMRANGEBYSCORE", "z", "-inf", "+inf"}, `2`},
		{[]any{"EXISTS", "z"}, `0`},
		{[]any{"PING", "hi"}, `"hi"`},
		{[]any{"ECHO", "e"}, `"e"`},
		{[]any{"PUBLISH", "ch", "m"}, `0`},
		{[]any{"SELECT", 1}, "ERR"},
		{[]any{"MSET", "k1", "1", "k2", "2"}, `"OK"`},
		{[]any{"KEYS", "k[0-9]"}, `[]interface {}{"k1", "k2"}`},
		{[]any{"SCAN", 0, "MATCH", "k?", "COUNT", 1000}, `[]interface {}{"0", []interface {}{"k1", "k2"}}`},
		{[]any{"FLUSHDB"}, `"OK"`},
		{[]any{"DBSIZE"}, `0`},
	}
	ctx := ctxT(t)
	for _, tc := range tests {
		v, err := d.Do(ctx, tc.args...)
		switch {
		case tc.want == "miss":
			if !errors.Is(err, conn.ErrMiss) || v != nil {
				t.Errorf("%v = %#v, %v; want nil, ErrMiss", tc.args, v, err)
			}
		case strings.HasPrefix(tc.want, "ERR") || tc.want == "WRONGTYPE":
			if !conn.IsReplyError(err, tc.want) {
				t.Errorf("%v = %#v, %v; want a %s reply error", tc.args, v, err, tc.want)
			}
		default:
			got := fmt.Sprintf("%#v", v)
			if _, isInt := v.(int64); isInt {
				got = fmt.Sprint(v)
			}
			if err != nil || got != tc.want {
				t.Errorf("%v = %s, %v; want %s", tc.args, got, err, tc.want)
			}
		}
	}
}

func TestBlockingPop(t *testing.T) {
	d := newT(t)
	ctx := ctxT(t)
	got := make(chan any, 1)
	go func() {
		v, err := d.Do(ctx, "BRPOP", "q1", "q2", 0)
		if err != nil {
			got <- err
			return
		}
		got <- v
	}()
	time.Sleep(20 * time.Millisecond)
	do(t, d.Connect(), "LPUSH", "q2", "job")
	select {
	case v := <-got:
		if fmt.Sprint(v) != "[q2 job]" {
			t.Fatalf("BRPOP = %v, want [q2 job]", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("BRPOP did not wake on a push")
	}
	// Its own timeout: a nil reply.
	if v, err := d.Do(ctx, "BLPOP", "empty", 0.05); !errors.Is(err, conn.ErrMiss) || v != nil {
		t.Fatalf("BLPOP past its timeout = %v, %v; want nil, ErrMiss", v, err)
	}
	// Close ends it.
	other := d.Connect()
	done := make(chan error, 1)
	go func() {
		_, err := other.Do(ctx, "BLPOP", "empty", 0)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	must(t, other.Close())
	select {
	case err := <-done:
		if !errors.Is(err, conn.ErrClosed) {
			t.Fatalf("BLPOP ended by Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a blocked BLPOP")
	}
}

func TestConnectSharesData(t *testing.T) {
	d := newT(t)
	ctx := ctxT(t)
	other := d.Connect()
	must(t, other.Set(ctx, "k", []byte("v"), 0))
	sub, err := d.Subscribe(ctx, "ch")
	must(t, err)
	defer sub.Close()
	if n := do(t, other, "PUBLISH", "ch", "hello"); n != int64(1) {
		t.Fatalf("PUBLISH reached %v subscribers, want 1", n)
	}
	m, err := sub.Receive(ctx)
	if err != nil || string(m.Payload) != "hello" || m.Channel != "ch" {
		t.Fatalf("Receive = %+v, %v", m, err)
	}
	must(t, other.Close())
	if _, err := other.Get(ctx, "k"); !errors.Is(err, conn.ErrClosed) {
		t.Fatalf("Get on a closed driver = %v, want ErrClosed", err)
	}
	if got, err := d.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get through the driver left open = %q, %v", got, err)
	}
}

func TestLoseSubscriptions(t *testing.T) {
	d := newT(t)
	ctx := ctxT(t)
	sub, err := d.Subscribe(ctx, "ch")
	must(t, err)
	defer sub.Close()
	do(t, d, "PUBLISH", "ch", "before")
	d.LoseSubscriptions()
	// A message that arrived before the loss is still read, then the loss.
	if m, err := sub.Receive(ctx); err != nil || string(m.Payload) != "before" {
		t.Fatalf("Receive = %q, %v; want the message sent before the loss", m.Payload, err)
	}
	if _, err := sub.Receive(ctx); !errors.Is(err, conn.ErrSubscriptionLost) {
		t.Fatalf("Receive after LoseSubscriptions = %v, want ErrSubscriptionLost", err)
	} else if err.Error() != "redcache/memory: subscription lost" {
		t.Errorf("Receive after LoseSubscriptions = %q, want %q", err, "redcache/memory: subscription lost")
	}
	if n := do(t, d, "PUBLISH", "ch", "after"); n != int64(0) {
		t.Fatalf("PUBLISH after the loss reached %v subscribers, want 0", n)
	}
	must(t, sub.Close())
	if _, err := sub.Receive(ctx); !errors.Is(err, conn.ErrClosed) {
		t.Fatalf("Receive after Close = %v, want ErrClosed", err)
	}
}
