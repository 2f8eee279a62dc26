package radix

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/mediocregopher/radix/v4/resp"
	"github.com/redcache/redcache/conn"
)

// Subscribe implements [conn.Driver.Subscribe]. Each subscription has a
// connection of its own, dialled with the driver's Dialer (see
// [WithDialer]) to the client's server. On a cluster any node would do,
// since Redis broadcasts classic pub/sub messages to every node; the
// subscription goes to the primary of the first channel's hash slot, which
// is where [Driver.Do] sends a PUBLISH to that channel, so that messages
// published through the driver to that channel need no hop over the
// cluster bus and arrive in the order they were published. Subscribe
// returns once the server has confirmed every channel.
//
// The subscription does not reconnect: when its connection breaks,
// Receive returns an error wrapping [conn.ErrSubscriptionLost], and the
// caller subscribes again (messages published in between are lost, as
// with any Redis pub/sub). A connection that goes silent without breaking
// (half open) is found by a PING while Receive waits, and reported the
// same way (see [WithSubscriptionCheck]).
func (d *Driver) Subscribe(ctx context.Context, channels ...string) (conn.Subscription, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	if len(channels) == 0 {
		return nil, fmt.Errorf("%w: Subscribe without a channel", errBadArg)
	}
	network, addr, err := d.pubsubAddr(channels[0])
	if err != nil {
		return nil, err
	}
	c, err := d.cfg.dialer.Dial(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("redcache/radix: subscribe: dial %s: %w", addr, err)
	}
	every, wait := d.cfg.subCheck()
	s := &subscription{c: c, subs: d.subs, every: every, wait: wait}
	if err := s.subscribe(ctx, channels); err != nil {
		_ = c.Close()
		return nil, d.convert(err)
	}
	d.subs.add(s)
	if d.closed.Load() { // Close ran meanwhile and missed s
		_ = s.Close()
		return nil, conn.ErrClosed
	}
	return s, nil
}

// pubsubAddr returns where a subscription to channel connects.
func (d *Driver) pubsubAddr(channel string) (network, addr string, err error) {
	switch c := d.client.(type) {
	case *rdx.Cluster:
		topo := c.Topo()
		if addr := primaryOf(topo, conn.Slot(channel)); addr != "" {
			return "tcp", addr, nil
		}
		for _, n := range topo {
			if n.SecondaryOfAddr == "" {
				return "tcp", n.Addr, nil
			}
		}
	case rdx.Client:
		a := c.Addr()
		return a.Network(), a.String(), nil
	case rdx.MultiClient:
		clients, err := c.Clients()
		if err != nil {
			return "", "", d.convert(err)
		}
		for addr, rs := range clients {
			if rs.Primary != nil {
				return "tcp", addr, nil
			}
		}
	}
	if d.cfg.dialer.CustomConn != nil {
		return "tcp", "", nil // the custom dialer knows where to go
	}
	return "", "", fmt.Errorf("redcache/radix: subscribe: cannot tell which server a %T talks to; give WithDialer a Dialer with CustomConn", d.client)
}

// subscription is a conn.Subscription on a connection of its own.
type subscription struct {
	c      rdx.Conn
	subs   *subscriptions
	closed atomic.Bool
	once   sync.Once

	every time.Duration // silence before a PING; 0: off
	wait  time.Duration // how long the PING may go unanswered

	mu      sync.Mutex
	pending []conn.Message // messages read while waiting for confirmations
	pingAt  time.Time      // when the unanswered PING went out; zero: none
}

// subscribe sends SUBSCRIBE and waits for the confirmation of every
// channel (Redis sends one per channel given, duplicates included).
func (s *subscription) subscribe(ctx context.Context, channels []string) error {
	a := &action{op: opArgs, args: append([]string{"SUBSCRIBE"}, channels...)}
	if err := s.c.EncodeDecode(ctx, a, nil); err != nil {
		return err
	}
	for want := len(channels); want > 0; {
		r := new(reply)
		if err := s.c.EncodeDecode(ctx, nil, r); err != nil {
			return err
		}
		if m, ok := message(r.v); ok {
			s.pending = append(s.pending, m)
		} else if kindOf(r.v) == "subscribe" {
			want--
		}
	}
	return nil
}

