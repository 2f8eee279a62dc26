// Package memory is a [conn.Driver] that keeps its data in memory: a
// stand-in for Redis in tests that must be fast, need no server, or must
// order a race deterministically.
//
//	d := memory.New()
//	defer d.Close()
//	_ = d.Set(ctx, "k", []byte("v"), time.Minute)
//
// It passes the same conformance suite as the network drivers
// ([github.com/redcache/redcache/conn/conntest.Run]), so code that works
// with it works with them; what it cannot do (a network, a cluster) is
// what the network drivers' own tests are for.
//
// # What it supports
//
// The typed hot path of [conn.Driver], [Driver.Pipeline], [Driver.Eval],
// [Driver.Subscribe], and through [Driver.Do]:
//
//   - strings and keys: GET, SET (EX, PX, EXAT, PXAT, NX, XX, KEEPTTL, GET),
//     SETNX, SETEX, PSETEX, GETSET, GETDEL, MGET, MSET, APPEND, STRLEN, INCR,
//     INCRBY, INCRBYFLOAT, DECR, DECRBY, DEL, UNLINK, EXISTS, TYPE, RENAME,
//     EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (NX, XX, GT, LT), TTL, PTTL,
//     PERSIST, KEYS, SCAN (MATCH, COUNT, TYPE), DBSIZE, FLUSHDB, FLUSHALL;
//   - lists: RPUSH, LPUSH, RPUSHX, LPUSHX, LPOP, RPOP, BLPOP, BRPOP (they
//     block until a push, their timeout or the context), LRANGE, LLEN,
//     LINDEX, LTRIM;
//   - hashes: HSET, HMSET, HSETNX, HGET, HMGET, HGETALL, HKEYS, HVALS, HDEL,
//     HEXISTS, HLEN, HINCRBY;
//   - sets: SADD, SREM, SMEMBERS, SISMEMBER, SCARD;
//   - sorted sets: ZADD (NX, XX, GT, LT, CH, INCR), ZINCRBY, ZSCORE, ZCARD,
//     ZREM, ZRANK, ZREVRANK, ZCOUNT, ZRANGE (BYSCORE, REV, LIMIT,
//     WITHSCORES), ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE,
//     ZREMRANGEBYSCORE;
//   - scripts: EVAL, EVALSHA (NOSCRIPT for a script it has not seen),
//     SCRIPT LOAD, EXISTS, FLUSH;
//   - the rest: PING, ECHO, PUBLISH, SELECT 0, TIME.
//
// Any other command is a [*conn.ReplyError] "ERR unknown command", as
// Redis answers it, never a silent nil. One database (0) only; HGETALL,
// HKEYS, SMEMBERS and KEYS list in sorted order, where Redis gives no
// order.
//
// # Scripts
//
// EVAL is part of the Driver contract: core's generation bump and its
// fenced write are Lua scripts, and the races they guard against are the
// ones a test wants to run without Redis. Faking their effect in Go would
// test the fake, not the script, so the driver runs the real Lua source
// with github.com/yuin/gopher-lua, a pure-Go Lua 5.1 (the version Redis
// embeds): redis.call, redis.pcall, redis.sha1hex, redis.error_reply,
// redis.status_reply and redis.log, KEYS and ARGV, Redis's conversions
// between Lua and replies, its ban on globals, and its atomicity (a script
// runs under the driver's lock). The cjson, cmsgpack, struct and bit
// libraries are not provided. A script's context bounds it: an endless
// loop ends with the context's error.
//
// # Errors
//
// As the network drivers': every error the driver makes starts with
// "redcache/memory: " and wraps the sentinel of package conn it stands
// for ([conn.ErrMiss], [conn.ErrClosed], [conn.ErrBadArg] for an argument
// refused before it runs, [conn.ErrSubscriptionLost]), and Redis's error
// replies are [*conn.ReplyError] with Redis's text, so that code checked
// with this driver checks its errors the same way with the others. An
// [Option] is a function, as in the network drivers.
//
// # Tests
//
// [WithHook] runs a function before each command, outside the lock: a test
// blocks there to hold a call at a known point, or returns an error to
// inject a failure. [WithClock] gives expiry a clock the test moves.
// [Driver.Connect] opens another driver on the same data, as a second
// client of the same server; [Driver.LoseSubscriptions] breaks the
// subscriptions as a dropped connection does.
package memory
