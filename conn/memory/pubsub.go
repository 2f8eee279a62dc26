package memory

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redcache/redcache/conn"
)

func init() {
	register("publish", 3, func(s *store, a []string) (any, error) {
		return s.publish(a[1], a[2]), nil
	})
	for _, name := range []string{"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe"} {
		register(name, -1, func(_ *store, a []string) (any, error) {
			return nil, replyErr(fmt.Sprintf("ERR '%s' is not run through Do: use Driver.Subscribe", strings.ToUpper(a[0])))
		})
	}
}

// publish delivers a message to every subscription of channel and returns
// how many there are. Call with s.mu held.
func (s *store) publish(channel, payload string) int64 {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	var n int64
	for sub := range s.subs {
		if sub.channels[channel] {
			sub.deliver(conn.Message{Channel: channel, Payload: []byte(payload)})
			n++
		}
	}
	return n
}

// subscription is a live [conn.Subscription] of a Driver.
type subscription struct {
	d        *Driver
	channels map[string]bool // read-only after Subscribe

	mu     sync.Mutex
	queue  []conn.Message
	closed bool
	lost   bool
	signal chan struct{} // one token when the queue or the state changed
}

// Subscribe implements [conn.Driver.Subscribe]. Messages are queued
// without a bound until Receive takes them, as a client's buffer holds
// them.
func (d *Driver) Subscribe(ctx context.Context, channels ...string) (conn.Subscription, error) {
	if len(channels) == 0 {
		return nil, fmt.Errorf("%w: Subscribe without a channel", errBadArg)
	}
	if err := d.begin(ctx, append([]string{"SUBSCRIBE"}, channels...)); err != nil {
		return nil, err
	}
	sub := &subscription{d: d, channels: map[string]bool{}, signal: make(chan struct{}, 1)}
	for _, ch := range channels {
		sub.channels[ch] = true
	}
	d.mu.Lock()
	if d.subs == nil { // closed meanwhile
		d.mu.Unlock()
		return nil, conn.ErrClosed
	}
	d.subs[sub] = struct{}{}
	d.mu.Unlock()
	d.s.subMu.Lock()
	d.s.subs[sub] = struct{}{}
	d.s.subMu.Unlock()
	return sub, nil
}

func (sub *subscription) deliver(m conn.Message) {
	sub.mu.Lock()
	if !sub.closed && !sub.lost {
		sub.queue = append(sub.queue, m)
	}
	sub.mu.Unlock()
	sub.poke()
}

func (sub *subscription) poke() {
	select {
	case sub.signal <- struct{}{}:
	default:
	}
}

// Receive implements [conn.Subscription.Receive].
func (sub *subscription) Receive(ctx context.Context) (conn.Message, error) {
	for {
		sub.mu.Lock()
		switch {
		case sub.closed:
			sub.mu.Unlock()
			return conn.Message{}, conn.ErrClosed
		case len(sub.queue) > 0:
			m := sub.queue[0]
			sub.queue[0] = conn.Message{}
			sub.queue = sub.queue[1:]
			more := len(sub.queue) > 0
			sub.mu.Unlock()
			if more {
				sub.poke() // let another Receive take the next one
			}
			return m, nil
		case sub.lost:
			sub.mu.Unlock()
			sub.poke()
			return conn.Message{}, &lostError{}
		}
		sub.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return conn.Message{}, err
		}
		select {
		case <-sub.signal:
		case <-ctx.Done():
			return conn.Message{}, ctx.Err()
		}
	}
}

// Close implements [conn.Subscription.Close].
func (sub *subscription) Close() error {
	sub.mu.Lock()
	if sub.closed {
		sub.mu.Unlock()
		return nil
	}
	sub.closed = true
	sub.queue = nil
	sub.mu.Unlock()
	sub.poke()
	sub.detach()
	return nil
}

// lose ends the subscription as a broken connection would.
func (sub *subscription) lose() {
	sub.mu.Lock()
	sub.lost = true
	sub.mu.Unlock()
	sub.poke()
	sub.detach()
}

func (sub *subscription) detach() {
	sub.d.s.subMu.Lock()
	delete(sub.d.s.subs, sub)
	sub.d.s.subMu.Unlock()
	sub.d.mu.Lock()
	delete(sub.d.subs, sub)
	sub.d.mu.Unlock()
}
