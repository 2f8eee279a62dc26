package goredis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redcache/redcache/conn"
	"github.com/redis/go-redis/v9"
)

var (
	_ conn.Driver     = (*Driver)(nil)
	_ conn.NodeWalker = (*Driver)(nil)
	_ conn.NodeRouter = (*Driver)(nil)
)

// Driver is a [conn.Driver] over a go-redis client. Build it with [New]
// around a client of your own, or with [Open] from a URL. It is safe for
// concurrent use.
type Driver struct {
	c       redis.UniversalClient
	cluster *redis.ClusterClient // c, when it is a cluster client
	ring    *redis.Ring          // c, when it is a ring
	owns    bool                 // Close closes c
	// copyValues is set when go-redis may hand the same string to several
	// callers (with its client-side cache on), so values must be copied
	// before they are returned as mutable slices.
	copyValues bool

	cfg config // options given to New or Open
	// mapped is set once a command succeeded on a cluster: go-redis has
	// its slot map then, and NodeOf may read it without a network call.
	mapped atomic.Bool
	// The slot map watch (see cluster.go): lastFail is when a call last
	// failed in a way that may mean the slot map is out of date (unix
	// nanoseconds), watching is set while the watch runs, and stop ends it
	// when the driver is closed.
	lastFail atomic.Int64
	watching atomic.Bool
	stop     chan struct{}

	// pipe batches the commands of concurrent callers (see pipeline.go);
	// nil when auto-pipelining is off.
	pipe *pipeliner

	closed atomic.Bool
	mu     sync.Mutex
	subs   map[*subscription]struct{} // open subscriptions, closed with the driver
}

// New returns a Driver that sends its commands through client, which may be
// any go-redis [redis.UniversalClient]: a single-node *redis.Client, a
// Sentinel-backed one from [redis.NewFailoverClient], a
// *redis.ClusterClient or a *redis.Ring.
//
// The client stays the caller's: [Driver.Close] leaves it open unless the
// [WithOwnedClient] option hands it over.
//
// The conn contract wants every call to end with its context. go-redis
// applies a context's deadline to the network only when the client's
// options have ContextTimeoutEnabled set (clients from [Open] have it), so
// set it on clients given to New; without it a deadline is only honoured
// while waiting for a pooled connection and before a command is sent, and
// a slow server holds the call for the client's ReadTimeout. Set its
// Dialer to a [FailFastDialer] too, or a refused connection costs each
// call its whole deadline (see the package documentation). Even with it,
// go-redis does not watch for a cancellation once a command is sent: a
// context cancelled before the call (or while it waits for a connection)
// stops it, one cancelled while the reply is on its way does not, and the
// call ends with the reply, the deadline or ReadTimeout. Give blocking
// commands (BLPOP and the like) a deadline.
//
// With RESP3 (go-redis's default protocol) the server's map replies reach
// go-redis as Go maps and lose their order; [Driver.Do] returns them
// ordered by key. A client with Protocol: 2 gets them in the server's
// order, and [Open] uses RESP2 for that reason.
//
// New panics when client is nil, as the radix driver's New does.
func New(client redis.UniversalClient, opts ...Option) *Driver {
	if client == nil {
		panic(prefix + "New called with a nil client")
	}
	cfg := newConfig(opts)
	d := &Driver{c: client, owns: cfg.closeClient, cfg: cfg, stop: make(chan struct{})}
	switch c := client.(type) {
	case *redis.ClusterClient:
		d.cluster = c
	case *redis.Ring:
		d.ring = c
	case *redis.Client:
		o := c.Options()
		d.copyValues = o.ClientSideCache != nil || o.ClientSideCacheConfig != nil
	}
	// A ring routes by shard itself, and go-redis's client-side cache
	// answers single commands only, so neither is batched.
	if cfg.autoPipeline && d.ring == nil && !d.copyValues {
		d.pipe = newPipeliner(d, lanesPerNode)
	}
	return d
}

// Client returns the go-redis client the driver sends its commands
// through, for the features the conn contract does not cover.
func (d *Driver) Client() redis.UniversalClient { return d.c }

