package radix

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/mediocregopher/radix/v4/resp/resp3"
	"github.com/redcache/redcache/conn"
)

// Client is what a [Driver] sends its commands through. Every radix client
// satisfies it: a pool from [rdx.PoolConfig.New] or a single connection
// ([rdx.Client]), and a [*rdx.Cluster] or [*rdx.Sentinel]
// ([rdx.MultiClient]; their Do sends to the primary that holds the keys).
type Client interface {
	// Do performs a, on the server or node its keys route it to.
	Do(ctx context.Context, a rdx.Action) error
	// Close releases the client's connections and goroutines.
	Close() error
}

// Driver is a [conn.Driver] over a radix v4 client. It is safe for
// concurrent use. Build it with [New] around a client of yours, or with
// [Open] from a URL.
type Driver struct {
	client  Client
	cluster *rdx.Cluster // client, when it is a cluster
	cfg     config
	closed  atomic.Bool
	node    bool           // a node driver of ForEachNode
	subs    *subscriptions // shared with the node drivers of ForEachNode
	slots   *slotRefresh   // a cluster's: refreshes its slot map on trouble
}

var (
	_ conn.Driver     = (*Driver)(nil)
	_ conn.NodeWalker = (*Driver)(nil)
	_ conn.NodeRouter = (*Driver)(nil)
)

// New returns a driver that sends its commands through client: a radix
// pool, a *rdx.Cluster (multi-key calls and pipelines are then split per
// hash slot and node, and [Driver.ForEachNode] visits every primary), a
// *rdx.Sentinel, or any other [Client].
//
// The caller keeps owning client: [Driver.Close] leaves it open unless
// [WithOwnedClient] is given. Subscriptions dial connections of their own
// with the Dialer of [WithDialer] (the zero Dialer by default), to the
// address of client (a primary's, for a cluster or sentinel).
//
// radix v4.1.4's own pool (from rdx.PoolConfig.New) has two flaws a cache
// meets in production. Once it has lost every connection (a Redis restart
// is enough, or a burst of cancelled calls), calls that waited for one
// stay blocked until their context ends, forever without a deadline, even
// after it has reconnected: each reconnection wakes one waiter only. And a
// call cancelled at an unlucky moment makes it close a shared connection,
// failing the other calls in flight on it. A stalled server (CLIENT PAUSE,
// a stopped process, a partition) holds every call queued on a
// connection behind a call that timed out, past their own deadlines,
// until the server answers. [Open] uses a pool of this package without
// these flaws; with New and a radix pool, give every call a deadline and
// expect the stall to outlast it.
//
// New panics when client is nil.
func New(client Client, opts ...Option) *Driver {
	if client == nil {
		panic("redcache/radix: New called with a nil client")
	}
	return newDriver(client, newConfig(opts), &subscriptions{})
}

func newDriver(client Client, cfg config, subs *subscriptions) *Driver {
	d := &Driver{client: client, cfg: cfg, subs: subs}
	d.cluster, _ = client.(*rdx.Cluster)
	if d.cluster != nil {
		d.slots = newSlotRefresh(d.cluster)
	}
	return d
}

// Client returns the radix client the driver sends its commands through,
// for what the Driver interface does not cover. Do not close it when the
// driver owns it.
func (d *Driver) Client() Client { return d.client }

// Close releases the driver: it closes the subscriptions made through it
// and, when the driver owns its client ([Open], or [New] with
// [WithOwnedClient]), the client and with it every background goroutine of
// radix. Calls after Close return [conn.ErrClosed]; a second Close returns
// nil.
func (d *Driver) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return nil
	}
	if d.node {
		return nil
	}
	if d.slots != nil {
		d.slots.stop()
		defer d.slots.wait() // closing the client ends the refresh running
	}
	d.subs.closeAll()
	if d.cfg.own {
		if err := d.client.Close(); err != nil {
			return fmt.Errorf("redcache/radix: close: %w", err)
		}
	}
	return nil
}

// check refuses calls on a closed driver and with a context already done,
// so that neither reaches radix.
func (d *Driver) check(ctx context.Context) error {
	if d.closed.Load() {
		return conn.ErrClosed
	}
	return ctx.Err()
}

