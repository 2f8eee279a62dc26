package conn

import (
	"context"
	"time"
)

// Driver is the one seam between redcache and a Redis client library.
//
// The hot path is typed: [Driver.Get], [Driver.MGet], [Driver.Set],
// [Driver.SetNX], [Driver.Del] and [Driver.PExpire] take and return bytes, so
// a value goes to Redis and back without passing through an interface{}.
// Everything else goes through [Driver.Do], [Driver.Pipeline] and
// [Driver.Eval], whose replies are plain Go values (see [Driver.Do]).
//
// Implementations must be safe for concurrent use, must honour the
// context on every call, and must report a
// missing key as [ErrMiss], never as an empty value: an empty value is a
// value. On a Redis Cluster, multi-key calls ([Driver.MGet], [Driver.Del])
// and pipelines work across hash slots; the driver splits them per slot and
// puts the replies back in order.
//
// The context's deadline bounds the whole call, network included. Its
// cancellation is honoured before the command is sent and while the call
// waits for a connection; once a command is on the wire, some client
// libraries (go-redis) can only stop at the deadline or their read
// timeout, so give calls that may block on the server a deadline.
//
// [Driver.Do] replies have the Go types of its table with either protocol;
// their layout follows the protocol (RESP3 nests some replies, such as
// ZRANGE WITHSCORES, that RESP2 flattens), which is why both drivers
// speak RESP2 unless told otherwise.
//
// The conformance suite in [github.com/redcache/redcache/conn/conntest]
// states these rules as tests; every driver passes it.
type Driver interface {
	// Get returns the value stored at key, or ErrMiss when there is none.
	// A key that holds an empty string returns a non-nil, empty slice.
	Get(ctx context.Context, key string) ([]byte, error)

	// MGet returns one slice per key, in the order of keys. A missing key
	// is a nil slice; a key that holds an empty string is a non-nil, empty
	// slice. MGet with no keys returns an empty result and no error.
	MGet(ctx context.Context, keys ...string) ([][]byte, error)

	// Set stores value at key in one command (SET key value PX ttl). A ttl
	// of 0 keeps the value until it is deleted; a ttl below a millisecond
	// but above zero is rounded up to a millisecond rather than lost; a
	// negative ttl returns ErrInvalidTTL without touching Redis.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error

	// SetNX stores value at key only when key does not exist (SET key
	// value NX PX ttl), and reports whether it did. The ttl rules of Set
	// apply.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)

	// Del deletes keys and returns how many existed.
	Del(ctx context.Context, keys ...string) (int64, error)

	// PExpire sets the time to live of key and reports whether the key
	// existed. A ttl of 0 removes the expiry (PERSIST); negative is
	// ErrInvalidTTL.
	PExpire(ctx context.Context, key string, ttl time.Duration) (bool, error)

	// Do sends any command and returns its reply as plain Go values, the
	// same with every driver and either protocol version:
	//
	//	integer              int64
	//	simple/bulk string   string (binary safe)
	//	array, set, push     []any (nil elements for nil replies)
	//	map (RESP3)          []any of alternating keys and values
	//	double (RESP3)       string, as Redis formats it in RESP2
	//	boolean (RESP3)      int64 1 or 0
	//	nil                  nil, with the error ErrMiss
	//	error reply          nil, with a *ReplyError
	//
	// Arguments may be string, []byte, any integer or float type, bool
	// (sent as 1 or 0) or time.Duration (sent as milliseconds).
	Do(ctx context.Context, args ...any) (any, error)

	// Pipeline sends cmds in one round trip (per node, on a cluster) and
	// fills in each command's Reply and Err. It returns an error only when
	// the pipeline as a whole could not be sent or read; a command that
	// failed on its own reports it in its Err, and the others still run.
	Pipeline(ctx context.Context, cmds ...*Cmd) error

	// Eval runs script with EVALSHA and falls back to EVAL when the server
	// does not know it yet (after a restart or SCRIPT FLUSH). Keys are
	// passed as KEYS, args as ARGV; the reply is converted as for Do.
	Eval(ctx context.Context, script *Script, keys []string, args ...any) (any, error)

	// Subscribe subscribes to channels. The subscription is confirmed by
	// the server before Subscribe returns, so a message published after
	// that is delivered.
	Subscribe(ctx context.Context, channels ...string) (Subscription, error)

	// Close releases the driver's connections. Calls after Close return
	// errors. Closing a driver built around a client the caller owns
	// leaves that client open (see each driver's constructor).
	Close() error
}

// Subscription is a live pub/sub subscription returned by
// [Driver.Subscribe].
type Subscription interface {
	// Receive waits for the next message. It returns ctx.Err() when ctx
	// ends first, ErrClosed after Close, and an error wrapping
	// ErrSubscriptionLost once the connection broke: a driver never
	// resubscribes behind the caller's back, since messages published in
	// between would be lost without a trace.
	Receive(ctx context.Context) (Message, error)

	// Close unsubscribes and releases the connection. It is safe to call
	// more than once and from another goroutine than Receive's.
	Close() error
}

// Message is one pub/sub message.
type Message struct {
	Channel string
	Payload []byte
}

// Cmd is one command in a [Driver.Pipeline]. Build it with [NewCmd]; after
// the pipeline ran, Reply and Err hold its outcome, converted as for
// [Driver.Do].
type Cmd struct {
	Args  []any
	Reply any
	Err   error
}

// NewCmd returns a command for [Driver.Pipeline].
func NewCmd(args ...any) *Cmd { return &Cmd{Args: args} }

// NodeWalker is implemented by drivers that talk to several Redis nodes
// (a Cluster). Tools that must see every key or every server, such as a
// SCAN or an INFO, use it through [ForEachNode].
type NodeWalker interface {
	// ForEachNode calls fn once for every primary node, each wrapped as a
	// Driver that talks to that node alone. It stops at the first error.
	ForEachNode(ctx context.Context, fn func(ctx context.Context, node Driver) error) error
}

// NodeRouter is implemented by drivers that spread keys over several Redis
// nodes (a Cluster). It lets a caller keep per-node state, such as a
// circuit breaker, so that one failed node does not turn the cache off for
// the keys that the healthy nodes serve.
type NodeRouter interface {
	// NodeOf returns an identifier (the address) of the node that serves
	// key now, as the driver's current slot map says, or "" when the
	// driver does not know yet. It makes no network call, and the answer
	// changes when the slot map does (a failover, a resharding).
	NodeOf(key string) string
}

// NodeOf returns d's node for key when d is a [NodeRouter], and "" (the
// one and only node) otherwise.
func NodeOf(d Driver, key string) string {
	if r, ok := d.(NodeRouter); ok {
		return r.NodeOf(key)
	}
	return ""
}

// ForEachNode calls fn for every primary node of d when d is a
// [NodeWalker], and once with d itself otherwise.
func ForEachNode(ctx context.Context, d Driver, fn func(ctx context.Context, node Driver) error) error {
	if w, ok := d.(NodeWalker); ok {
		return w.ForEachNode(ctx, fn)
	}
	return fn(ctx, d)
}
