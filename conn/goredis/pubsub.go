package goredis

import (
	"context"
	"fmt"
	"sync"

	"github.com/redcache/redcache/conn"
	"github.com/redis/go-redis/v9"
)

// subscriptionBuffer is how many messages a subscription holds for a
// reader that is busy; past it, the connection's reader waits.
const subscriptionBuffer = 1024

// Subscribe subscribes to channels on a dedicated connection and returns
// once the server has confirmed every channel. On a cluster the connection
// goes to one node; classic pub/sub messages reach every node, so it sees
// messages published anywhere.
//
// Unlike go-redis's own channel API, a broken connection is not hidden by
// a silent reconnect: Receive returns an error wrapping
// [conn.ErrSubscriptionLost], since messages published while it was away
// are lost, and the caller subscribes again.
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
		in:   make(chan any, subscriptionBuffer),
		done: make(chan struct{}),
	}
	go s.read()
	// Wait for one confirmation per distinct channel; messages that come
	// in meanwhile (from channels already confirmed) are kept for Receive.
	want := make(map[string]bool, len(channels))
	for _, c := range channels {
		want[c] = true
	}
	for len(want) > 0 {
		select {
		case v := <-s.in:
			switch v := v.(type) {
			case *redis.Subscription:
				if v.Kind == "subscribe" {
					delete(want, v.Channel)
				}
			case *redis.Message:
				s.pending = append(s.pending, message(v))
			case error:
				s.Close()
				return nil, convErr(ctx, v)
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

// subscription is a [conn.Subscription] over a go-redis PubSub. Its own
// goroutine reads the connection with PubSub.Receive, which reports a
// network error instead of reconnecting, and hands what it reads to
// Receive through in, so that Receive can wait on a context too.
type subscription struct {
	d       *Driver
	ps      *redis.PubSub
	in      chan any       // *redis.Message, *redis.Subscription, *redis.Pong or the error that ended read
	pending []conn.Message // read by Subscribe before it returned

	mu        sync.Mutex // guards pending and lost against concurrent Receives
	lost      error      // the error that ended read, once Receive saw it
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// read runs until the connection fails or the subscription is closed.
func (s *subscription) read() {
	for {
		v, err := s.ps.Receive(context.Background())
		if err != nil {
			v = err
		}
		select {
		case s.in <- v:
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func message(m *redis.Message) conn.Message {
	return conn.Message{Channel: m.Channel, Payload: []byte(m.Payload)}
}

// Receive returns the next message, ctx.Err() when ctx ends first,
// [conn.ErrClosed] once the subscription is closed, and an error wrapping
// [conn.ErrSubscriptionLost] once the connection broke.
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
	if s.lost != nil {
		s.mu.Unlock()
		return conn.Message{}, s.lost
	}
	s.mu.Unlock()
	for {
		select {
		case v := <-s.in:
			switch v := v.(type) {
			case *redis.Message:
				select {
				case <-s.done:
					return conn.Message{}, conn.ErrClosed
				default:
				}
				return message(v), nil
			case error:
				select {
				case <-s.done:
					return conn.Message{}, conn.ErrClosed
				default:
				}
				s.mu.Lock()
				s.lost = fmt.Errorf("%w: %w", conn.ErrSubscriptionLost, convErr(context.Background(), v))
				s.mu.Unlock()
				return conn.Message{}, s.lost
			}
			// A confirmation or a pong: not for the caller.
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
		// Closing the PubSub makes read's Receive fail, and read returns on
		// done rather than waiting for a reader.
		s.closeErr = s.ps.Close()
		s.d.mu.Lock()
		delete(s.d.subs, s)
		s.d.mu.Unlock()
	})
	return s.closeErr
}
