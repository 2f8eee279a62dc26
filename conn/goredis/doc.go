// Package goredis is a [conn.Driver] over go-redis v9
// ([github.com/redis/go-redis/v9]), for redcache and for any code that
// talks to Redis through the conn interface. Its twin,
// github.com/redcache/redcache/conn/radix, has the same constructors,
// options and errors: a program swaps one for the other by changing an
// import.
//
// # Why go-redis
//
// go-redis is the most used Go client: it sends its commands through a
// [redis.UniversalClient], so the driver works with a single server, a
// Redis Cluster, a Sentinel-managed primary, a ring of shards, TLS and ACL
// users, and go-redis's hooks (tracing, metrics). Pick it when the program
// already has a go-redis client: [New] wraps it.
//
// # Getting a driver
//
// [Open] builds a go-redis client from a URL and owns it:
//
//	d, err := goredis.Open(ctx, "redis://localhost:6379/0")
//	if err != nil {
//		return err
//	}
//	defer d.Close() // closes the client too
//	conn.Use(d)
//
// Other URLs: rediss:// for TLS, unix://, redis+cluster://host:port,...
// for a Redis Cluster, redis+sentinel://host:port,...?master_name=NAME
// for a primary watched by Sentinel (see [Open]). Open does not connect:
// the first call dials, so a program may start while Redis is down (the
// radix driver's Open dials instead, and fails then).
//
// [New] wraps a client you built yourself, for everything a URL cannot
// say (a credentials provider, hooks, tracing), and leaves it open when
// the driver is closed unless [WithOwnedClient] hands it over:
//
//	rdb := redis.NewClusterClient(&redis.ClusterOptions{
//		Addrs:                 addrs,
//		ContextTimeoutEnabled: true,                        // let contexts bound every call
//		Dialer:                goredis.FailFastDialer(nil), // a refusal fails at once
//	})
//	d := goredis.New(rdb)
//
// A client handed to New should set what [Open] sets:
//
//   - ContextTimeoutEnabled: true. Without it go-redis ignores a
//     context's deadline once a command is on the wire, and a slow server
//     holds the caller for the client's ReadTimeout instead.
//   - Dialer: [FailFastDialer](next), where next is the dialer the client
//     would use otherwise (nil for plain TCP, redis.NewDialer(opt) to keep
//     go-redis's TLS and keep-alive settings). Without it a refused
//     connection is dialled 5 times 100 ms apart and retried by the
//     command, so it costs the caller its whole deadline and surfaces as
//     a timeout; go-redis also prints "failed to dial" for it, and after
//     PoolSize refusals waits for a once-a-second probe before it dials
//     again, which delays the first call after a restart by up to a
//     second.
//
// # Options
//
// An [Option] is a function, as in the radix driver; nil options are
// ignored. [WithOwnedClient], [WithTLSConfig] (a private certificate
// authority for rediss:// URLs) and [WithSubscriptionCheck] (how a
// half-open subscription is found) have the same names and arguments in
// both drivers. [WithAutoPipeline] turns auto-pipelining off (see below);
// radix pipelines the commands of concurrent callers by design.
//
// # Errors
//
// Every error the driver makes starts with "redcache/goredis: ", and
// wraps the sentinel of package conn it stands for, so the checks are the
// same whichever driver made it: a missing key is [conn.ErrMiss], an
// error reply a [*conn.ReplyError], a call on a closed driver
// [conn.ErrClosed], an argument refused before anything is sent (a
// command without a name, an argument of a type the contract does not
// list, a Subscribe without channels, a nil script) [conn.ErrBadArg], a
// URL Open cannot use [ErrBadURL] and with it [conn.ErrBadURL]. A call
// whose context ended wraps [context.Canceled] or
// [context.DeadlineExceeded] (go-redis reports some of those as network
// timeouts), and a refused connection syscall.ECONNREFUSED.
//
// # Behaviour
//
// The driver follows the [conn.Driver] contract and passes the
// [github.com/redcache/redcache/conn/conntest] suite on a single server
// and on a cluster, and its fault cases (a stalled, refusing or resetting
// server, a half-open subscription, bad URLs). What it adds to go-redis:
//
//   - The errors of package conn (see Errors above) where go-redis has
//     its own: redis.Nil becomes [conn.ErrMiss], and so on.
//   - A refused connection fails the call at once with an error that
//     wraps syscall.ECONNREFUSED (with clients from [Open], and clients
//     whose Dialer is a [FailFastDialer]), rather than a timeout after
//     go-redis's dial retries. The driver keeps no memory of an outage:
//     once Redis answers again (after a restart, say), the next call dials
//     afresh and succeeds, where go-redis alone keeps answering with the
//     last dial error until a probe it runs once a second gets through.
//   - On a cluster, MGet and Del group their keys by hash slot and send
//     one command per slot in a single pipeline, where go-redis alone
//     would get CROSSSLOT; values come back in the order of the keys.
//     Pipelines are split per node by go-redis. A PUBLISH sent with Do
//     goes to the node that owns the channel's slot, so that messages of
//     one channel keep their order (on a ring, to the channel's shard,
//     the only one its subscribers hear).
//   - [Driver.Do], [Driver.Pipeline] and [Driver.Eval] return RESP2-shaped
//     values whatever the client's protocol: RESP3 maps become alternating
//     key/value slices (ordered by key, since go-redis hands them over as
//     Go maps), doubles become strings as Redis prints them, booleans
//     become 1 or 0. RESP3 also changes the layout of a few replies (for
//     example ZRANGE WITHSCORES nests its pairs); clients from Open use
//     RESP2, which avoids both.
//   - A time.Duration argument is sent in milliseconds and a bool as 1 or
//     0 ([conn.FormatArg]); an argument of another type than the contract
//     lists is refused with [conn.ErrBadArg] before anything is sent.
//   - A subscription checks its connection with a PING every 3 s and
//     reports a half-open one (no answer within 1 s) as
//     [conn.ErrSubscriptionLost]; see [WithSubscriptionCheck].
//   - On a cluster, [Driver.NodeOf] names the primary that serves a key,
//     from go-redis's slot map and without a network call, so that a
//     caller can keep per-node state (a circuit breaker per node). When
//     calls fail in a way that may mean the slot map is out of date (a
//     node refuses, resets or times out, or answers MOVED, ASK or
//     CLUSTERDOWN), the driver asks go-redis to reload its slot map every
//     200 ms until 30 s after the last such failure, where go-redis alone
//     reloads it once a minute: after a primary dies, its keys are served
//     again within a fraction of a second of its replica's promotion.
//   - [Driver.ForEachNode] visits the primaries of a cluster (or the
//     shards of a ring) one at a time.
//   - The commands of concurrent callers share round trips (see
//     Auto-pipelining below).
//
// # Auto-pipelining
//
// go-redis sends one command per round trip on a pooled connection, so a
// hundred goroutines reading the cache cost a hundred round trips and
// Redis spends its time reading sockets. The driver coalesces the
// commands of concurrent callers instead ([WithAutoPipeline], on by
// default): per node (the server, or each cluster primary) at most two
// commands or batches are on the wire at once; a call that finds one of
// those two slots free sends its command at once, on its own context,
// exactly as go-redis alone would, and a call that finds both busy queues
// its command. When a slot frees, whoever frees it takes the whole queue
// and sends it as one go-redis pipeline. There is no timer: a batch is
// whatever arrived while the previous ones were on the wire, so a lone
// caller never waits for company.
//
// The promises of the conn contract hold for batched commands:
//
//   - every call returns at its own deadline or cancellation, whatever
//     its batch does: a queued caller waits for its reply, its context
//     or [Driver.Close], whichever comes first;
//   - a caller that gives up before its command is taken is left out of
//     the batch; one that gives up after leaves its reply to be read and
//     dropped, which keeps the connection in step for the others. A
//     batch runs on a context of its own whose deadline is the latest of
//     its callers' (go-redis's ReadTimeout bounds it when a caller has
//     none), so one caller's cancellation does not cut it short. The
//     bytes a queued call sends are copied, so a caller that gave up may
//     reuse its buffers at once;
//   - a stalled server holds no caller past its deadline, and a broken
//     connection fails only the commands of the batch that was on it,
//     with a connection error, as it would fail them one by one;
//   - on a cluster the lanes are per primary, so a stalled node holds
//     only its own callers; a batch goes through go-redis's cluster
//     pipeline, which routes each command by its slot and follows MOVED
//     and ASK, so a batch for a node whose slots moved loses nothing.
//
// Get, MGet, Set, SetNX, Del, PExpire, Eval and Do are batched. Blocking
// commands (BLPOP, XREAD, WAIT, ...) and commands that change a
// connection's state (SELECT, MULTI, CLIENT, ...) go out on a pooled
// connection of their own, as do [Driver.Pipeline] (one round trip
// already), PUBLISH on a cluster, and subscriptions (dedicated
// connections). A ring, and a client with go-redis's client-side cache
// (which answers single commands only), are never batched. Batched
// commands reach the client's hooks through go-redis's pipeline hook, on
// the batch's context: turn auto-pipelining off when a hook must see each
// command on its caller's context.
//
// Measured with BenchmarkAutoPipeline of this package (GET of a 1 KiB
// value, Redis on loopback, a two-core machine shared with other work,
// load average about 22, so the absolute figures are low and noisy; the
// ratios held across runs):
//
//	goroutines  on: hits/s   off: hits/s   on: CPU/hit   off: CPU/hit
//	         1       4,741         4,749        56.1µs        63.4µs
//	        16      28,449        11,770        13.6µs        31.2µs
//	        64      76,045        12,764         6.7µs        38.7µs
//
// On, 16 goroutines read 2.4x and 64 goroutines 6.0x as fast, for a
// fraction of the CPU per hit (a pipeline is one write and one read
// system call for many commands); one goroutine costs the same, since its
// command is sent at once. Hence on by default. Four slots per node
// instead of two made smaller batches and did worse at 64 goroutines
// (49,974 hits/s); one slot did worse at 16 (37,340 vs 56,011 in an
// earlier run). In the comparison harness (tools/cmd/redcache-bench
// --quick, same machine) core's hit path at 64 goroutines over this
// driver reached 2.31x go-redis/cache's rate and 2.89x a raw go-redis
// GET + decode.
//
// go-redis v9.22 has an experimental AutoPipeliner of its own. The
// driver does not use it: its blocking calls do not heed the caller's
// context once the command is queued, which the conn contract needs, and
// its API is marked as subject to change.
//
// # Logging
//
// go-redis has a single, process-wide logger (redis.SetLogger), which
// this package leaves alone since it may belong to the application. The
// driver keeps refusals out of it (see [FailFastDialer]); go-redis still
// writes a few diagnostics there on its own, such as a dial that timed
// out, a cluster whose nodes all fail, or a command a cluster does not
// know. A program that wants none of them calls
// redis.SetLogger with a logger of its own, or logging.Disable() from
// github.com/redis/go-redis/v9/logging.
//
// This package never logs.
package goredis
