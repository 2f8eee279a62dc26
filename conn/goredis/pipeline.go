package goredis

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redis/go-redis/v9"
)

// Auto-pipelining: go-redis sends one command per round trip on a pooled
// connection, so N concurrent callers cost N round trips and N
// connections, and Redis, which answers a pipeline of N commands in not
// much more time than one, spends its time reading sockets. The driver
// coalesces the commands of concurrent callers into go-redis pipelines.
//
// Each node (the one server, or each cluster primary) has a lane. A lane
// lets at most lanes commands or batches run at once. A call that finds a
// free slot runs its command itself, on its own context, exactly as
// without auto-pipelining: a lone caller pays two uncontended mutex
// operations and nothing else. A call that finds every slot busy queues its
// command and waits; when a slot frees, whoever frees it takes the whole
// queue and sends it as one pipeline. No timer is involved: a batch is
// whatever arrived while the previous ones were on the wire.
//
// A queued caller waits for its reply, its context or the driver's Close,
// whichever comes first, so it returns at its own deadline even when the
// batch it rides in is stuck behind a stalled server. A caller that gave
// up before its command was taken is left out of the batch; one that gave
// up after leaves its reply to be read and dropped, which keeps the
// connection in step for the others. A batch runs on a context of its own
// whose deadline is the latest of its callers' (none when one of them has
// none: go-redis's ReadTimeout bounds it then), so it is not cut short by
// one caller's cancellation.

// lanesPerNode is how many commands or batches may be on the wire at once
// per node: see the package documentation for the measurements behind it.
var lanesPerNode = 2

// pipeliner is the driver's auto-pipelining state: one lane for a single
// server, one per primary for a cluster.
type pipeliner struct {
	d      *Driver
	limit  int
	single *lane            // a single-server client's lane
	mu     sync.Mutex       // guards lanes
	lanes  map[string]*lane // a cluster's lanes, by primary address
}

func newPipeliner(d *Driver, limit int) *pipeliner {
	p := &pipeliner{d: d, limit: limit}
	if d.cluster == nil {
		p.single = &lane{p: p}
	} else {
		p.lanes = make(map[string]*lane)
	}
	return p
}

// lane returns the lane of the node that serves key. On a cluster whose
// slot map go-redis has not loaded yet the address is "": those commands
// share a lane until the map is known. The lane only groups commands; the
// cluster pipeline routes each one by its slot (and follows MOVED and
// ASK), so a command grouped with the wrong node's is still answered by
// the right one.
func (p *pipeliner) lane(key string) *lane {
	if p.single != nil {
		return p.single
	}
	addr := p.d.NodeOf(key)
	p.mu.Lock()
	l := p.lanes[addr]
	if l == nil {
		l = &lane{p: p}
		p.lanes[addr] = l
	}
	p.mu.Unlock()
	return l
}

// lane is one node's queue of commands waiting for a batch.
type lane struct {
	p     *pipeliner
	mu    sync.Mutex
	busy  int   // commands or batches on the wire
	queue []*op // commands waiting for the next batch
	spare []*op // the last batch's slice, reused for the next queue
}

// op is a queued command.
type op struct {
	ctx   context.Context
	cmd   redis.Cmder
	state atomic.Int32 // opQueued, then opSent or opDropped
	done  chan struct{}
}

const (
	opQueued int32 = iota
	opSent
	opDropped
	opDone // taken, and completed without being sent
)

// process runs cmd on the lane of key's node. It returns cmd.Err() once
// the reply is in; any other error (the caller's context, the driver's
// Close) means cmd was not completed, and the caller must not read it.
func (d *Driver) process(ctx context.Context, key string, cmd redis.Cmder) error {
	if d.pipe == nil {
		return d.c.Process(ctx, cmd)
	}
	return d.pipe.lane(key).process(ctx, cmd)
}

func (l *lane) process(ctx context.Context, cmd redis.Cmder) error {
	l.mu.Lock()
	if l.busy < l.p.limit {
		// A free slot: send it now, on the caller's goroutine and context.
		l.busy++
		l.mu.Unlock()
		err := l.p.d.c.Process(ctx, cmd)
		l.release()
		return err
	}
	if err := ctx.Err(); err != nil {
		l.mu.Unlock()
		return err
	}
	// The batch goroutine may write the command after the caller gave up
	// and reused its buffers: it gets copies of them.
	args := cmd.Args()
	for i, a := range args {
		if b, ok := a.([]byte); ok {
			args[i] = bytes.Clone(b)
		}
	}
	o := &op{ctx: ctx, cmd: cmd, done: make(chan struct{})}
	l.queue = append(l.queue, o)
	l.mu.Unlock()

	var err error
	select {
	case <-o.done:
		return cmd.Err()
	case <-ctx.Done():
		err = ctx.Err()
	case <-l.p.d.stop:
		err = conn.ErrClosed
	}
	if !o.state.CompareAndSwap(opQueued, opDropped) {
		// Taken into a batch: the reply may have come in meanwhile.
		select {
		case <-o.done:
			return cmd.Err()
		default:
		}
	}
	return err
}

