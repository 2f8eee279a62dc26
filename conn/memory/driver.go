package memory

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/conn"
)

// Driver is a [conn.Driver] over data held in memory. It is safe for
// concurrent use. Each command runs atomically under one lock, as on a
// single Redis server, and a script runs atomically as a whole.
type Driver struct {
	s      *store
	closed atomic.Bool
	done   chan struct{} // closed by Close: wakes blocked calls

	mu   sync.Mutex
	subs map[*subscription]struct{}
}

var _ conn.Driver = (*Driver)(nil)

// store is the server side: the data, the scripts and the channels that
// every driver of one New shares.
type store struct {
	cfg config

	mu      sync.Mutex
	db      map[string]*value
	scripts map[string]*compiled // by SHA1 hex
	pushed  chan struct{}        // closed and replaced when a list grows

	subMu sync.Mutex
	subs  map[*subscription]struct{}
}

// New returns a driver over a new, empty in-memory database.
func New(opts ...Option) *Driver {
	s := &store{
		cfg:     newConfig(opts),
		db:      map[string]*value{},
		scripts: map[string]*compiled{},
		pushed:  make(chan struct{}),
		subs:    map[*subscription]struct{}{},
	}
	return s.driver()
}

func (s *store) driver() *Driver {
	return &Driver{s: s, done: make(chan struct{}), subs: map[*subscription]struct{}{}}
}

// Connect returns another driver over the same data, as a second client of
// the same Redis server is: it sees d's keys, scripts and channels, has the
// same hook and clock, and is closed on its own.
func (d *Driver) Connect() *Driver { return d.s.driver() }

// Close closes the driver and its subscriptions, and ends its blocked
// calls with ErrClosed. The data stays, for the drivers made by
// [Driver.Connect]. A second Close returns nil.
func (d *Driver) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	close(d.done)
	d.mu.Lock()
	subs := d.subs
	d.subs = nil
	d.mu.Unlock()
	for sub := range subs {
		_ = sub.Close()
	}
	return nil
}

// LoseSubscriptions ends every subscription of d as a broken connection
// does: Receive returns an error wrapping [conn.ErrSubscriptionLost]. A
// test uses it to drive what a near cache does when it may have missed
// messages.
func (d *Driver) LoseSubscriptions() {
	d.mu.Lock()
	subs := make([]*subscription, 0, len(d.subs))
	for sub := range d.subs {
		subs = append(subs, sub)
	}
	d.mu.Unlock()
	for _, sub := range subs {
		sub.lose()
	}
}

// begin runs the hook and the checks every call starts with.
func (d *Driver) begin(ctx context.Context, args []string) error {
	if d.closed.Load() {
		return conn.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if h := d.s.cfg.hook; h != nil {
		if err := h(ctx, args); err != nil {
			return err
		}
		if d.closed.Load() {
			return conn.ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// call runs one command: the hook, then the command under the lock (or,
// for a blocking command, until it can run).
func (d *Driver) call(ctx context.Context, args []string) (any, error) {
	if len(args) == 0 {
		return nil, replyErr("ERR empty command")
	}
	if err := d.begin(ctx, args); err != nil {
		return nil, err
	}
	switch strings.ToUpper(args[0]) {
	case "BLPOP", "BRPOP":
		return d.blockingPop(ctx, args)
	case "EVAL", "EVALSHA":
		return d.s.eval(ctx, args)
	}
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	return d.s.exec(args)
}

// reply turns an internal reply into what Do returns.
func reply(v any, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	switch r := v.(type) {
	case nil:
		return nil, conn.ErrMiss
	case status:
		return string(r), nil
	case *conn.ReplyError:
		return nil, r
	case []any:
		out := make([]any, len(r))
		for i, e := range r {
			if st, ok := e.(status); ok {
				e = string(st)
			}
			out[i] = e
		}
		return out, nil
	}
	return v, nil
}

// Get implements [conn.Driver.Get].
func (d *Driver) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := reply(d.call(ctx, []string{"GET", key}))
	if err != nil {
		return nil, err
	}
	return bytesOf(v.(string)), nil
}

// bytesOf copies s into a slice that is never nil, so an empty value is
// not mistaken for a missing one.
func bytesOf(s string) []byte { return append(make([]byte, 0, len(s)), s...) }

// MGet implements [conn.Driver.MGet].
func (d *Driver) MGet(ctx context.Context, keys ...string) ([][]byte, error) {
	if len(keys) == 0 {
		if err := d.begin(ctx, []string{"MGET"}); err != nil {
			return nil, err
		}
		return [][]byte{}, nil
	}
	v, err := reply(d.call(ctx, append([]string{"MGET"}, keys...)))
	if err != nil {
		return nil, err
	}
	arr := v.([]any)
	out := make([][]byte, len(arr))
	for i, e := range arr {
		if s, ok := e.(string); ok {
			out[i] = bytesOf(s)
		}
	}
	return out, nil
}

func setArgs(key string, value []byte, ttl time.Duration, nx bool) ([]string, error) {
	ms, err := conn.Milliseconds(ttl)
	if err != nil {
		return nil, err
	}
	args := []string{"SET", key, string(value)}
	if nx {
		args = append(args, "NX")
	}
	if ms > 0 {
		args = append(args, "PX", strconv.FormatInt(ms, 10))
	}
	return args, nil
}

// Set implements [conn.Driver.Set].
func (d *Driver) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	args, err := setArgs(key, value, ttl, false)
	if err != nil {
		return err
	}
	_, err = reply(d.call(ctx, args))
	return err
}

// SetNX implements [conn.Driver.SetNX].
func (d *Driver) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	args, err := setArgs(key, value, ttl, true)
	if err != nil {
		return false, err
	}
	_, err = reply(d.call(ctx, args))
	if errors.Is(err, conn.ErrMiss) {
		return false, nil
	}
	return err == nil, err
}

// Del implements [conn.Driver.Del].
func (d *Driver) Del(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) == 0 {
		return 0, d.begin(ctx, []string{"DEL"})
	}
	v, err := reply(d.call(ctx, append([]string{"DEL"}, keys...)))
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

// PExpire implements [conn.Driver.PExpire]. A ttl of 0 is sent as PERSIST
// and, like the other drivers, reports whether the key exists.
func (d *Driver) PExpire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ms, err := conn.Milliseconds(ttl)
	if err != nil {
		return false, err
	}
	if ms == 0 {
		if err := d.begin(ctx, []string{"PERSIST", key}); err != nil {
			return false, err
		}
		d.s.mu.Lock()
		defer d.s.mu.Unlock()
		v := d.s.lookup(key)
		if v != nil {
			v.expireAt = time.Time{}
		}
		return v != nil, nil
	}
	v, err := reply(d.call(ctx, []string{"PEXPIRE", key, strconv.FormatInt(ms, 10)}))
	if err != nil {
		return false, err
	}
	return v == int64(1), nil
}