// Get returns the value stored at key, or [conn.ErrMiss].
func (d *Driver) Get(ctx context.Context, key string) ([]byte, error) {
	if d.closed.Load() {
		return nil, conn.ErrClosed
	}
	cmd := redis.NewStringCmd(ctx, "get", key)
	if err := d.process(ctx, key, cmd); err != nil {
		return nil, d.conv(ctx, err)
	}
	d.served()
	return d.bytes(cmd.Val()), nil
}

// MGet returns the values stored at keys, in order, nil for a missing key.
// On a cluster the keys are grouped by hash slot and sent as one MGET per
// slot, all in one pipeline (one round trip per node); on a ring, as one
// GET per key in one pipeline.
func (d *Driver) MGet(ctx context.Context, keys ...string) ([][]byte, error) {
	if d.closed.Load() {
		return nil, conn.ErrClosed
	}
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	var err error
	switch {
	case d.cluster != nil && len(keys) > 1:
		err = d.mgetSlots(ctx, keys, out)
	case d.ring != nil && len(keys) > 1:
		err = d.mgetEach(ctx, keys, out)
	default:
		err = d.mget(ctx, keys, out)
	}
	if err != nil {
		return nil, err
	}
	d.served()
	return out, nil
}

// mgetSlots runs one MGET per hash slot in one pipeline and puts the
// values back in the order of keys.
func (d *Driver) mgetSlots(ctx context.Context, keys []string, out [][]byte) error {
	groups := groupBySlot(keys)
	if len(groups) == 1 {
		return d.mget(ctx, keys, out)
	}
	pipe := d.c.Pipeline()
	cmds := make([]*redis.SliceCmd, len(groups))
	for i, g := range groups {
		cmds[i] = pipe.MGet(ctx, g.keys...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return d.conv(ctx, err)
	}
	for i, g := range groups {
		if err := d.fill(out, cmds[i].Val(), g.index); err != nil {
			return err
		}
	}
	return nil
}

// mget runs one MGET for keys, which are all on one node.
func (d *Driver) mget(ctx context.Context, keys []string, out [][]byte) error {
	args := make([]any, 1+len(keys))
	args[0] = "mget"
	for i, k := range keys {
		args[1+i] = k
	}
	cmd := redis.NewSliceCmd(ctx, args...)
	if err := d.process(ctx, keys[0], cmd); err != nil {
		return d.conv(ctx, err)
	}
	return d.fill(out, cmd.Val(), nil)
}

// mgetEach runs one GET per key in one pipeline, for a ring, whose shards
// go-redis picks by key. Like MGET, it reads a key that holds another type
// than a string as missing.
func (d *Driver) mgetEach(ctx context.Context, keys []string, out [][]byte) error {
	pipe := d.c.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isReplyErr(d.conv(ctx, err)) {
		return d.conv(ctx, err)
	}
	for i, c := range cmds {
		s, err := c.Result()
		switch err := d.conv(ctx, err); {
		case err == nil:
			out[i] = d.bytes(s)
		case err == conn.ErrMiss, conn.IsReplyError(err, "WRONGTYPE"):
		default:
			return err
		}
	}
	return nil
}

// fill stores MGET's values in out, at index[i] for vals[i] (at i when
// index is nil).
func (d *Driver) fill(out [][]byte, vals []any, index []int) error {
	for i, v := range vals {
		j := i
		if index != nil {
			j = index[i]
		}
		switch v := v.(type) {
		case nil:
		case string:
			out[j] = d.bytes(v)
		default:
			return fmt.Errorf(prefix+"MGET returned a %T", v)
		}
	}
	return nil
}

// Set stores value at key with SET, adding PX (EX when ttl is whole
// seconds, which is the same) when ttl is not 0.
func (d *Driver) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ttl, err := roundTTL(ttl)
	if err != nil {
		return err
	}
	if d.closed.Load() {
		return conn.ErrClosed
	}
	return d.conv(ctx, d.process(ctx, key, redis.NewStatusCmd(ctx, setArgs(key, value, ttl, false)...)))
}

