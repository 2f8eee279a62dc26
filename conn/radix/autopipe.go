package radix

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/mediocregopher/radix/v4/resp"
)

// Auto-pipelining. A radix Conn pipelines by itself: concurrent calls on
// one connection are written by its writer goroutine and read back by its
// reader goroutine. But every call still travels alone through those two
// goroutines (and, for a caller whose context can end, through one more of
// ours, see pool.perform): at 64 concurrent callers most of the client's
// CPU goes to waking goroutines, not to Redis. The pool therefore
// coalesces the commands of concurrent callers into batches, as the
// go-redis driver does, each sent as one radix action: one write, one
// read loop, one wake-up per caller.
//
// Each pool (the one server, or each cluster node) lets at most
// [lanesPerNode] commands or batches run at once. A call that finds a
// free slot runs its command itself, exactly as without auto-pipelining, so
// that a lone caller pays two uncontended mutex operations and nothing
// else. A call that finds every slot busy queues its command and waits;
// when a slot frees, whoever frees it hands the whole queue to a goroutine
// that sends it as one batch, then the commands that queued meanwhile,
// until the queue is empty. No timer is involved: a batch is whatever
// arrived while the previous ones were on the wire.
//
// A queued caller waits for its reply, its context or the pool's Close,
// whichever comes first, so it returns at its own deadline even when its
// batch is stuck behind a stalled server. A caller that gave up before its
// command was taken is left out of the batch; one that gave up after
// leaves its reply to be read and dropped, which keeps the connection in
// step. A batch runs on no deadline of its own: once every caller in it
// has given up, the connection is watched as for any caller that left a
// reply owed (see pool.watchLeft), and closed when the server stays silent
// for [connStall], which ends the batch. Each command gets the reply, or
// the error reply, it would have got alone, so radix's Cluster still
// follows a MOVED or ASK per command.
//
// Only the driver's own single commands are batched (GET, SET, PEXPIRE,
// MGET, DEL, EVALSHA, and the other non-blocking commands of Do). An
// EVALSHA answered NOSCRIPT in a batch is sent again as EVAL on its own.
// Blocking commands have connections of their own anyway; pipelines and
// radix's own actions (the cluster's topology queries) go as before.

// lanesPerNode is how many commands or batches may be on the wire at once
// per pool: see the package documentation for the measurements behind it.
var lanesPerNode = 2

// lane is a pool's queue of commands waiting for a batch.
type lane struct {
	p     *pool
	limit int
	mu    sync.Mutex
	busy  int    // commands or batches on the wire
	queue []*qop // commands waiting for the next batch
	spare []*qop // the last batch's slice, reused for the next queue

	batches, carried atomic.Int64 // batches sent, and the commands in them
}

// qop is a queued command.
type qop struct {
	ctx   context.Context
	a     *action
	state atomic.Int32 // qopQueued, then qopSent or qopDropped
	done  chan struct{}
	err   error  // set before done is closed
	b     *batch // the batch that carries it, once sent

	over, left bool // completed; its caller gave up (guarded by b.mu)
}

const (
	qopQueued int32 = iota
	qopSent
	qopDropped
)

// batchable reports whether a may ride in a batch.
func batchable(a rdx.Action) (*action, bool) {
	ra, ok := a.(*action)
	if !ok || ra.blocking {
		return nil, false
	}
	return ra, true
}

// do runs a on the pool, batched with the commands of concurrent callers
// when every slot is busy.
func (l *lane) do(ctx context.Context, a *action) error {
	l.mu.Lock()
	if l.busy < l.limit {
		// A free slot: send it now, on the caller's goroutine and context.
		l.busy++
		l.mu.Unlock()
		err := l.p.doShared(ctx, a)
		l.release()
		return err
	}
	if err := ctx.Err(); err != nil {
		l.mu.Unlock()
		return err
	}
	// The batch may write the command after the caller gave up and
	// reused its buffers: it gets copies of them.
	detach(a)
	o := &qop{ctx: ctx, a: a, done: make(chan struct{})}
	l.queue = append(l.queue, o)
	l.mu.Unlock()

	var err error
	select {
	case <-o.done:
		if a.op == opEval && !a.eval && isNoScript(o.err) {
			// The server does not know the script yet: send its source,
			// alone, as action.Perform would.
			a.eval = true
			return l.p.doShared(ctx, a)
		}
		return o.err
	case <-ctx.Done():
		err = ctx.Err()
	case <-l.p.ctx.Done():
		err = errPoolClosed
	}
	if !o.state.CompareAndSwap(qopQueued, qopDropped) {
		// Taken into a batch: the reply may have come in meanwhile.
		select {
		case <-o.done:
			return o.err
		default:
		}
		if o.b == nil {
			// Taken only to be failed (see finish): done is closed next.
			<-o.done
			return err
		}
		o.b.leave(l.p, o)
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
	ops := l.take()
	l.mu.Unlock()
	if !l.p.background(func() { l.run(ops) }) {
		l.mu.Lock()
		l.busy--
		l.mu.Unlock()
		for _, o := range ops {
			o.finish(errPoolClosed)
		}
	}
}

// take returns the queue and starts a new one. l.mu is held.
func (l *lane) take() []*qop {
	ops := l.queue
	l.queue, l.spare = l.spare[:0], nil
	return ops
}

// run sends ops, then the commands that queued while they were on the
// wire, until the queue is empty, and frees its slot.
func (l *lane) run(ops []*qop) {
	for {
		l.send(ops)
		clear(ops)
		l.mu.Lock()
		if l.spare == nil {
			l.spare = ops[:0]
		}
		if len(l.queue) == 0 {
			l.busy--
			l.mu.Unlock()
			return
		}
		ops = l.take()
		l.mu.Unlock()
	}
}

// finish completes a command taken from the queue with err.
func (o *qop) finish(err error) {
	if o.state.CompareAndSwap(qopQueued, qopSent) {
		o.err = err
		close(o.done)
	}
}

// send runs the commands of ops whose callers still wait, as one batch on
// a shared connection, and completes them.
func (l *lane) send(ops []*qop) {
	b := &batch{ops: make([]*qop, 0, len(ops)), gone: make(chan struct{})}
	b.mu.Lock()
	for _, o := range ops {
		if err := o.ctx.Err(); err != nil {
			o.finish(err)
			continue
		}
		o.b = b // before the CAS, which publishes it to a caller that leaves
		if !o.state.CompareAndSwap(qopQueued, qopSent) {
			continue // its caller gave up before the batch
		}
		b.ops = append(b.ops, o)
	}
	b.waiting = len(b.ops)
	b.mu.Unlock()
	if len(b.ops) > 0 {
		l.batches.Add(1)
		l.carried.Add(int64(len(b.ops)))
		b.run(l.p)
	}
}

// batch is commands sent together on one connection.
type batch struct {
	mu      sync.Mutex
	ops     []*qop        // the commands still to complete
	waiting int           // their callers that have not given up
	gone    chan struct{} // closed when waiting reaches 0
	pc      *pooled       // the connection it is on, while it is
	slot    int
	c       *call // done once the batch is answered
}

// leave is called by o's caller when it gives up on o.
func (b *batch) leave(p *pool, o *qop) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o.over || o.left {
		return
	}
	o.left = true
	if b.waiting--; b.waiting > 0 {
		return
	}
	close(b.gone)
	if b.pc != nil {
		p.watchLeft(b.slot, b.pc, b.c)
	}
}

