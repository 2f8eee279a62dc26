// Package radix is a [conn.Driver] over radix v4
// ([github.com/mediocregopher/radix/v4]), for redcache and for any code
// that talks to Redis through the conn interface. Its twin,
// github.com/redcache/redcache/conn/goredis, has the same constructors,
// options and errors: a program swaps one for the other by changing an
// import.
//
// # Why radix
//
// A radix v4 pool shares its connections between concurrent calls: the
// commands of many goroutines are written one after the other on the same
// connection and their replies read back in order, without waiting for
// each other (implicit pipelining). A cache is read by many goroutines at
// once, each with a small GET, which is the load this suits: a handful of
// connections carries what would need one connection per goroutine
// elsewhere, with fewer system calls per command. [WithWriteFlushInterval]
// goes further by gathering the writes of concurrent calls into one
// system call. Commands that block on the server (BLPOP and the like) get
// a connection of their own, so they never hold up the others.
//
// # Getting a driver
//
// [Open] connects to the Redis a URL names and owns the connections:
//
//	d, err := radix.Open(ctx, "redis://localhost:6379/0")
//	if err != nil {
//		return err
//	}
//	defer d.Close() // closes the connections
//	conn.Use(d)
//
// Other URLs: rediss:// for TLS, unix://, redis+cluster://host:port,...
// (or several addresses) for a Redis Cluster,
// redis+sentinel://host:port,...?master_name=NAME for a primary watched by
// Sentinel (see [Open]). Open dials before it returns, bounded by ctx, so
// a server that cannot be reached is Open's error (the go-redis driver's
// Open connects lazily instead, and succeeds then). [Open] puts radix's
// connections in a pool of this package rather than radix's own, which
// can leave calls blocked after a Redis restart (see [New]).
//
// [New] wraps a radix client you built yourself (a pool, a *radix.Cluster,
// a *radix.Sentinel), and leaves it open when the driver is closed unless
// [WithOwnedClient] hands it over.
//
// # Options
//
// An [Option] is a function, as in the go-redis driver; nil options are
// ignored. [WithOwnedClient], [WithTLSConfig] (a private certificate
// authority for rediss:// URLs) and [WithSubscriptionCheck] (how a
// half-open subscription is found) have the same names and arguments in
// both drivers; [WithPoolSize], [WithDialer] and [WithWriteFlushInterval]
// are radix's own.
//
// # Errors
//
// Every error the driver makes starts with "redcache/radix: ", and wraps
// the sentinel of package conn it stands for, so the checks are the same
// whichever driver made it: a missing key is [conn.ErrMiss], an error
// reply a [*conn.ReplyError], a call on a closed driver [conn.ErrClosed],
// an argument refused before anything is sent (a command without a name,
// an argument of a type the contract does not list, a Subscribe without
// channels, a nil script) [conn.ErrBadArg], a URL Open cannot use
// [ErrBadURL] and with it [conn.ErrBadURL]. A call whose context ended
// wraps [context.Canceled] or [context.DeadlineExceeded]. Two errors are
// radix's own: [ErrStalled] and [ErrStatefulCommand].
//
// # Behaviour
//
// The driver follows the [conn.Driver] contract, which the conformance
// suite [github.com/redcache/redcache/conn/conntest] checks against a
// standalone Redis and a Redis Cluster:
//
//   - a missing key is [conn.ErrMiss]; an empty value is a non-nil, empty
//     slice;
//   - error replies are [*conn.ReplyError]; [Driver.Do] replies are plain Go
//     values (int64, string, []any, with RESP3 maps flattened), read
//     straight off the wire rather than through radix's reflection;
//   - every call honours its context: a call whose context ends returns an
//     error for which errors.Is(err, context.Canceled) or
//     errors.Is(err, context.DeadlineExceeded) holds, and radix discards
//     the late reply (or the connection, when a reply was cut in half), so
//     later calls on the shared connection read their own replies;
//   - with [Open], a call whose context ends returns when it does, even
//     with replies queued before its own on the shared connection, and
//     breaks no other call: its command is finished by a goroutine that
//     reads the reply and drops it (the bytes it sends are copied first,
//     so the caller may reuse its buffers). A stalled server (CLIENT
//     PAUSE, DEBUG SLEEP, a stopped process, a partition) thus holds no
//     call past its deadline. A connection on which the server then stays
//     silent for a second while it owes such a reply is closed and the
//     pool dials a fresh one; of the calls caught by the close whose
//     context is still live, GET, MGET, SET without NX and PEXPIRE run
//     again on another connection, the others fail with [ErrStalled].
//     [Driver.Close] returns at once all the same;
//   - with [Open], a server that restarts is found again by the first
//     call made once it is back (the call that finds the pool down fails
//     at once with the dial error, and makes the pool dial again at
//     once), or within half a second without calls: the pool's backoff
//     between failed dials stays under 500 ms;
//   - on a cluster, [Driver.MGet], [Driver.Del] and [Driver.Pipeline] split
//     their keys per hash slot and node, run one pipeline per node
//     concurrently and put the replies back in order,
//     [Driver.ForEachNode] visits every primary, and [Driver.NodeOf] says
//     which primary serves a key (for per-node state such as a breaker);
//     the slot map is refreshed at once after a MOVED redirection or a
//     call that could not reach its node, not only every 5 seconds;
//   - a subscription whose connection breaks, or goes silent without
//     breaking (a stopped server, a partition: found by a PING, see
//     [WithSubscriptionCheck]), ends with an error wrapping
//     [conn.ErrSubscriptionLost];
//   - [Driver.Eval] sends EVALSHA and falls back to EVAL when the server
//     answers NOSCRIPT;
//   - commands that would change the state of a shared connection (SELECT,
//     SUBSCRIBE, MONITOR, MULTI outside a pipeline, ...) are refused with
//     [ErrStatefulCommand] instead of corrupting other calls.
//
// Closing a driver that owns its client stops every goroutine radix
// started for it.
//
// # Logging
//
// radix v4 has no logger, and this package never logs.
package radix
