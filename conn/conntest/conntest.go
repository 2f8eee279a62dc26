// Package conntest is the conformance suite for [conn.Driver]
// implementations, and the helpers through which tests find the Redis
// servers started by the project's test runner.
//
// A driver is correct when it passes [Run] against a standalone Redis and
// against a Redis Cluster:
//
//	func TestConformance(t *testing.T) {
//		addr := conntest.RedisAddr(t)
//		conntest.Run(t, func(t *testing.T) conn.Driver {
//			return mydriver.New(addr)
//		})
//	}
//
// The suite writes only keys under a random prefix and deletes them at the
// end, so it can share a server with other tests; it never flushes a
// database. It does flush the server's script cache, to prove that
// [conn.Driver.Eval] recovers.
//
// Two more suites state what a driver does when things go wrong:
// [RunFaults] puts a [Proxy] between the driver and a standalone Redis and
// stalls, resets and refuses its connections (every call must end at its
// deadline, a refusal must be fast and reported as one, a half-open
// subscription must be reported lost); [RunBadURLs] feeds a driver's Open
// the [BadURLs] table (no panic, [conn.ErrBadURL], no password in the
// error). The Proxy is usable on its own for a driver's own fault tests.
//
// Two more keep drivers interchangeable: [RunErrors] checks that the
// errors a driver makes carry its prefix ("redcache/goredis: ") and wrap
// conn's sentinels ([conn.ErrBadArg] for a refused argument,
// [conn.ErrBadURL] for an empty or bad URL, [conn.ErrClosed]); [RunTLS]
// checks that its Open trusts a private certificate authority through
// its TLS option, against the runner's TLS server ([LookupTLS]).
//
// Faults that need a server of the test's own (SIGKILL, a restart on the
// same port, SIGSTOP, CLIENT PAUSE, DEBUG SLEEP) use [StartRedis], which
// starts a redis-server on a free loopback port and returns a [Process]
// to kill, restart, stop and resume; [StartSentinel] starts a Sentinel
// watching one. Suites run on such servers: [RunRestart] (calls succeed
// within 1 s of a killed server answering again), [RunStall] (64 callers,
// each call ends at its deadline whatever the stall) and
// [RunCloseDuringStall] (Close and the calls in flight return within 1 s
// of a stopped server), with [RunFirstCallAfterRestart] for a driver that
// keeps no memory of an outage.
//
// Three more hold a driver that sends the commands of concurrent callers
// together (auto-pipelining, implicit pipelining) to the same promises:
// [RunInterleaved] (48 callers, every reply to its own caller, callers
// that give up within 2 ms break no one else's command),
// [RunPipelineFaults] (a stall and a kill under 64 callers, mid-batch:
// each call ends at its deadline, a kill fails the calls at once with a
// connection error, no reply ever reaches the wrong caller) and
// [RunSlotMoves] (a 3-primary cluster of its own whose hash slot migrates
// between primaries and back, twice, under 32 callers: every command
// returns its own reply within 10 s through ASK and MOVED, and no key is
// lost).
package conntest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// Run runs the conformance suite. newDriver returns a new driver talking to
// the server under test; Run calls it once for the shared driver and again
// for the cases that close theirs, and closes every driver it got.
func Run(t *testing.T, newDriver func(t *testing.T) conn.Driver) {
	t.Helper()
	s := &suite{newDriver: newDriver, prefix: "conntest:" + randomHex(6) + ":"}
	s.d = s.open(t)
	t.Cleanup(func() { s.cleanup(t) })

	cases := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"GetMiss", s.testGetMiss},
		{"SetGet", s.testSetGet},
		{"EmptyValueIsNotAMiss", s.testEmptyValue},
		{"BinarySafe", s.testBinarySafe},
		{"LargeValue", s.testLargeValue},
		{"TTL", s.testTTL},
		{"Expiry", s.testExpiry},
		{"SetNX", s.testSetNX},
		{"Del", s.testDel},
		{"PExpire", s.testPExpire},
		{"MGet", s.testMGet},
		{"CrossSlot", s.testCrossSlot},
		{"Do", s.testDo},
		{"DoArgs", s.testDoArgs},
		{"ReplyError", s.testReplyError},
		{"Pipeline", s.testPipeline},
		{"Eval", s.testEval},
		{"EvalAfterScriptFlush", s.testEvalAfterFlush},
		{"Subscribe", s.testSubscribe},
		{"ContextCancelled", s.testCancelled},
		{"ContextDeadline", s.testDeadline},
		{"Concurrent", s.testConcurrent},
		{"ForEachNode", s.testForEachNode},
		{"Close", s.testClose},
	}
	for _, c := range cases {
		t.Run(c.name, c.fn)
	}
}

