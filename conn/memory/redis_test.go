package memory_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
)

// TestSameAsRedis sends the same commands to the in-memory driver and to a
// real Redis, and requires the same replies: the same values of the same
// Go types, a miss for a miss, and an error reply with the same prefix for
// an error reply. It keeps the in-memory driver honest about the commands
// it claims. Arguments written "k:name" are keys, put under a prefix of
// the run so that the test can share the server.
func TestSameAsRedis(t *testing.T) {
	addr := conntest.RedisAddr(t)
	rc := dialRESP(t, addr)
	d := newT(t)
	prefix := "memtest:" + randomHex() + ":"

	steps := [][]any{
		{"SET", "k:s", "v", "NX"},
		{"SET", "k:s", "w", "NX"},
		{"SET", "k:s", "w", "XX", "GET"},
		{"SET", "k:s", "x", "EX", 0},
		{"SET", "k:s", "x", "NX", "XX"},
		{"SET", "k:s", "x", "PX", 100, "EX", 1},
		{"SET", "k:s", "x", "BOGUS"},
		{"SET", "k:ttl", "v", "PX", 60000},
		{"SET", "k:ttl", "w", "KEEPTTL"},
		{"TTL", "k:ttl"},
		{"EXPIRE", "k:ttl", 100, "GT"},
		{"EXPIRE", "k:ttl", 100, "LT"},
		{"TTL", "k:ttl"},
		{"EXPIRE", "k:ttl", 30, "NX"},
		{"PERSIST", "k:ttl"},
		{"PERSIST", "k:ttl"},
		{"TTL", "k:ttl"},
		{"TTL", "k:none"},
		{"PTTL", "k:none"},
		{"EXPIRE", "k:none", 10},
		{"EXPIRE", "k:ttl", "soon"},
		{"GET", "k:s"},
		{"GET", "k:none"},
		{"APPEND", "k:s", "!"},
		{"STRLEN", "k:s"},
		{"STRLEN", "k:none"},
		{"GETSET", "k:s", "y"},
		{"GETDEL", "k:s"},
		{"GETDEL", "k:s"},
		{"SETNX", "k:nx", "1"},
		{"SETNX", "k:nx", "2"},
		{"SETEX", "k:ex", 100, "v"},
		{"TTL", "k:ex"},
		{"PSETEX", "k:px", 100000, "v"},
		{"TTL", "k:px"},
		{"INCR", "k:n"},
		{"INCRBY", "k:n", 41},
		{"DECR", "k:n"},
		{"DECRBY", "k:n", 2},
		{"INCRBY", "k:n", "x"},
		{"INCRBY", "k:max", 9223372036854775807},
		{"INCR", "k:max"},
		{"INCR", "k:ex"},
		{"INCRBYFLOAT", "k:f", "1.5"},
		{"INCRBYFLOAT", "k:f", "2"},
		{"INCRBYFLOAT", "k:f", "abc"},
		{"MSET", "k:m1", "1", "k:m2", ""},
		{"MSET", "k:m1"},
		{"MGET", "k:m1", "k:m2", "k:none", "k:list"},
		{"EXISTS", "k:m1", "k:m2", "k:none", "k:m1"},
		{"TYPE", "k:m1"},
		{"TYPE", "k:none"},
		{"DEL", "k:m1", "k:none"},
		{"UNLINK", "k:m2"},
		{"RENAME", "k:n", "k:n2"},
		{"RENAME", "k:none", "k:n3"},
		{"GET", "k:n2"},

		{"RPUSH", "k:list", "a", "b", "c"},
		{"LPUSH", "k:list", "z", "y"},
		{"RPUSHX", "k:nolist", "a"},
		{"LPUSHX", "k:list", "x"},
		{"LRANGE", "k:list", 0, -1},
		{"LRANGE", "k:list", -2, 100},
		{"LRANGE", "k:list", 5, 1},
		{"LRANGE", "k:nolist", 0, -1},
		{"LINDEX", "k:list", -1},
		{"LINDEX", "k:list", 99},
		{"LLEN", "k:list"},
		{"LPOP", "k:list"},
		{"RPOP", "k:list", 2},
		{"LPOP", "k:nolist"},
		{"LPOP", "k:nolist", 2},
		{"LTRIM", "k:list", 1, -1},
		{"LRANGE", "k:list", 0, -1},
		{"BLPOP", "k:list", 1},
		{"LPOP", "k:list", 5},
		{"EXISTS", "k:list"},
		{"GET", "k:list"},
		{"RPUSH", "k:list", "q"},
		{"GET", "k:list"},
		{"INCR", "k:list"},
		{"SET", "k:list", "now a string"},
		{"LLEN", "k:list"},

		{"HSET", "k:h", "f1", "1", "f2", "2"},
		{"HSET", "k:h", "f1", "one"},
		{"HSET", "k:h", "f1"},
		{"HSETNX", "k:h", "f1", "x"},
		{"HSETNX", "k:h", "f3", "3"},
		{"HGET", "k:h", "f1"},
		{"HGET", "k:h", "nope"},
		{"HGET", "k:none", "f"},
		{"HMGET", "k:h", "f1", "nope", "f2"},
		{"HINCRBY", "k:h", "f2", 5},
		{"HINCRBY", "k:h", "f1", 1},
		{"HEXISTS", "k:h", "f1"},
		{"HLEN", "k:h"},
		{"HMSET", "k:h", "f4", "4"},
		{"HDEL", "k:h", "f1", "f2", "nope"},
		{"HDEL", "k:h", "f3", "f4"},
		{"EXISTS", "k:h"},
		{"HGETALL", "k:none"},
		{"HSET", "k:ex", "f", "v"},

		{"SADD", "k:set", "b", "a", "b"},
		{"SISMEMBER", "k:set", "a"},
		{"SISMEMBER", "k:set", "z"},
		{"SCARD", "k:set"},
		{"SREM", "k:set", "a", "z"},
		{"SREM", "k:set", "b"},
		{"EXISTS", "k:set"},

		{"ZADD", "k:z", 2, "b", 1, "a", 3, "c"},
		{"ZADD", "k:z", "CH", 5, "a", 2, "b"},
		{"ZADD", "k:z", "NX", 9, "a"},
		{"ZADD", "k:z", "XX", 9, "new"},
		{"ZADD", "k:z", "INCR", 0.5, "b"},
		{"ZADD", "k:z", "GT", 1, "c"},
		{"ZADD", "k:z", "GT", "CH", 4, "c"},
		{"ZADD", "k:z", "NX", "XX", 1, "a"},
		{"ZADD", "k:z", 1},
		{"ZADD", "k:z", "x", "a"},
		{"ZINCRBY", "k:z", 1, "a"},
		{"ZSCORE", "k:z", "a"},
		{"ZSCORE", "k:z", "nope"},
		{"ZCARD", "k:z"},
		{"ZRANGE", "k:z", 0, -1},
		{"ZRANGE", "k:z", 0, 1, "WITHSCORES"},
		{"ZRANGE", "k:z", "-inf", "+inf", "BYSCORE", "LIMIT", 1, 2},
		{"ZRANGE", "k:z", "+inf", "(2.5", "BYSCORE", "REV", "WITHSCORES"},
		{"ZRANGE", "k:z", 0, -1, "LIMIT", 0, 1},
		{"ZREVRANGE", "k:z", 0, 0, "WITHSCORES"},
		{"ZRANGEBYSCORE", "k:z", "(2.5", "+inf"},
		{"ZRANGEBYSCORE", "k:z", "-inf", "+inf", "WITHSCORES", "LIMIT", 0, 2},
		{"ZREVRANGEBYSCORE", "k:z", "+inf", "-inf", "LIMIT", 1, 1},
		{"ZRANGEBYSCORE", "k:z", "a", "b"},
		{"ZCOUNT", "k:z", "(2.5", 6},
		{"ZRANK", "k:z", "c"},
		{"ZREVRANK", "k:z", "c"},
		{"ZRANK", "k:z", "nope"},
		{"ZREM", "k:z", "a", "nope"},
		{"ZREMRANGEBYSCORE", "k:z", "-inf", 2.5},
		{"ZRANGE", "k:z", 0, -1, "WITHSCORES"},
		{"ZREM", "k:z", "c"},
		{"EXISTS", "k:z"},
		{"ZRANGE", "k:none", 0, -1},
		{"ZADD", "k:ex", 1, "a"},

		{"PING"},
		{"PING", "hello"},
		{"ECHO", "bin\x00\xff"},
		{"PUBLISH", "k:channel", "nobody listens"},
		{"NOSUCHCOMMAND", "k:s"},
		{"GET"},
		{"GET", "k:a", "k:b"},

		{"EVAL", "return {1, 2.9, 'three', true, false, nil, 'after nil'}", 0},
		{"EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", 1, "k:lua", "v"},
		{"EVAL", "return redis.call('GET', KEYS[1])", 1, "k:lua"},
		{"EVAL", "return redis.call('GET', KEYS[1])", 1, "k:none"},
		{"EVAL", "return redis.call('INCR', KEYS[1])", 1, "k:lua"},
		{"EVAL", "return redis.pcall('INCR', KEYS[1])", 1, "k:lua"},
		{"EVAL", "local r = redis.pcall('INCR', KEYS[1]); return r.err", 1, "k:lua"},
		{"EVAL", "return redis.status_reply('FINE')", 0},
		{"EVAL", "return redis.error_reply('MYERR no')", 0},
		{"EVAL", "return redis.sha1hex('')", 0},
		{"EVAL", "return {redis.call('EXISTS', KEYS[1]), redis.call('TTL', KEYS[1])}", 1, "k:lua"},
		{"EVAL", "return tostring(redis.call('SET', KEYS[1], 'x', 'NX'))", 1, "k:lua"},
		{"EVAL", "return redis.call('HGETALL', KEYS[1])", 1, "k:none"},
		{"EVAL", "return 1", -1},
		{"EVAL", "return 1", 3, "k:a"},
		{"EVAL", "not lua at all", 0},
		{"EVALSHA", "0000000000000000000000000000000000000000", 0},
		{"SCRIPT", "EXISTS", "0000000000000000000000000000000000000000"},
	}
	ctx := ctxT(t)
	for i, step := range steps {
		args := make([]any, len(step))
		for j, a := range step {
			if s, ok := a.(string); ok && strings.HasPrefix(s, "k:") {
				a = prefix + s[2:]
			}
			args[j] = a
		}
		want, wantErr := rc.do(ctx, args...)
		got, gotErr := d.Do(ctx, args...)
		if w, g := describe(want, wantErr, prefix), describe(got, gotErr, prefix); w != g {
			t.Errorf("step %d %v:\n  redis:  %s\n  memory: %s", i, step, w, g)
		}
	}
	keys, err := rc.do(ctx, "KEYS", prefix+"*")
	if err == nil {
		if list, _ := keys.([]any); len(list) > 0 {
			_, _ = rc.do(ctx, append([]any{"DEL"}, list...)...)
		}
	}
}