// release frees the slot of a command sent directly, or hands it to a
// batch of the commands queued meanwhile.
func (l *lane) release() {
	l.mu.Lock()
	if len(l.queue) == 0 {
		l.busy--
		l.mu.Unlock()
		return
	}
	batch := l.take()
	l.mu.Unlock()
	go l.run(batch)
}

// take returns the queue and starts a new one. l.mu is held.
func (l *lane) take() []*op {
	batch := l.queue
	l.queue, l.spare = l.spare[:0], nil
	return batch
}

// run sends batch, then the commands that queued while it was on the
// wire, until the queue is empty, and frees its slot.
func (l *lane) run(batch []*op) {
	for {
		l.send(batch)
		clear(batch)
		l.mu.Lock()
		if l.spare == nil {
			l.spare = batch[:0]
		}
		if len(l.queue) == 0 {
			l.busy--
			l.mu.Unlock()
			return
		}
		batch = l.take()
		l.mu.Unlock()
	}
}

// send runs the live commands of batch as one go-redis pipeline and
// completes them.
func (l *lane) send(batch []*op) {
	d := l.p.d
	closed := d.closed.Load()
	pipe := d.c.Pipeline()
	var (
		latest    time.Time
		unbounded bool
		sent      int
	)
	for _, o := range batch {
		if !o.state.CompareAndSwap(opQueued, opSent) {
			continue // its caller gave up before the batch
		}
		err := o.ctx.Err()
		if closed {
			err = conn.ErrClosed
		}
		if err != nil {
			o.state.Store(opDone)
			o.cmd.SetErr(err)
			close(o.done)
			continue
		}
		if dl, ok := o.ctx.Deadline(); !ok {
			unbounded = true
		} else if dl.After(latest) {
			latest = dl
		}
		_ = pipe.Process(o.ctx, o.cmd)
		sent++
	}
	if sent == 0 {
		return
	}
	ctx := context.Background()
	if !unbounded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, latest)
		defer cancel()
	}
	_, _ = pipe.Exec(ctx)
	for _, o := range batch {
		if o.state.Load() == opSent {
			close(o.done)
		}
	}
}

// unbatched are the commands that never share a batch: those that block
// the connection (the others' replies would wait behind them) and those
// that change its state (the next batch would inherit it). They run on a
// pooled connection of their own, as without auto-pipelining; pub/sub has
// its own connections anyway.
var unbatched = map[string]struct{}{
	"blpop": {}, "brpop": {}, "brpoplpush": {}, "blmove": {}, "blmpop": {},
	"bzpopmin": {}, "bzpopmax": {}, "bzmpop": {}, "xread": {}, "xreadgroup": {},
	"wait": {}, "waitaof": {},
	"select": {}, "auth": {}, "hello": {}, "reset": {}, "quit": {}, "client": {},
	"multi": {}, "exec": {}, "discard": {}, "watch": {}, "unwatch": {},
	"subscribe": {}, "unsubscribe": {}, "psubscribe": {}, "punsubscribe": {},
	"ssubscribe": {}, "sunsubscribe": {}, "monitor": {}, "shutdown": {},
	"readonly": {}, "readwrite": {}, "sync": {}, "psync": {}, "debug": {},
	"failover": {},
}

// batchable reports whether a command named name may share a batch.
func batchable(name any) bool {
	var s string
	switch n := name.(type) {
	case string:
		s = n
	case []byte:
		s = string(n)
	default:
		return false
	}
	if len(s) > 16 {
		return true // no unbatched command is that long
	}
	var buf [16]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	_, no := unbatched[string(buf[:len(s)])]
	return !no
}

// keyArg returns the argument Do's lane is chosen by: the second, which
// is the key of most commands. A wrong guess only groups the command with
// another node's batch; the cluster pipeline still routes it right.
func keyArg(args []any) string {
	if len(args) < 2 {
		return ""
	}
	switch k := args[1].(type) {
	case string:
		return k
	case []byte:
		return string(k)
	}
	return ""
}