type suite struct {
	newDriver func(t *testing.T) conn.Driver
	d         conn.Driver
	prefix    string

	mu   sync.Mutex
	keys []string
}

func (s *suite) open(t *testing.T) conn.Driver {
	t.Helper()
	d := s.newDriver(t)
	if d == nil {
		t.Fatal("newDriver returned nil")
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { _ = d.Close() }) })
	return d
}

// key returns a fresh key under the suite's prefix and remembers it for
// the final clean-up.
func (s *suite) key(name string) string {
	k := s.prefix + name + ":" + randomHex(4)
	s.mu.Lock()
	s.keys = append(s.keys, k)
	s.mu.Unlock()
	return k
}

func (s *suite) cleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.mu.Lock()
	keys := s.keys
	s.mu.Unlock()
	if len(keys) > 0 {
		if _, err := s.d.Del(ctx, keys...); err != nil {
			t.Logf("conntest: clean-up: %v", err)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *suite) pttl(t *testing.T, key string) int64 {
	t.Helper()
	v, err := s.d.Do(ctxT(t), "PTTL", key)
	must(t, err, "PTTL")
	n, ok := v.(int64)
	if !ok {
		t.Fatalf("PTTL reply is %T, want int64", v)
	}
	return n
}

func (s *suite) testGetMiss(t *testing.T) {
	v, err := s.d.Get(ctxT(t), s.key("missing"))
	if !errors.Is(err, conn.ErrMiss) {
		t.Fatalf("Get(missing) = %q, %v; want ErrMiss", v, err)
	}
	if v != nil {
		t.Fatalf("Get(missing) returned a value %q with ErrMiss", v)
	}
}

func (s *suite) testSetGet(t *testing.T) {
	ctx := ctxT(t)
	k := s.key("setget")
	must(t, s.d.Set(ctx, k, []byte("hello"), 0), "Set")
	got, err := s.d.Get(ctx, k)
	must(t, err, "Get")
	if string(got) != "hello" {
		t.Fatalf("Get = %q, want %q", got, "hello")
	}
	must(t, s.d.Set(ctx, k, []byte("again"), time.Minute), "overwrite")
	got, err = s.d.Get(ctx, k)
	must(t, err, "Get after overwrite")
	if string(got) != "again" {
		t.Fatalf("Get after overwrite = %q, want %q", got, "again")
	}
}

func (s *suite) testEmptyValue(t *testing.T) {
	ctx := ctxT(t)
	k := s.key("empty")
	must(t, s.d.Set(ctx, k, []byte{}, 0), "Set empty")
	got, err := s.d.Get(ctx, k)
	must(t, err, "Get empty")
	if got == nil || len(got) != 0 {
		t.Fatalf("Get(empty) = %#v, want a non-nil empty slice", got)
	}
	must(t, s.d.Set(ctx, k, nil, 0), "Set nil")
	got, err = s.d.Get(ctx, k)
	must(t, err, "Get after Set(nil)")
	if got == nil || len(got) != 0 {
		t.Fatalf("Set(nil) then Get = %#v, want a non-nil empty slice", got)
	}
}

func (s *suite) testBinarySafe(t *testing.T) {
	ctx := ctxT(t)
	all := make([]byte, 0, 512)
	for i := 0; i < 256; i++ {
		all = append(all, byte(i))
	}
	all = append(all, "\r\n$-1\r\n*0\r\n"...) // protocol-looking bytes
	for i := 255; i >= 0; i-- {
		all = append(all, byte(i))
	}
	k := s.key("binary")
	must(t, s.d.Set(ctx, k, all, time.Minute), "Set")
	got, err := s.d.Get(ctx, k)
	must(t, err, "Get")
	if !bytes.Equal(got, all) {
		t.Fatalf("Get returned %d bytes that differ from the %d written", len(got), len(all))
	}
	vals, err := s.d.MGet(ctx, k)
	must(t, err, "MGet")
	if len(vals) != 1 || !bytes.Equal(vals[0], all) {
		t.Fatalf("MGet did not return the binary value intact")
	}
	v, err := s.d.Do(ctx, "GET", k)
	must(t, err, "Do GET")
	if str, ok := v.(string); !ok || str != string(all) {
		t.Fatalf("Do GET did not return the binary value intact as a string (got %T)", v)
	}
}

func (s *suite) testLargeValue(t *testing.T) {
	ctx := ctxT(t)
	big := make([]byte, 16<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	k := s.key("large")
	must(t, s.d.Set(ctx, k, big, time.Minute), "Set 16 MiB")
	got, err := s.d.Get(ctx, k)
	must(t, err, "Get 16 MiB")
	if !bytes.Equal(got, big) {
		t.Fatalf("16 MiB value came back as %d bytes that differ", len(got))
	}
}

func (s *suite) testTTL(t *testing.T) {
	ctx := ctxT(t)

	k := s.key("ttl")
	must(t, s.d.Set(ctx, k, []byte("v"), 1500*time.Millisecond), "Set 1500ms")
	if p := s.pttl(t, k); p <= 0 || p > 1500 {
		t.Fatalf("PTTL after Set(1500ms) = %d, want in (0, 1500]", p)
	}

	// Sub-millisecond precision rounds up, never down to "no expiry".
	k = s.key("ttl-round")
	must(t, s.d.Set(ctx, k, []byte("v"), 60_000*time.Millisecond+time.Microsecond), "Set 60000.001ms")
	if p := s.pttl(t, k); p <= 59_000 || p > 60_001 {
		t.Fatalf("PTTL after Set(60000.001ms) = %d, want in (59000, 60001]", p)
	}
	k = s.key("ttl-tiny")
	must(t, s.d.Set(ctx, k, []byte("v"), time.Nanosecond), "Set 1ns")
	if p := s.pttl(t, k); p == -1 || p > 1 {
		t.Fatalf("PTTL after Set(1ns) = %d, want at most 1 ms (or gone), never -1", p)
	}

	k = s.key("ttl-zero")
	must(t, s.d.Set(ctx, k, []byte("v"), time.Minute), "Set 1m")
	must(t, s.d.Set(ctx, k, []byte("v"), 0), "Set 0")
	if p := s.pttl(t, k); p != -1 {
		t.Fatalf("PTTL after Set(ttl 0) = %d, want -1 (no expiry)", p)
	}

	k = s.key("ttl-negative")
	must(t, s.d.Set(ctx, k, []byte("before"), 0), "Set")
	if err := s.d.Set(ctx, k, []byte("after"), -time.Second); !errors.Is(err, conn.ErrInvalidTTL) {
		t.Fatalf("Set(negative ttl) = %v, want ErrInvalidTTL", err)
	}
	if _, err := s.d.SetNX(ctx, s.key("nx-negative"), []byte("v"), -time.Second); !errors.Is(err, conn.ErrInvalidTTL) {
		t.Fatalf("SetNX(negative ttl) = %v, want ErrInvalidTTL", err)
	}
	got, err := s.d.Get(ctx, k)
	must(t, err, "Get after refused Set")
	if string(got) != "before" {
		t.Fatalf("a Set refused for its ttl changed the value to %q", got)
	}
}

func (s *suite) testExpiry(t *testing.T) {
	ctx := ctxT(t)
	k := s.key("expiry")
	must(t, s.d.Set(ctx, k, []byte("v"), 30*time.Millisecond), "Set 30ms")
	// Poll rather than sleep a fixed time: the test asserts that the key
	// goes, not how fast.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.d.Get(ctx, k)
		if errors.Is(err, conn.ErrMiss) {
			return
		}
		must(t, err, "Get")
		if time.Now().After(deadline) {
			t.Fatal("a key set with a 30ms ttl still exists after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *suite) testSetNX(t *testing.T) {
	ctx := ctxT(t)
	k := s.key("setnx")
	ok, err := s.d.SetNX(ctx, k, []byte("first"), time.Minute)
	must(t, err, "SetNX first")
	if !ok {
		t.Fatal("SetNX on a missing key reported false")
	}
	ok, err = s.d.SetNX(ctx, k, []byte("second"), time.Minute)
	must(t, err, "SetNX second")
	if ok {
		t.Fatal("SetNX on an existing key reported true")
	}
	got, err := s.d.Get(ctx, k)
	must(t, err, "Get")
	if string(got) != "first" {
		t.Fatalf("SetNX overwrote the value: %q", got)
	}
	if p := s.pttl(t, k); p <= 0 || p > 60_000 {
		t.Fatalf("PTTL after SetNX(1m) = %d, want in (0, 60000]", p)
	}
	k = s.key("setnx-forever")
	ok, err = s.d.SetNX(ctx, k, []byte("v"), 0)
	must(t, err, "SetNX ttl 0")
	if !ok || s.pttl(t, k) != -1 {
		t.Fatal("SetNX with ttl 0 must store the value without expiry")
	}
}

func (s *suite) testDel(t *testing.T) {
	ctx := ctxT(t)
	a, b, missing := s.key("del-a"), s.key("del-b"), s.key("del-missing")
	must(t, s.d.Set(ctx, a, []byte("1"), 0), "Set a")
	must(t, s.d.Set(ctx, b, []byte("2"), 0), "Set b")
	n, err := s.d.Del(ctx, a, b, missing)
	must(t, err, "Del")
	if n != 2 {
		t.Fatalf("Del(a, b, missing) = %d, want 2", n)
	}
	if _, err := s.d.Get(ctx, a); !errors.Is(err, conn.ErrMiss) {
		t.Fatalf("Get after Del = %v, want ErrMiss", err)
	}
	n, err = s.d.Del(ctx)
	must(t, err, "Del()")
	if n != 0 {
		t.Fatalf("Del() = %d, want 0", n)
	}
}

func (s *suite) testPExpire(t *testing.T) {
	ctx := ctxT(t)
	k := s.key("pexpire")
	must(t, s.d.Set(ctx, k, []byte("v"), 0), "Set")
	ok, err := s.d.PExpire(ctx, k, 2500*time.Millisecond)
	must(t, err, "PExpire")
	if !ok {
		t.Fatal("PExpire on an existing key reported false")
	}
	if p := s.pttl(t, k); p <= 0 || p > 2500 {
		t.Fatalf("PTTL after PExpire(2500ms) = %d, want in (0, 2500]", p)
	}
	ok, err = s.d.PExpire(ctx, k, 0)
	must(t, err, "PExpire 0")
	if !ok {
		t.Fatal("PExpire(0) on an existing key reported false")
	}
	if p := s.pttl(t, k); p != -1 {
		t.Fatalf("PTTL after PExpire(0) = %d, want -1 (expiry removed)", p)
	}
	ok, err = s.d.PExpire(ctx, k, 0)
	must(t, err, "PExpire 0 again")
	if !ok {
		t.Fatal("PExpire(0) on an existing key without expiry reported false")
	}
	ok, err = s.d.PExpire(ctx, s.key("pexpire-missing"), time.Second)
	must(t, err, "PExpire missing")
	if ok {
		t.Fatal("PExpire on a missing key reported true")
	}
	ok, err = s.d.PExpire(ctx, s.key("pexpire-missing0"), 0)
	must(t, err, "PExpire 0 missing")
	if ok {
		t.Fatal("PExpire(0) on a missing key reported true")
	}
	if _, err := s.d.PExpire(ctx, k, -time.Millisecond); !errors.Is(err, conn.ErrInvalidTTL) {
		t.Fatalf("PExpire(negative) = %v, want ErrInvalidTTL", err)
	}
}

func (s *suite) testMGet(t *testing.T) {
	ctx := ctxT(t)
	a, empty, missing := s.key("mget-a"), s.key("mget-empty"), s.key("mget-missing")
	must(t, s.d.Set(ctx, a, []byte("A"), 0), "Set a")
	must(t, s.d.Set(ctx, empty, []byte{}, 0), "Set empty")
	got, err := s.d.MGet(ctx, missing, a, empty, a)
	must(t, err, "MGet")
	if len(got) != 4 {
		t.Fatalf("MGet returned %d values for 4 keys", len(got))
	}
	if got[0] != nil {
		t.Errorf("MGet: missing key = %q, want nil", got[0])
	}
	if string(got[1]) != "A" || string(got[3]) != "A" {
		t.Errorf("MGet: values out of order: %q", got)
	}
	if got[2] == nil || len(got[2]) != 0 {
		t.Errorf("MGet: empty value = %#v, want a non-nil empty slice", got[2])
	}
	none, err := s.d.MGet(ctx)
	must(t, err, "MGet()")
	if len(none) != 0 {
		t.Fatalf("MGet() = %q, want empty", none)
	}
}

// testCrossSlot uses enough keys that, on a cluster, they fall in many
// hash slots on every node; on a single server it checks the same calls.
func (s *suite) testCrossSlot(t *testing.T) {
	ctx := ctxT(t)
	const n = 64
	keys := make([]string, n)
	for i := range keys {
		keys[i] = s.key(fmt.Sprintf("slot%d", i))
		if i%3 != 0 {
			must(t, s.d.Set(ctx, keys[i], []byte(fmt.Sprint(i)), time.Minute), "Set")
		}
	}
	got, err := s.d.MGet(ctx, keys...)
	must(t, err, "MGet across slots")
	if len(got) != n {
		t.Fatalf("MGet returned %d values for %d keys", len(got), n)
	}
	for i, v := range got {
		if i%3 == 0 {
			if v != nil {
				t.Fatalf("MGet[%d] = %q, want nil (missing)", i, v)
			}
		} else if string(v) != fmt.Sprint(i) {
			t.Fatalf("MGet[%d] = %q, want %q: replies out of order", i, v, fmt.Sprint(i))
		}
	}
	deleted, err := s.d.Del(ctx, keys...)
	must(t, err, "Del across slots")
	if want := int64(n - (n+2)/3); deleted != want {
		t.Fatalf("Del across slots = %d, want %d", deleted, want)
	}
	got, err = s.d.MGet(ctx, keys...)
	must(t, err, "MGet after Del")
	for i, v := range got {
		if v != nil {
			t.Fatalf("MGet[%d] after Del = %q, want nil", i, v)
		}
	}
}

func (s *suite) testDo(t *testing.T) {
	ctx := ctxT(t)
	counter := s.key("do-counter")
	v, err := s.d.Do(ctx, "INCRBY", counter, 5)
	must(t, err, "INCRBY")
	if v != int64(5) {
		t.Fatalf("INCRBY reply = %#v, want int64(5)", v)
	}
	v, err = s.d.Do(ctx, "GET", counter)
	must(t, err, "GET")
	if v != "5" {
		t.Fatalf("GET reply = %#v, want string \"5\"", v)
	}
	if v, err := s.d.Do(ctx, "GET", s.key("do-missing")); !errors.Is(err, conn.ErrMiss) || v != nil {
		t.Fatalf("GET missing via Do = %#v, %v; want nil, ErrMiss", v, err)
	}
	v, err = s.d.Do(ctx, "PING")
	must(t, err, "PING")
	if v != "PONG" {
		t.Fatalf("PING reply = %#v, want \"PONG\"", v)
	}

	list := s.key("do-list")
	_, err = s.d.Do(ctx, "RPUSH", list, "a", "", "c")
	must(t, err, "RPUSH")
	v, err = s.d.Do(ctx, "LRANGE", list, 0, -1)
	must(t, err, "LRANGE")
	if !equalAny(v, []any{"a", "", "c"}) {
		t.Fatalf("LRANGE reply = %#v, want []any{\"a\", \"\", \"c\"}", v)
	}
	v, err = s.d.Do(ctx, "LRANGE", s.key("do-nolist"), 0, -1)
	must(t, err, "LRANGE empty")
	if !equalAny(v, []any{}) {
		t.Fatalf("LRANGE on a missing list = %#v, want an empty []any", v)
	}

	hash := s.key("do-hash")
	_, err = s.d.Do(ctx, "HSET", hash, "f1", "v1", "f2", "v2")
	must(t, err, "HSET")
	v, err = s.d.Do(ctx, "HGETALL", hash)
	must(t, err, "HGETALL")
	if pairs := pairsOf(t, v); pairs["f1"] != "v1" || pairs["f2"] != "v2" || len(pairs) != 2 {
		t.Fatalf("HGETALL reply = %#v, want f1=v1 f2=v2 as alternating []any", v)
	}

	z := s.key("do-zset")
	_, err = s.d.Do(ctx, "ZADD", z, 1.5, "m")
	must(t, err, "ZADD")
	v, err = s.d.Do(ctx, "ZSCORE", z, "m")
	must(t, err, "ZSCORE")
	if v != "1.5" {
		t.Fatalf("ZSCORE reply = %#v, want string \"1.5\"", v)
	}

	v, err = s.d.Do(ctx, "MGET", counter, s.key("do-missing2"))
	if conn.IsReplyError(err, "CROSSSLOT") {
		return // a cluster refuses a raw multi-slot MGET: Do sends what it is given
	}
	must(t, err, "MGET via Do")
	if !equalAny(v, []any{"5", nil}) {
		t.Fatalf("MGET via Do = %#v, want []any{\"5\", nil}", v)
	}
}

func (s *suite) testDoArgs(t *testing.T) {
	ctx := ctxT(t)
	k := s.key("args")
	cases := []struct {
		arg  any
		want string
	}{
		{"str", "str"},
		{[]byte("bytes\x00\xff"), "bytes\x00\xff"},
		{42, "42"},
		{int8(-8), "-8"},
		{int64(-1 << 40), "-1099511627776"},
		{uint(7), "7"},
		{uint64(1 << 63), "9223372036854775808"},
		{2.5, "2.5"},
		{float32(0.5), "0.5"},
		{true, "1"},
		{false, "0"},
		{1500 * time.Millisecond, "1500"},
	}
	for _, c := range cases {
		_, err := s.d.Do(ctx, "SET", k, c.arg)
		must(t, err, fmt.Sprintf("SET %T", c.arg))
		got, err := s.d.Get(ctx, k)
		must(t, err, "Get")
		if string(got) != c.want {
			t.Errorf("argument %T(%v) was sent as %q, want %q", c.arg, c.arg, got, c.want)
		}
	}
	_, err := s.d.Do(ctx, "SET", k, "v", "PX", 1500*time.Millisecond)
	must(t, err, "SET PX duration")
	if p := s.pttl(t, k); p <= 0 || p > 1500 {
		t.Fatalf("SET PX 1500ms via Do: PTTL = %d, want in (0, 1500]", p)
	}
}

func (s *suite) testReplyError(t *testing.T) {
	ctx := ctxT(t)
	k := s.key("wrongtype")
	_, err := s.d.Do(ctx, "RPUSH", k, "x")
	must(t, err, "RPUSH")
	_, err = s.d.Get(ctx, k)
	var re *conn.ReplyError
	if !errors.As(err, &re) || re.Prefix() != "WRONGTYPE" {
		t.Fatalf("Get on a list = %v, want a *ReplyError with prefix WRONGTYPE", err)
	}
	if errors.Is(err, conn.ErrMiss) {
		t.Fatal("a WRONGTYPE error must not be ErrMiss")
	}
	_, err = s.d.Do(ctx, "INCR", k)
	if !conn.IsReplyError(err, "WRONGTYPE") {
		t.Fatalf("INCR on a list via Do = %v, want WRONGTYPE reply error", err)
	}
	_, err = s.d.Do(ctx, "NOSUCHCOMMAND", k)
	if !conn.IsReplyError(err, "") {
		t.Fatalf("an unknown command = %v, want a *ReplyError", err)
	}
	// The connection is still usable after error replies.
	_, err = s.d.Do(ctx, "PING")
	must(t, err, "PING after errors")
}

func (s *suite) testPipeline(t *testing.T) {
	ctx := ctxT(t)
	a, b, list := s.key("pipe-a"), s.key("pipe-b"), s.key("pipe-list")
	must(t, s.d.Set(ctx, list, []byte("not a list"), time.Minute), "Set")
	cmds := []*conn.Cmd{
		conn.NewCmd("SET", a, "1"),
		conn.NewCmd("INCR", a),
		conn.NewCmd("GET", a),
		conn.NewCmd("GET", b),
		conn.NewCmd("LPUSH", list, "x"), // fails alone
		conn.NewCmd("SET", b, []byte{0, 1, 2}),
		conn.NewCmd("GET", b),
	}
	must(t, s.d.Pipeline(ctx, cmds...), "Pipeline")
	wantReplies := []any{"OK", int64(2), "2", nil, nil, "OK", "\x00\x01\x02"}
	for i, c := range cmds {
		switch i {
		case 3:
			if !errors.Is(c.Err, conn.ErrMiss) || c.Reply != nil {
				t.Errorf("cmd %d (GET missing) = %#v, %v; want nil, ErrMiss", i, c.Reply, c.Err)
			}
		case 4:
			if !conn.IsReplyError(c.Err, "WRONGTYPE") {
				t.Errorf("cmd %d (LPUSH on a string) err = %v, want WRONGTYPE", i, c.Err)
			}
		default:
			if c.Err != nil || !equalAny(c.Reply, wantReplies[i]) {
				t.Errorf("cmd %d %v = %#v, %v; want %#v", i, c.Args, c.Reply, c.Err, wantReplies[i])
			}
		}
	}

	// Many keys, many slots, one call; replies must come back in order.
	var many []*conn.Cmd
	for i := 0; i < 50; i++ {
		k := s.key(fmt.Sprintf("pipe-many%d", i))
		many = append(many, conn.NewCmd("SET", k, i), conn.NewCmd("GET", k))
	}
	must(t, s.d.Pipeline(ctx, many...), "Pipeline across slots")
	for i := 0; i < 50; i++ {
		if c := many[2*i+1]; c.Err != nil || c.Reply != fmt.Sprint(i) {
			t.Fatalf("pipelined GET %d = %#v, %v; want %q", i, c.Reply, c.Err, fmt.Sprint(i))
		}
	}
	must(t, s.d.Pipeline(ctx), "empty Pipeline")
}

func (s *suite) uniqueScript(body string) *conn.Script {
	// A comment unique to this run makes a script the server has never
	// seen, so the first EVALSHA meets NOSCRIPT.
	return conn.NewScript("-- conntest " + randomHex(8) + "\n" + body)
}

func (s *suite) testEval(t *testing.T) {
	ctx := ctxT(t)
	sc := s.uniqueScript(`redis.call("SET", KEYS[1], ARGV[1]); return {redis.call("GET", KEYS[1]), tonumber(ARGV[2]) + 1}`)
	k := s.key("eval")
	for i := 0; i < 2; i++ { // first run falls back to EVAL, second hits EVALSHA
		v, err := s.d.Eval(ctx, sc, []string{k}, "val", 41)
		must(t, err, "Eval")
		if !equalAny(v, []any{"val", int64(42)}) {
			t.Fatalf("Eval run %d = %#v, want []any{\"val\", int64(42)}", i, v)
		}
	}
	v, err := s.d.Eval(ctx, s.uniqueScript(`return redis.call("GET", KEYS[1])`), []string{s.key("eval-missing")})
	if !errors.Is(err, conn.ErrMiss) || v != nil {
		t.Fatalf("Eval returning nil = %#v, %v; want nil, ErrMiss", v, err)
	}
	_, err = s.d.Eval(ctx, s.uniqueScript(`return redis.error_reply("BOOM it failed")`), []string{k})
	if !conn.IsReplyError(err, "BOOM") {
		t.Fatalf("Eval of a failing script = %v, want a *ReplyError with prefix BOOM", err)
	}
	_, err = s.d.Eval(ctx, s.uniqueScript(`this is not lua`), []string{k})
	if !conn.IsReplyError(err, "") {
		t.Fatalf("Eval of a script that does not compile = %v, want a *ReplyError", err)
	}
}

func (s *suite) testEvalAfterFlush(t *testing.T) {
	ctx := ctxT(t)
	sc := s.uniqueScript(`return redis.call("INCR", KEYS[1])`)
	k := s.key("eval-flush")
	v, err := s.d.Eval(ctx, sc, []string{k})
	must(t, err, "Eval before flush")
	if v != int64(1) {
		t.Fatalf("Eval = %#v, want int64(1)", v)
	}
	err = conn.ForEachNode(ctx, s.d, func(ctx context.Context, node conn.Driver) error {
		_, err := node.Do(ctx, "SCRIPT", "FLUSH")
		return err
	})
	must(t, err, "SCRIPT FLUSH")
	v, err = s.d.Eval(ctx, sc, []string{k})
	must(t, err, "Eval after SCRIPT FLUSH")
	if v != int64(2) {
		t.Fatalf("Eval after SCRIPT FLUSH = %#v, want int64(2)", v)
	}
}

func (s *suite) testSubscribe(t *testing.T) {
	ctx := ctxT(t)
	ch1, ch2 := s.prefix+"chan1", s.prefix+"chan2"
	sub, err := s.d.Subscribe(ctx, ch1, ch2)
	must(t, err, "Subscribe")
	defer sub.Close()

	payload := "bin\x00\xff\r\n"
	for _, ch := range []string{ch1, ch2} {
		_, err := s.d.Do(ctx, "PUBLISH", ch, payload+ch)
		must(t, err, "PUBLISH")
	}
	// Redis orders the messages of one channel, not of two (on a cluster
	// they may come through different nodes): compare them as a set.
	got := map[string]string{}
	for range []string{ch1, ch2} {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := sub.Receive(rctx)
		cancel()
		must(t, err, "Receive")
		got[m.Channel] = string(m.Payload)
	}
	for _, ch := range []string{ch1, ch2} {
		if got[ch] != payload+ch {
			t.Fatalf("Receive on %q = %q, want %q (all received: %q)", ch, got[ch], payload+ch, got)
		}
	}

	// Receive honours its context when nothing comes.
	rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = sub.Receive(rctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive with nothing published = %v, want context.DeadlineExceeded", err)
	}
	// The subscription still works after a Receive gave up.
	_, err = s.d.Do(ctx, "PUBLISH", ch1, "later")
	must(t, err, "PUBLISH later")
	rctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	m, err := sub.Receive(rctx)
	cancel()
	must(t, err, "Receive after a timed-out Receive")
	if string(m.Payload) != "later" {
		t.Fatalf("Receive = %q, want %q", m.Payload, "later")
	}

	// Close unblocks a waiting Receive and is idempotent.
	done := make(chan error, 1)
	go func() {
		_, err := sub.Receive(context.Background())
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	must(t, sub.Close(), "Close")
	select {
	case err := <-done:
		if !errors.Is(err, conn.ErrClosed) {
			t.Fatalf("Receive blocked during Close = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock a waiting Receive")
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if _, err := sub.Receive(ctx); !errors.Is(err, conn.ErrClosed) {
		t.Fatalf("Receive after Close = %v, want ErrClosed", err)
	}
}

func (s *suite) testCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k := s.key("cancelled")
	checks := map[string]error{}
	_, checks["Get"] = s.d.Get(ctx, k)
	_, checks["MGet"] = s.d.MGet(ctx, k, k)
	checks["Set"] = s.d.Set(ctx, k, []byte("v"), 0)
	_, checks["SetNX"] = s.d.SetNX(ctx, k, []byte("v"), 0)
	_, checks["Del"] = s.d.Del(ctx, k)
	_, checks["PExpire"] = s.d.PExpire(ctx, k, time.Second)
	_, checks["Do"] = s.d.Do(ctx, "PING")
	_, checks["Eval"] = s.d.Eval(ctx, conn.NewScript("return 1"), []string{k})
	checks["Pipeline"] = s.d.Pipeline(ctx, conn.NewCmd("PING"))
	_, checks["Subscribe"] = s.d.Subscribe(ctx, s.prefix+"cancelled")
	names := make([]string, 0, len(checks))
	for name := range checks {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !errors.Is(checks[name], context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", name, checks[name])
		}
	}
	if _, err := s.d.Get(ctxT(t), k); err != nil && !errors.Is(err, conn.ErrMiss) {
		t.Fatalf("Get after cancelled calls = %v: the driver must stay usable", err)
	}
}

func (s *suite) testDeadline(t *testing.T) {
	// BLPOP on an empty list blocks on the server; only the deadline can
	// end the call.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.d.Do(ctx, "BLPOP", s.key("deadline-list"), 0)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("blocked call past its deadline = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a blocked call ignored its context deadline")
	}
	// The driver stays usable: no connection left stuck in BLPOP answers
	// a later call with a stale reply.
	ctx2 := ctxT(t)
	for i := 0; i < 20; i++ {
		k := s.key(fmt.Sprintf("after-deadline%d", i))
		must(t, s.d.Set(ctx2, k, []byte(k), 0), "Set after deadline")
		got, err := s.d.Get(ctx2, k)
		must(t, err, "Get after deadline")
		if string(got) != k {
			t.Fatalf("Get after a timed-out call = %q, want %q: replies are mixed up", got, k)
		}
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	ctx := ctxT(t)
	const workers, rounds = 32, 50
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			k := s.key(fmt.Sprintf("conc%d", w))
			for i := 0; i < rounds; i++ {
				want := []byte(fmt.Sprintf("%d/%d", w, i))
				if err := s.d.Set(ctx, k, want, time.Minute); err != nil {
					errc <- err
					return
				}
				got, err := s.d.Get(ctx, k)
				if err != nil {
					errc <- err
					return
				}
				if !bytes.Equal(got, want) {
					errc <- fmt.Errorf("worker %d read %q, want %q", w, got, want)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func (s *suite) testForEachNode(t *testing.T) {
	ctx := ctxT(t)
	var keys []string
	for i := 0; i < 30; i++ {
		k := s.key(fmt.Sprintf("node%d", i))
		keys = append(keys, k)
		must(t, s.d.Set(ctx, k, []byte("v"), time.Minute), "Set")
	}
	found := map[string]bool{}
	nodes := 0
	err := conn.ForEachNode(ctx, s.d, func(ctx context.Context, node conn.Driver) error {
		nodes++
		cursor := "0"
		for {
			v, err := node.Do(ctx, "SCAN", cursor, "MATCH", s.prefix+"node*", "COUNT", 1000)
			if err != nil {
				return err
			}
			reply, ok := v.([]any)
			if !ok || len(reply) != 2 {
				return fmt.Errorf("SCAN reply = %#v", v)
			}
			batch, _ := reply[1].([]any)
			for _, k := range batch {
				found[k.(string)] = true
			}
			cursor, _ = reply[0].(string)
			if cursor == "0" {
				return nil
			}
		}
	})
	must(t, err, "ForEachNode")
	if nodes < 1 {
		t.Fatal("ForEachNode visited no node")
	}
	for _, k := range keys {
		if !found[k] {
			t.Fatalf("SCAN over every node did not find %s (visited %d nodes)", k, nodes)
		}
	}
	stop := errors.New("stop")
	if err := conn.ForEachNode(ctx, s.d, func(context.Context, conn.Driver) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("ForEachNode did not return fn's error: %v", err)
	}
}

func (s *suite) testClose(t *testing.T) {
	d := s.newDriver(t)
	ctx := ctxT(t)
	k := s.key("close")
	must(t, d.Set(ctx, k, []byte("v"), time.Minute), "Set before Close")
	must(t, d.Close(), "Close")
	if _, err := d.Get(ctx, k); !errors.Is(err, conn.ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	if err := d.Set(ctx, k, []byte("v"), 0); !errors.Is(err, conn.ErrClosed) {
		t.Fatalf("Set after Close = %v, want ErrClosed", err)
	}
	if _, err := d.Do(ctx, "PING"); !errors.Is(err, conn.ErrClosed) {
		t.Fatalf("Do after Close = %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	// The shared driver is unaffected.
	if _, err := s.d.Get(ctx, k); err != nil {
		t.Fatalf("closing one driver broke another: %v", err)
	}
}

func equalAny(got, want any) bool {
	switch w := want.(type) {
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !equalAny(g[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return got == want
	}
}

func pairsOf(t *testing.T, v any) map[string]string {
	t.Helper()
	arr, ok := v.([]any)
	if !ok || len(arr)%2 != 0 {
		t.Fatalf("reply %#v is not an alternating key/value []any", v)
	}
	m := make(map[string]string, len(arr)/2)
	for i := 0; i < len(arr); i += 2 {
		k, _ := arr[i].(string)
		val, _ := arr[i+1].(string)
		m[k] = val
	}
	return m
}