// SetNX stores value at key with SET NX (and PX when ttl is not 0) and
// reports whether it did.
func (d *Driver) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ttl, err := roundTTL(ttl)
	if err != nil {
		return false, err
	}
	if d.closed.Load() {
		return false, conn.ErrClosed
	}
	cmd := redis.NewBoolCmd(ctx, setArgs(key, value, ttl, true)...)
	if err := d.process(ctx, key, cmd); err != nil {
		return false, d.conv(ctx, err)
	}
	return cmd.Val(), nil
}

// setArgs returns the arguments of SET key value, with PX (EX when ttl is
// whole seconds, as go-redis sends it) when ttl is not 0, and NX for
// SetNX.
func setArgs(key string, value []byte, ttl time.Duration, nx bool) []any {
	args := make([]any, 3, 6)
	args[0], args[1], args[2] = "set", key, value
	switch {
	case ttl <= 0:
	case ttl%time.Second == 0:
		args = append(args, "ex", int64(ttl/time.Second))
	default:
		args = append(args, "px", int64(ttl/time.Millisecond))
	}
	if nx {
		args = append(args, "nx")
	}
	return args
}

// roundTTL applies [conn.Milliseconds]' rules and returns the ttl as whole
// milliseconds, which go-redis sends as PX (or EX for whole seconds).
func roundTTL(ttl time.Duration) (time.Duration, error) {
	ms, err := conn.Milliseconds(ttl)
	return time.Duration(ms) * time.Millisecond, err
}