// describe prints a reply for comparison: error replies by prefix only
// (the wording varies), everything else in full with its Go type.
func describe(v any, err error, prefix string) string {
	var re *conn.ReplyError
	switch {
	case errors.As(err, &re):
		return "reply error " + re.Prefix()
	case errors.Is(err, conn.ErrMiss):
		return fmt.Sprintf("miss %#v", v)
	case err != nil:
		return "error " + err.Error()
	}
	return strings.ReplaceAll(fmt.Sprintf("%#v", v), prefix, "k:")
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// respClient is a minimal RESP2 client, so that comparing with Redis needs
// no driver module. Its replies follow conn.Driver.Do's table.
type respClient struct {
	c net.Conn
	r *bufio.Reader
}

func dialRESP(t *testing.T, addr string) *respClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &respClient{c: c, r: bufio.NewReader(c)}
}

func (rc *respClient) do(ctx context.Context, args ...any) (any, error) {
	dl, _ := ctx.Deadline()
	_ = rc.c.SetDeadline(dl)
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		s := fmt.Sprint(a)
		if f, ok := a.(float64); ok {
			s = strconv.FormatFloat(f, 'f', -1, 64)
		}
		b = append(b, "$"+strconv.Itoa(len(s))+"\r\n"+s+"\r\n"...)
	}
	if _, err := rc.c.Write(b); err != nil {
		return nil, err
	}
	v, err := rc.read()
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil:
		return nil, conn.ErrMiss
	case *conn.ReplyError:
		return nil, x
	}
	return v, nil
}

func (rc *respClient) read() (any, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	body := strings.TrimSuffix(line[1:], "\r\n")
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return &conn.ReplyError{Msg: body}, nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, _ := strconv.Atoi(body)
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		for read := 0; read < len(buf); {
			m, err := rc.r.Read(buf[read:])
			if err != nil {
				return nil, err
			}
			read += m
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(body)
		if n < 0 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			e, err := rc.read()
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}