// Do implements [conn.Driver.Do]. It knows the commands listed in the
// package documentation; any other is a *conn.ReplyError "ERR unknown
// command", as Redis answers it.
func (d *Driver) Do(ctx context.Context, args ...any) (any, error) {
	sargs, err := commandArgs(args)
	if err != nil {
		return nil, err
	}
	return reply(d.call(ctx, sargs))
}

// Pipeline implements [conn.Driver.Pipeline]. The commands run one after
// the other, each atomically, as Redis runs a pipeline. An error from the
// hook fails the pipeline as a broken connection would: the command and
// those after it get the error, and Pipeline returns it.
func (d *Driver) Pipeline(ctx context.Context, cmds ...*conn.Cmd) error {
	if d.closed.Load() {
		return conn.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, c := range cmds {
		sargs, err := commandArgs(c.Args)
		if err != nil {
			c.Reply, c.Err = nil, err
			continue
		}
		if err := d.begin(ctx, sargs); err != nil {
			for _, rest := range cmds[i:] {
				rest.Reply, rest.Err = nil, err
			}
			return err
		}
		var v any
		switch strings.ToUpper(sargs[0]) {
		case "BLPOP", "BRPOP":
			v, err = d.blockingPop(ctx, sargs)
		case "EVAL", "EVALSHA":
			v, err = d.s.eval(ctx, sargs)
		default:
			d.s.mu.Lock()
			v, err = d.s.exec(sargs)
			d.s.mu.Unlock()
		}
		c.Reply, c.Err = reply(v, err)
	}
	return nil
}

// Eval implements [conn.Driver.Eval]: EVALSHA first, EVAL when the script
// is not loaded (NOSCRIPT), as the network drivers do. The scripts are Lua
// 5.1, run by gopher-lua with the redis.* functions scripts use.
func (d *Driver) Eval(ctx context.Context, script *conn.Script, keys []string, args ...any) (any, error) {
	if script == nil {
		return nil, fmt.Errorf("%w: nil script", errBadArg)
	}
	sargs, err := stringArgs(args)
	if err != nil {
		return nil, err
	}
	tail := append(append([]string{strconv.Itoa(len(keys))}, keys...), sargs...)
	v, err := reply(d.call(ctx, append([]string{"EVALSHA", script.Hash()}, tail...)))
	if !conn.IsReplyError(err, "NOSCRIPT") {
		return v, err
	}
	return reply(d.call(ctx, append([]string{"EVAL", script.Source()}, tail...)))
}

// blockingPop runs BLPOP or BRPOP: it pops at once when it can, else waits
// for a push, the command's timeout, ctx or Close.
func (d *Driver) blockingPop(ctx context.Context, args []string) (any, error) {
	name := strings.ToLower(args[0])
	if len(args) < 3 {
		return nil, wrongArgs(name)
	}
	secs, err := strconv.ParseFloat(args[len(args)-1], 64)
	if err != nil || secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return nil, replyErr("ERR timeout is not a float or out of range")
	}
	keys := args[1 : len(args)-1]
	var timeout <-chan time.Time
	if secs > 0 {
		t := time.NewTimer(time.Duration(secs * float64(time.Second)))
		defer t.Stop()
		timeout = t.C
	}
	left := name == "blpop"
	for {
		d.s.mu.Lock()
		for _, k := range keys {
			v, err := d.s.typed(k, kindList)
			if err != nil {
				d.s.mu.Unlock()
				return nil, err
			}
			if v != nil && len(v.list) > 0 {
				e := d.s.pop(k, v, left)
				d.s.mu.Unlock()
				return []any{k, e}, nil
			}
		}
		pushed := d.s.pushed
		d.s.mu.Unlock()
		select {
		case <-pushed:
		case <-timeout:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-d.done:
			return nil, conn.ErrClosed
		}
	}
}

// commandArgs is stringArgs for a whole command, which needs a name.
func commandArgs(args []any) ([]string, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: no command", errBadArg)
	}
	return stringArgs(args)
}

func stringArgs(args []any) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		s, err := argString(a)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func argString(a any) (string, error) {
	if s, ok := conn.FormatArg(a); ok {
		return s, nil
	}
	return "", fmt.Errorf("%w: %T", errBadArg, a)
}
