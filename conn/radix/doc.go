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
// both drivers, as does [WithAutoPipeline] (on by default in both);
// [WithPoolSize], [WithDialer] and [WithWriteFlushInterval] are radix's
// own.
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
//     pool dials a fresh one; so is a connection on which the server has
//     been silent for 3 s with any reply owed, callers still waiting or
//     not: a connection left half open by a partition is thus noticed by
//     the calls on it, which do not wait for their own deadlines (like
//     go-redis's default ReadTimeout, this also bounds a single command
//     the server takes longer than 3 s to answer). Of the calls caught by
//     the close whose context is still live, GET, MGET, SET without NX and
//     PEXPIRE run again on another connection, the others fail with
//     [ErrStalled]. [Driver.Close] returns at once all the same;
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
// # Auto-pipelining
//
// A radix connection pipelines by itself, but each call still travels
// alone through its writer and reader goroutines (and, for a caller whose
// context can end, through one more of the driver's): at 64 concurrent
// callers most of the client's CPU goes to waking goroutines. With [Open]
// the pools therefore coalesce the commands of concurrent callers, as the
// go-redis driver does ([WithAutoPipeline], on by default): per pool (the
// server, or each cluster node) at most two commands or batches are on
// the wire at once; a call that finds one of those two slots free sends
// its command at once, exactly as without auto-pipelining, and a call
// that finds both busy queues its command. When a slot frees, whoever
// frees it hands the whole queue to a goroutine that sends it as one
// write and reads the replies in one loop. There is no timer: a batch is
// whatever arrived while the previous ones were on the wire.
//
// The promises above hold for batched commands: a queued caller waits
// for its reply, its context or [Driver.Close], whichever comes first; a
// caller that gives up before its command is taken is left out of the
// batch, and one that gives up after leaves its reply to be read and
// dropped (its bytes were copied when it queued); each command gets its
// own reply or error reply, so an error reply fails that command only and
// radix's Cluster follows a MOVED or ASK per command; a batch whose
// callers have all given up is watched like any call left behind, and a
// connection that breaks or stalls under a batch fails only its commands,
// GETs and the other commands that may run twice going again. An EVALSHA
// answered NOSCRIPT in a batch is sent again as EVAL, on its own.
//
// Get, MGet, Set, SetNX, Del, PExpire, Eval and the non-blocking commands
// of Do are batched; blocking commands, [Driver.Pipeline] (one round trip
// already), subscriptions and radix's own actions (a cluster's topology
// queries) are not. [New] does not batch: the client given to it has its
// pool already.
//
// Measured with BenchmarkAutoPipeline of this package (GET of a 1 KiB
// value, callers with cancellable contexts as core's are, Redis on
// loopback, a two-core machine shared with other work):
//
//	goroutines  on: hits/s   off: hits/s   on: CPU/hit   off: CPU/hit
//	         1      14,144        12,803        56.3µs        62.6µs
//	        16      67,575        48,286        15.0µs        22.0µs
//	        64     149,347        58,599         7.7µs        19.1µs
//
// Hence on by default. One slot per pool instead of two did about as well
// (176,908 against 183,575 hits/s at 64 goroutines in one run), four did
// worse (160,140 against 177,346). In the comparison harness
// (tools/cmd/redcache-bench --only hit64,zipf64), core's hits at 64
// goroutines over this driver went from 1.57x go-redis/cache's rate to
// 3.27x, and Zipf reads from 1.20x to 2.04x.
//
// The connections of [Open] read and write through 32 KiB buffers
// (radix's default is 4 KiB), unless [WithDialer] gives a Dialer with
// NewRespOpts of its own: a batch of twenty 1 KiB replies is read in one
// system call instead of five, which raised 64-goroutine GETs by about
// 10% here.
//
// # Logging
//
// radix v4 has no logger, and this package never logs.
package radix