// do runs a through the client and converts its error.
func (d *Driver) do(ctx context.Context, a rdx.Action) error {
	if err := d.client.Do(ctx, a); err != nil {
		err = d.convert(err)
		d.trouble(err)
		return err
	}
	return nil
}

// trouble refreshes a cluster's slot map, in the background, after an
// error that may mean that a node failed or the slots moved.
func (d *Driver) trouble(err error) {
	if d.slots != nil && !d.closed.Load() && topologyHint(err) {
		d.slots.refresh()
	}
}

// convert turns an error from radix into the conn contract's: error
// replies into *conn.ReplyError, failures after Close into conn.ErrClosed;
// context errors stay visible to errors.Is. (A radix connection that broke
// answers "closed" too, so that text cannot tell a closed client.)
func (d *Driver) convert(err error) error {
	return convertErr(err, d.closed.Load())
}

func convertErr(err error, closed bool) error {
	if re := replyOf(err); re != nil {
		return re
	}
	if errors.Is(err, conn.ErrClosed) {
		return err
	}
	if closed {
		return fmt.Errorf("%w: %w", conn.ErrClosed, err)
	}
	return fmt.Errorf("redcache/radix: %w", err)
}

// replyOf returns the error reply in err's chain as a *conn.ReplyError,
// or nil when err is no reply from Redis.
func replyOf(err error) *conn.ReplyError {
	var se resp3.SimpleError
	if errors.As(err, &se) {
		return &conn.ReplyError{Msg: se.S}
	}
	var be resp3.BlobError
	if errors.As(err, &be) {
		return &conn.ReplyError{Msg: string(be.B)}
	}
	return nil
}

// errUnexpected reports a reply of a type its command never sends.
func errUnexpected(cmd string, v any) error {
	return fmt.Errorf("redcache/radix: unexpected %s reply %T", cmd, v)
}

// Get implements [conn.Driver.Get].
func (d *Driver) Get(ctx context.Context, key string) ([]byte, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	a := keyAction(opGet, key, kindBytes)
	if err := d.do(ctx, a); err != nil {
		return nil, err
	}
	switch {
	case a.reply.null:
		return nil, conn.ErrMiss
	case a.reply.b != nil:
		return a.reply.b, nil
	}
	return nil, errUnexpected("GET", a.reply.v)
}

// MGet implements [conn.Driver.MGet]. On a cluster the keys are grouped by
// hash slot, one MGET per slot, sent in one pipeline per node.
func (d *Driver) MGet(ctx context.Context, keys ...string) ([][]byte, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	if d.cluster == nil {
		a := &action{op: opKeys, name: "MGET", keys: keys}
		a.reply.kind = kindBytesArray
		if err := d.do(ctx, a); err != nil {
			return nil, err
		}
		if len(a.reply.bs) != len(keys) {
			return nil, errUnexpected("MGET", a.reply.v)
		}
		return a.reply.bs, nil
	}
	acts, idx, err := d.perSlot(ctx, "MGET", keys, kindBytesArray)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(keys))
	for i, a := range acts {
		if len(a.reply.bs) != len(idx[i]) {
			return nil, errUnexpected("MGET", a.reply.v)
		}
		for j, k := range idx[i] {
			out[k] = a.reply.bs[j]
		}
	}
	return out, nil
}

// Set implements [conn.Driver.Set].
func (d *Driver) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	_, err := d.set(ctx, key, value, ttl, false)
	return err
}

// SetNX implements [conn.Driver.SetNX].
func (d *Driver) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	return d.set(ctx, key, value, ttl, true)
}

func (d *Driver) set(ctx context.Context, key string, value []byte, ttl time.Duration, nx bool) (bool, error) {
	ms, err := conn.Milliseconds(ttl)
	if err != nil {
		return false, err
	}
	if err := d.check(ctx); err != nil {
		return false, err
	}
	a := keyAction(opSet, key, kindAny)
	a.val, a.ms, a.nx = value, ms, nx
	if err := d.do(ctx, a); err != nil {
		return false, err
	}
	if a.reply.null {
		return false, nil // NX and the key exists
	}
	return true, nil
}