// Del deletes keys and returns how many existed. On a cluster it sends one
// DEL per hash slot in one pipeline; on a ring, one DEL per key.
func (d *Driver) Del(ctx context.Context, keys ...string) (int64, error) {
	if d.closed.Load() {
		return 0, conn.ErrClosed
	}
	if len(keys) == 0 {
		return 0, nil
	}
	var groups []slotGroup
	switch {
	case d.cluster != nil && len(keys) > 1:
		groups = groupBySlot(keys)
	case d.ring != nil && len(keys) > 1:
		groups = make([]slotGroup, len(keys))
		for i := range keys {
			groups[i].keys = keys[i : i+1]
		}
	}
	if len(groups) <= 1 {
		args := make([]any, 1+len(keys))
		args[0] = "del"
		for i, k := range keys {
			args[1+i] = k
		}
		cmd := redis.NewIntCmd(ctx, args...)
		if err := d.process(ctx, keys[0], cmd); err != nil {
			return 0, d.conv(ctx, err)
		}
		return cmd.Val(), nil
	}
	pipe := d.c.Pipeline()
	cmds := make([]*redis.IntCmd, len(groups))
	for i, g := range groups {
		cmds[i] = pipe.Del(ctx, g.keys...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, d.conv(ctx, err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

// PExpire sets key's time to live and reports whether key exists. A ttl of
// 0 runs PERSIST and EXISTS in one MULTI/EXEC, because PERSIST alone
// answers 0 both for a missing key and for a key without expiry.
func (d *Driver) PExpire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ttl, err := roundTTL(ttl)
	if err != nil {
		return false, err
	}
	if d.closed.Load() {
		return false, conn.ErrClosed
	}
	if ttl > 0 {
		cmd := redis.NewBoolCmd(ctx, "pexpire", key, int64(ttl/time.Millisecond))
		if err := d.process(ctx, key, cmd); err != nil {
			return false, d.conv(ctx, err)
		}
		return cmd.Val(), nil
	}
	var exists *redis.IntCmd
	_, err = d.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Persist(ctx, key)
		exists = p.Exists(ctx, key)
		return nil
	})
	if err != nil {
		return false, d.conv(ctx, err)
	}
	return exists.Val() == 1, nil
}

// Do sends a command and returns its reply converted as
// [conn.Driver.Do] describes. On a cluster or a ring go-redis routes it by
// its first key, and commands without keys go to any node, except PUBLISH,
// which goes to the node or shard of its channel.
func (d *Driver) Do(ctx context.Context, args ...any) (any, error) {
	if d.closed.Load() {
		return nil, conn.ErrClosed
	}
	args, err := prepArgs(args)
	if err != nil {
		return nil, err
	}
	c := d.c
	if d.cluster != nil || d.ring != nil {
		if ch, ok := publishChannel(args); ok {
			if d.ring != nil && len(args) == 3 {
				// go-redis sends a PUBLISH, which has no key, to any shard
				// of a ring, and the shards do not share messages: only
				// the channel's own shard reaches its subscribers.
				n, err := d.ring.Publish(ctx, ch, args[2]).Result()
				if err != nil {
					return nil, d.conv(ctx, err)
				}
				return n, nil
			}
			if d.cluster != nil {
				// On a cluster, PUBLISH to any node reaches every
				// subscriber, but two messages of one channel sent
				// through different nodes can swap places. Sending them
				// all to the node that owns the channel's slot (where
				// go-redis also places the channel's subscribers) keeps
				// them in order.
				node, err := d.cluster.MasterForKey(ctx, ch)
				if err != nil {
					return nil, d.conv(ctx, err)
				}
				c = node
			}
		}
	}
	cmd := redis.NewCmd(ctx, args...)
	if c == d.c && batchable(args[0]) {
		err = d.process(ctx, keyArg(args), cmd)
	} else {
		err = c.Process(ctx, cmd)
	}
	if err != nil {
		return nil, d.conv(ctx, err)
	}
	d.served()
	return normalize(cmd.Val()), nil
}

// publishChannel returns the channel of a PUBLISH command.
func publishChannel(args []any) (string, bool) {
	if len(args) < 2 {
		return "", false
	}
	switch name := args[0].(type) {
	case string:
		if !strings.EqualFold(name, "publish") {
			return "", false
		}
	case []byte:
		if !strings.EqualFold(string(name), "publish") {
			return "", false
		}
	default:
		return "", false
	}
	switch ch := args[1].(type) {
	case string:
		return ch, true
	case []byte:
		return string(ch), true
	}
	return "", false
}

// Pipeline sends cmds in one round trip per node and fills in their Reply
// and Err. A command whose arguments cannot be sent gets an error wrapping
// [conn.ErrBadArg] in its Err and the others still run. When the
// connection fails, the error is returned and is also the Err of every
// command it hit.
func (d *Driver) Pipeline(ctx context.Context, cmds ...*conn.Cmd) error {
	if d.closed.Load() {
		setErr(cmds, conn.ErrClosed)
		return conn.ErrClosed
	}
	if len(cmds) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		setErr(cmds, err)
		return err
	}
	pipe := d.c.Pipeline()
	rcs := make([]*redis.Cmd, len(cmds))
	for i, c := range cmds {
		c.Reply, c.Err = nil, nil
		args, err := prepArgs(c.Args)
		if err != nil {
			c.Err = err
			continue
		}
		rcs[i] = pipe.Do(ctx, args...)
	}
	if pipe.Len() == 0 {
		return nil
	}
	var failed error
	if _, err := pipe.Exec(ctx); err != nil {
		if err := d.conv(ctx, err); !isReplyErr(err) {
			failed = err
		}
	}
	for i, rc := range rcs {
		if rc == nil {
			continue
		}
		v, err := rc.Result()
		if err != nil {
			cmds[i].Err = d.conv(ctx, err)
			continue
		}
		cmds[i].Reply = normalize(v)
	}
	if failed == nil {
		d.served()
	}
	return failed
}

func setErr(cmds []*conn.Cmd, err error) {
	for _, c := range cmds {
		c.Reply, c.Err = nil, err
	}
}

// Eval runs script with EVALSHA and, when the server answers NOSCRIPT,
// with EVAL, which also loads it for the next call. On a cluster both go
// to the node of the first key.
func (d *Driver) Eval(ctx context.Context, script *conn.Script, keys []string, args ...any) (any, error) {
	if d.closed.Load() {
		return nil, conn.ErrClosed
	}
	if script == nil {
		return nil, fmt.Errorf("%w: nil script", errBadArg)
	}
	if len(args) > 0 {
		var err error
		if args, err = prepArgs(args); err != nil {
			return nil, err
		}
	}
	cmd := d.evalCmd(ctx, "evalsha", script.Hash(), keys, args)
	var key string
	if len(keys) > 0 {
		key = keys[0]
	}
	err := d.process(ctx, key, cmd)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = d.evalCmd(ctx, "eval", script.Source(), keys, args)
		err = d.process(ctx, key, cmd)
	}
	if err != nil {
		return nil, d.conv(ctx, err)
	}
	d.served()
	return normalize(cmd.Val()), nil
}