// Receive implements [conn.Subscription.Receive]. While it waits, a
// silent connection is checked with a PING (see [WithSubscriptionCheck]).
func (s *subscription) Receive(ctx context.Context) (conn.Message, error) {
	for {
		if s.closed.Load() {
			return conn.Message{}, conn.ErrClosed
		}
		s.mu.Lock()
		if len(s.pending) > 0 {
			m := s.pending[0]
			s.pending = s.pending[1:]
			s.mu.Unlock()
			return m, nil
		}
		pingAt := s.pingAt
		s.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return conn.Message{}, err
		}

		// Wait for the next push, at most until the connection is due a
		// check: every of silence, or wait after the PING went out.
		rctx, cancel := ctx, context.CancelFunc(func() {})
		var due time.Time
		if s.every > 0 {
			now := time.Now()
			due = now.Add(s.every)
			if !pingAt.IsZero() {
				due = pingAt.Add(s.wait)
				// The answer may be waiting in the socket since the
				// last Receive: give it a moment to be read.
				if least := now.Add(min(s.wait, 100*time.Millisecond)); due.Before(least) {
					due = least
				}
			}
			rctx, cancel = context.WithDeadline(ctx, due)
		}
		// A fresh reply each time: a read that Close cut short may still be
		// writing to the last one.
		r := new(reply)
		err := s.c.EncodeDecode(rctx, nil, r)
		cancel()
		switch {
		case s.closed.Load():
			return conn.Message{}, conn.ErrClosed
		case ctx.Err() != nil:
			return conn.Message{}, ctx.Err()
		case err != nil && rctx.Err() != nil && errors.As(err, new(resp.ErrConnUsable)):
			// Silence until the check was due, and nothing half read.
			if err := s.ping(ctx, pingAt); err != nil {
				return conn.Message{}, err
			}
			continue
		case err != nil:
			return conn.Message{}, &lostError{cause: convertErr(err, false)}
		}
		s.mu.Lock()
		s.pingAt = time.Time{} // the connection is alive
		s.mu.Unlock()
		if m, ok := message(r.v); ok {
			return m, nil
		}
		// A confirmation or a pong: not for the caller.
	}
}

// ping checks a connection that has been silent: it sends a PING, or, when
// the one sent at pingAt went unanswered for s.wait, closes the
// connection and reports it lost.
func (s *subscription) ping(ctx context.Context, pingAt time.Time) error {
	if !pingAt.IsZero() {
		_ = s.c.Close()
		return &lostError{cause: fmt.Errorf("no answer to a PING in %v", s.wait)}
	}
	wctx, cancel := context.WithTimeout(ctx, s.wait)
	defer cancel()
	a := &action{op: opArgs, args: []string{"PING"}}
	w := watchStall(wctx, nil, func() { _ = s.c.Close() }) // a write that blocks
	err := s.c.EncodeDecode(wctx, a, nil)                  // the reply comes as a push
	w.done()
	if err != nil {
		if s.closed.Load() {
			return conn.ErrClosed
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = s.c.Close()
		return &lostError{cause: fmt.Errorf("sending a PING: %w", convertErr(err, false))}
	}
	s.mu.Lock()
	s.pingAt = time.Now()
	s.mu.Unlock()
	return nil
}

// Close implements [conn.Subscription.Close]. Closing the connection ends
// the subscription on the server.
func (s *subscription) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		_ = s.c.Close()
		s.subs.remove(s)
	})
	return nil
}

// kindOf returns the kind of a pub/sub push ("message", "subscribe", ...).
func kindOf(v any) string {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return ""
	}
	k, _ := arr[0].(string)
	return k
}

// message returns the message a push carries, if it is one.
func message(v any) (conn.Message, bool) {
	arr, _ := v.([]any)
	var ch, payload any
	switch kindOf(v) {
	case "message", "smessage":
		if len(arr) != 3 {
			return conn.Message{}, false
		}
		ch, payload = arr[1], arr[2]
	case "pmessage":
		if len(arr) != 4 {
			return conn.Message{}, false
		}
		ch, payload = arr[2], arr[3]
	default:
		return conn.Message{}, false
	}
	c, ok1 := ch.(string)
	p, ok2 := payload.(string)
	if !ok1 || !ok2 {
		return conn.Message{}, false
	}
	return conn.Message{Channel: c, Payload: []byte(p)}, true
}