// Del implements [conn.Driver.Del]. On a cluster the keys are grouped by
// hash slot, one DEL per slot, sent in one pipeline per node.
func (d *Driver) Del(ctx context.Context, keys ...string) (int64, error) {
	if err := d.check(ctx); err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, nil
	}
	if d.cluster == nil {
		a := &action{op: opKeys, name: "DEL", keys: keys}
		if err := d.do(ctx, a); err != nil {
			return 0, err
		}
		return toInt("DEL", a.reply.v)
	}
	acts, _, err := d.perSlot(ctx, "DEL", keys, kindAny)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, a := range acts {
		n, err := toInt("DEL", a.reply.v)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// PExpire implements [conn.Driver.PExpire]. A ttl of 0 sends MULTI, EXISTS,
// PERSIST, EXEC in one round trip: PERSIST alone answers 0 both for a
// missing key and for a key that has no expiry, and the contract asks
// whether the key exists.
func (d *Driver) PExpire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ms, err := conn.Milliseconds(ttl)
	if err != nil {
		return false, err
	}
	if err := d.check(ctx); err != nil {
		return false, err
	}
	if ms > 0 {
		a := keyAction(opPExpire, key, kindAny)
		a.ms = ms
		if err := d.do(ctx, a); err != nil {
			return false, err
		}
		n, err := toInt("PEXPIRE", a.reply.v)
		return n == 1, err
	}
	exec := &action{op: opArgs, args: []string{"EXEC"}}
	acts := []*action{
		{op: opArgs, args: []string{"MULTI"}},
		keyAction(opArgs, key, kindAny),
		keyAction(opArgs, key, kindAny),
		exec,
	}
	acts[1].args = []string{"EXISTS", key}
	acts[2].args = []string{"PERSIST", key}
	if err := d.do(ctx, newPipe(acts, false)); err != nil {
		return false, err
	}
	res, ok := exec.reply.v.([]any)
	if !ok || len(res) != 2 {
		return false, errUnexpected("EXEC", exec.reply.v)
	}
	n, err := toInt("EXISTS", res[0])
	return n == 1, err
}

func toInt(cmd string, v any) (int64, error) {
	if n, ok := v.(int64); ok {
		return n, nil
	}
	if re, ok := v.(*conn.ReplyError); ok {
		return 0, re
	}
	return 0, errUnexpected(cmd, v)
}

// Do implements [conn.Driver.Do]. A command that would change the state of
// a shared connection (see [ErrStatefulCommand]) is refused. On a cluster
// the command goes to the node of its first key (any node, for a command
// without keys: use [conn.ForEachNode] to reach them all).
func (d *Driver) Do(ctx context.Context, args ...any) (any, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	a, err := argsAction(args, true)
	if err != nil {
		return nil, err
	}
	if err := d.do(ctx, a); err != nil {
		return nil, err
	}
	return a.reply.result()
}

// Eval implements [conn.Driver.Eval]: EVALSHA, then EVAL in the same call
// when the server answers NOSCRIPT. On a cluster the script runs on the
// node of its first key.
func (d *Driver) Eval(ctx context.Context, script *conn.Script, keys []string, args ...any) (any, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	if script == nil {
		return nil, fmt.Errorf("%w: nil script", errBadArg)
	}
	strs, err := formatArgs(args)
	if err != nil {
		return nil, err
	}
	a := &action{op: opEval, script: script, keys: keys, args: strs}
	if len(keys) > 0 {
		a.route[0], a.routed = keys[0], true
	}
	if err := d.do(ctx, a); err != nil {
		return nil, err
	}
	return a.reply.result()
}

// subscriptions tracks the live subscriptions of a driver (and of its node
// drivers), to close them with it.
type subscriptions struct {
	mu   sync.Mutex
	live map[*subscription]struct{}
}

func (s *subscriptions) add(sub *subscription) {
	s.mu.Lock()
	if s.live == nil {
		s.live = make(map[*subscription]struct{})
	}
	s.live[sub] = struct{}{}
	s.mu.Unlock()
}

func (s *subscriptions) remove(sub *subscription) {
	s.mu.Lock()
	delete(s.live, sub)
	s.mu.Unlock()
}

func (s *subscriptions) closeAll() {
	s.mu.Lock()
	live := s.live
	s.live = nil
	s.mu.Unlock()
	for sub := range live {
		_ = sub.Close()
	}
}