// evalCmd builds EVAL or EVALSHA as go-redis does, with the position of
// the first key set so that a cluster routes it by that key.
func (d *Driver) evalCmd(ctx context.Context, name, payload string, keys []string, args []any) *redis.Cmd {
	cmdArgs := make([]any, 3+len(keys), 3+len(keys)+len(args))
	cmdArgs[0], cmdArgs[1], cmdArgs[2] = name, payload, len(keys)
	for i, k := range keys {
		cmdArgs[3+i] = k
	}
	cmd := redis.NewCmd(ctx, append(cmdArgs, args...)...)
	if len(keys) > 0 {
		cmd.SetFirstKeyPos(3)
	}
	return cmd
}

// ForEachNode calls fn with a Driver for each primary of a cluster (or
// each shard of a ring), one after the other, ordered by address, and
// stops at the first error. For a single-node client it calls fn with d.
// The node drivers share the cluster's connections and need no Close.
func (d *Driver) ForEachNode(ctx context.Context, fn func(ctx context.Context, node conn.Driver) error) error {
	if d.closed.Load() {
		return conn.ErrClosed
	}
	if d.cluster == nil && d.ring == nil {
		return fn(ctx, d)
	}
	// go-redis calls back for every node at once; collect the nodes so
	// that fn runs one node at a time, as callers expect.
	var (
		mu    sync.Mutex
		nodes []*redis.Client
	)
	collect := func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		nodes = append(nodes, c)
		mu.Unlock()
		return nil
	}
	var err error
	if d.cluster != nil {
		err = d.cluster.ForEachMaster(ctx, collect)
	} else {
		err = d.ring.ForEachShard(ctx, collect)
	}
	if err != nil {
		return d.conv(ctx, err)
	}
	slices.SortFunc(nodes, func(a, b *redis.Client) int {
		return cmp.Compare(a.Options().Addr, b.Options().Addr)
	})
	for _, c := range nodes {
		if err := fn(ctx, New(c)); err != nil {
			return err
		}
	}
	return nil
}

// Close marks the driver closed, so that later calls return
// [conn.ErrClosed], and closes its open subscriptions. It closes the
// go-redis client only when the driver owns it (see [New] and [Open]).
// Closing twice is harmless.
func (d *Driver) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(d.stop)
	d.mu.Lock()
	subs := d.subs
	d.subs = nil
	d.mu.Unlock()
	for s := range subs {
		_ = s.Close()
	}
	if d.owns {
		return d.c.Close()
	}
	return nil
}

// bytes returns s as a slice, without copying it when that is safe: the
// bulk strings go-redis reads are allocated afresh for each reply, and the
// driver hands each out once, so the caller may own its memory. Strings of
// one byte are copied, because a Go conversion may point them into the
// runtime's shared table of one-byte strings (go-redis's client-side cache
// makes its strings that way), and so is everything when that cache is on,
// since it is free to hand one string to several readers.
func (d *Driver) bytes(s string) []byte {
	switch {
	case len(s) == 0:
		return []byte{}
	case len(s) == 1 || d.copyValues:
		return []byte(s)
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// slotGroup is the keys of one hash slot and where they stand in the
// caller's list.
type slotGroup struct {
	keys  []string
	index []int
}

// groupBySlot splits keys by hash slot, keeping their order within each
// slot and the slots in order of first appearance.
func groupBySlot(keys []string) []slotGroup {
	var groups []slotGroup
	at := make(map[uint16]int)
	for i, k := range keys {
		s := conn.Slot(k)
		g, ok := at[s]
		if !ok {
			g = len(groups)
			at[s] = g
			groups = append(groups, slotGroup{})
		}
		groups[g].keys = append(groups[g].keys, k)
		groups[g].index = append(groups[g].index, i)
	}
	return groups
}
