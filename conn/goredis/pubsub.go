package goredis

import (
	"context"
	"fmt"
	"sync"

	"github.com/redcache/redcache/conn"
	"github.com/redis/go-redis/v9"
)

// subscriptionBuffer is how many messages go-redis may hold for a
// subscription whose reader is busy. go-redis drops a message that finds
// the buffer full for a minute.
const subscriptionBuffer = 1024

// Subscribe subscribes to channels on a dedicated connection and returns
// once the server has confirmed every channel. On a cluster the connection
// goes to one node; classic pub/sub messages reach every node, so it sees
// messages published anywhere. go-redis reconnects and subscribes again
// after a network failure; messages published while it is away are lost,
// as with any Redis pub/sub.
//
// On a *redis.Ring, go-redis subscribes every channel on the shard of the
// first one, while a PUBLISH goes to the channel's own shard: subscribe to
// one channel per Subscription there.
func (d *Driver) Subscribe(ctx context.Context, channels ...string) (conn.Subscription, error) {
	if d.closed.Load() {
		return nil, conn.ErrClosed
	}
	if len(channels) == 0 {
		return nil, fmt.Errorf("%w: Subscribe needs at least one channel", ErrBadArgs)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ps := d.c.Subscribe(ctx, channels...)
	s := &subscription{
		d:    d,
		ps:   ps,
		ch:   ps.ChannelWithSubscriptions(redis.WithChannelSize(subscriptionBuffer)),
		done: make(chan struct{}),
	}
	// Wait for one confirmation per distinct channel; messages that come
	// in meanwhile (from channels already confirmed) are kept for Receive.
	want := make(map[string]bool, len(channels))
	for _, c := range channels {
		want[c] = true
	}
	for len(want) > 0 {
		select {
		case v, ok := <-s.ch:
			if !ok {
				s.Close()
				return nil, conn.ErrClosed
			}
			switch v := v.(type) {
			case *redis.Subscription:
				if v.Kind == "subscribe" {
					delete(want, v.Channel)
				}
			case *redis.Message:
				s.pending = append(s.pending, message(v))
			}
		case <-ctx.Done():
			s.Close()
			return nil, ctx.Err()
		}
	}
	d.mu.Lock()
	if d.closed.Load() {
		d.mu.Unlock()
		s.Close()
		return nil, conn.ErrClosed
	}
	if d.subs == nil {
		d.subs = make(map[*subscription]struct{})
	}
	d.subs[s] = struct{}{}
	d.mu.Unlock()
	return s, nil
}

// subscription is a [conn.Subscription] over a go-redis PubSub, read
// through the channel go-redis fills from its own goroutine, so that
// Receive can wait on a context too.
type subscription struct {
	d       *Driver
	ps      *redis.PubSub
	ch      <-chan any
	pending []conn.Message // read by Subscribe before it returned

	mu        sync.Mutex // guards pending against concurrent Receives
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

func message(m *redis.Message) conn.Message {
	return conn.Message{Channel: m.Channel, Payload: []byte(m.Payload)}
}

// Receive returns the next message, ctx.Err() when ctx ends first, and
// [conn.ErrClosed] once the subscription is closed.
func (s *subscription) Receive(ctx context.Context) (conn.Message, error) {
	select {
	case <-s.done:
		return conn.Message{}, conn.ErrClosed
	default:
	}
	s.mu.Lock()
	if len(s.pending) > 0 {
		m := s.pending[0]
		s.pending = s.pending[1:]
		s.mu.Unlock()
		return m, nil
	}
	s.mu.Unlock()
	for {
		select {
		case v, ok := <-s.ch:
			if !ok {
				return conn.Message{}, conn.ErrClosed
			}
			if m, ok := v.(*redis.Message); ok {
				select {
				case <-s.done:
					return conn.Message{}, conn.ErrClosed
				default:
				}
				return message(m), nil
			}
			// A *redis.Subscription after go-redis reconnected: skip it.
		case <-s.done:
			return conn.Message{}, conn.ErrClosed
		case <-ctx.Done():
			return conn.Message{}, ctx.Err()
		}
	}
}

// Close unsubscribes and closes the connection. It is safe to call more
// than once and while Receive waits.
func (s *subscription) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.closeErr = s.ps.Close()
		// go-redis's reader closes ch once it sees the connection closed,
		// which may take until a dial in progress gives up. Draining ch
		// meanwhile frees the reader if it waits on a full buffer, so it
		// ends promptly, and Close need not wait for it.
		go func() {
			for range s.ch {
			}
		}()
		s.d.mu.Lock()
		delete(s.d.subs, s)
		s.d.mu.Unlock()
	})
	return s.closeErr
}