// run sends b on a shared connection and completes its commands.
func (b *batch) run(p *pool) {
	for {
		i, pc, wait, err := p.pick()
		if err != nil {
			b.complete(nil, err)
			return
		}
		if pc == nil {
			select {
			case <-wait:
				continue
			case <-b.gone:
				b.complete(nil, context.Canceled) // nobody is left to tell
				return
			case <-p.ctx.Done():
				b.complete(nil, errPoolClosed)
				return
			}
		}
		c := &call{done: make(chan struct{})}
		b.mu.Lock()
		w := newWire(b.ops)
		b.pc, b.slot, b.c = pc, i, c
		if b.waiting == 0 {
			p.watchLeft(i, pc, c)
		}
		b.mu.Unlock()

		pc.begin()
		err = pc.c.EncodeDecode(context.Background(), w, w)
		pc.end()
		close(c.done)
		switch {
		case err == nil:
			b.complete(w, nil)
			return
		case pc.dead.Load():
			// Closed as stalled under the batch: its idempotent commands go
			// again, as Do's would (the server may only have been slow);
			// the others fail.
			if b.retry(fmt.Errorf("%w: %s: silent with a reply owed (%w)", ErrStalled, p.addr, err)) {
				continue
			}
			return
		case connUsable(err):
			// Nothing left half read (the batch could not be written):
			// the connection is fine.
			b.complete(nil, err)
			return
		default:
			p.setAside(i, pc, false)
			b.complete(nil, err)
			return
		}
	}
}

// complete completes b's commands with the replies in w, or with err when
// the batch failed as a whole.
func (b *batch) complete(w *wire, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, o := range b.ops {
		if o.over {
			continue
		}
		o.over = true
		if err != nil {
			o.err = err
		} else {
			o.a.reply, o.err = w.replies[i], w.errs[i]
		}
		close(o.done)
	}
	b.ops = nil
}

// retry keeps in b the idempotent commands whose callers still wait, to
// send again, and fails the others with err. It reports whether any is
// left.
func (b *batch) retry(err error) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	var keep []*qop
	for _, o := range b.ops {
		if o.over {
			continue
		}
		if !o.left && idempotent(o.a) && o.ctx.Err() == nil {
			keep = append(keep, o)
			continue
		}
		o.over = true
		o.err = err
		close(o.done)
	}
	b.ops, b.pc, b.c = keep, nil, nil
	b.waiting = len(keep)
	return len(keep) > 0
}

// wire is one sending of a batch: its own copy of the commands and its
// own replies, so that a connection that failed under it, whose writer or
// reader may still be at work on it for a moment, touches nothing the
// next sending uses.
type wire struct {
	ops     []*qop
	replies []reply
	errs    []error
}

func newWire(ops []*qop) *wire {
	w := &wire{ops: slices.Clone(ops), replies: make([]reply, len(ops)), errs: make([]error, len(ops))}
	for i, o := range ops {
		w.replies[i].kind = o.a.reply.kind
	}
	return w
}

// MarshalRESP implements resp.Marshaler: every command, in one write.
func (w *wire) MarshalRESP(wr io.Writer, o *resp.Opts) error {
	var e encoder
	e.open(wr, o)
	for _, q := range w.ops {
		q.a.encode(&e)
	}
	return e.close(o)
}

// UnmarshalRESP implements resp.Unmarshaler. Each command keeps its error
// reply as the error its caller gets, in the form it would have had alone
// (which radix's Cluster follows redirections by); a failed read fails the
// batch.
func (w *wire) UnmarshalRESP(br resp.BufferedReader, _ *resp.Opts) error {
	for i := range w.ops {
		if err := w.replies[i].read(br); err != nil {
			if !connUsable(err) {
				return err
			}
			w.errs[i] = err
		}
	}
	return nil
}
