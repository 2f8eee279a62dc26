// Package conn is the bottom layer of redcache: the [Driver] interface that
// every other module talks to Redis through, and the connection stack that
// decides which Redis a call uses.
//
// # Drivers
//
// A Driver wraps a Redis client library. Two are maintained with the
// project, each in its own module so that a program downloads only the one
// it uses:
//
//   - github.com/redcache/redcache/conn/goredis, over go-redis v9 (single
//     node, Cluster, Sentinel, TLS, ACL);
//   - github.com/redcache/redcache/conn/radix, over radix v4 (a pool with
//     implicit pipelining, Cluster, Sentinel).
//
// A third, github.com/redcache/redcache/conn/memory, keeps its data in
// memory (with real Lua scripts): a stand-in for Redis in tests that need
// no server or must hold a call at a known point to order a race.
//
// All three pass the same conformance suite,
// [github.com/redcache/redcache/conn/conntest]: the network drivers
// against a real Redis and a real Redis Cluster, and also its fault cases
// (a stalled, refusing or resetting server, through a fault-injecting
// proxy) and its table of bad URLs. A driver of your own is done when it
// passes them too.
//
// # Choosing a connection
//
// The original Python library kept a per-thread stack of connections:
// use_connection() set the bottom, `with Connection(r):` pushed one for a
// block. Here the stack is process-wide and safe for concurrent use ([Use],
// [Push], [Pop], [Current], [Scope]), and a connection for one request or
// goroutine travels in the context instead ([With], [From]). [Resolve]
// applies the order every redcache call follows:
//
//  1. a driver passed explicitly (for example to core.New);
//  2. else the driver carried by the context;
//  3. else the top of the stack;
//  4. else [ErrNoConnection].
//
// # Errors
//
// A missing key is [ErrMiss], never an empty value. Redis error replies are
// [*ReplyError]; a negative TTL is [ErrInvalidTTL]; a call on a closed
// driver is [ErrClosed]; an argument refused before anything is sent (a
// command argument of an unsupported type, a nil driver given to [Use]) is
// [ErrBadArg]; a URL a driver's Open cannot use is [ErrBadURL]. Check them
// with [errors.Is] and [errors.As], whichever driver made them.
//
// The sentinels of this package read "redcache: ..."; each driver's own
// errors read "redcache/goredis: ...", "redcache/radix: ..." or
// "redcache/memory: ...", and wrap these sentinels where one applies.
//
// This package imports only the standard library.
package conn
