package goredis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
// are lost, and the caller subscribes again. A connection that stays
// open but goes silent (a partition, a stopped server) is caught by a
// health check: a PING through the subscription every
// [DefaultSubscriptionInterval] (3 s) that must be answered within
// [DefaultSubscriptionTimeout] (1 s), so it is reported lost within about
// 4 s; [WithSubscriptionCheck] changes both.
//
// On a *redis.Ring, go-redis subscribes every channel on the shard of the
// first one, while a PUBLISH goes to the channel's own shard: subscribe to
// one channel per Subscription there.
func (d *Driver) Subscribe(ctx context.Context, channels ...string) (conn.Subscription, error) {
	if d.closed.Load() {
		return nil, conn.ErrClosed
	}
	if len(channels) == 0 {
		return nil, fmt.Errorf("%w: Subscribe needs at least one channel", errBadArg)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ps := d.c.Subscribe(ctx, channels...)
	s := &subscription{
		d:       d,
		ps:      ps,
		in:      make(chan any, subscriptionBuffer),
		done:    make(chan struct{}),
		readEnd: make(chan struct{}),
		pong:    make(chan struct{}, 1),
	}
	go s.read()
	if d.cfg.subInterval > 0 {
		go s.check(d.cfg.subInterval, d.cfg.subTimeout)
	}
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
//
// A half-open connection (a partition, a stopped server) never fails a
// read, so a second goroutine, check, sends a PING through the
// subscription every interval and waits for read to see the answer. When
// none comes in time, check records why in failure and closes the PubSub,
// which ends read's Receive; read then reports that failure.
type subscription struct {
	d       *Driver
	ps      *redis.PubSub
	in      chan any       // *redis.Message, *redis.Subscription or the error that ended read
	pending []conn.Message // read by Subscribe before it returned

	mu        sync.Mutex // guards pending and lost against concurrent Receives
	lost      error      // the error that ended read, once Receive saw it
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	readEnd chan struct{}         // closed when read returns
	pong    chan struct{}         // read got a PONG
	handing atomic.Bool           // read waits for room in in: the connection works
	failure atomic.Pointer[error] // why check gave up on the connection
}

// read runs until the connection fails or the subscription is closed.
// Nothing but closing the PubSub (by Close or check) ends a Receive that
// waits on a silent connection, so it gets no deadline.
func (s *subscription) read() {
	defer close(s.readEnd)
	for {
		v, err := s.ps.Receive(context.Background())
		if err != nil {
			if f := s.failure.Load(); f != nil {
				err = *f
			}
			v = err
		}
		if _, ok := v.(*redis.Pong); ok {
			select {
			case s.pong <- struct{}{}:
			default:
			}
			continue
		}
		s.handing.Store(true)
		select {
		case s.in <- v:
		case <-s.done:
			return
		}
		s.handing.Store(false)
		if err != nil {
			return
		}
	}
}

// check sends a PING through the subscription every interval and gives up
// on the connection when its PONG has not come within timeout. A reader
// that waits for the caller to take messages delays the PONG without
// anything being wrong, so a late PONG then only counts as late.
func (s *subscription) check(interval, timeout time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	for {
		select {
		case <-tick.C:
		case <-s.done:
			return
		case <-s.readEnd:
			return
		}
		select { // a PONG left over from a round that gave it the benefit of the doubt
		case <-s.pong:
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := s.ps.Ping(ctx)
		cancel()
		if err == nil {
			wait.Reset(timeout)
			select {
			case <-s.pong:
				if !wait.Stop() {
					<-wait.C
				}
				continue
			case <-wait.C:
				if s.handing.Load() {
					continue
				}
				err = fmt.Errorf("no answer to PING within %v", timeout)
			case <-s.done:
				return
			case <-s.readEnd:
				return
			}
		}
		select {
		case <-s.done:
			return
		case <-s.readEnd:
			return
		default:
		}
		f := error(&lostError{cause: fmt.Errorf("the health check failed: %w", err)})
		s.failure.Store(&f)
		_ = s.ps.Close() // ends read's Receive, which reports f
		return
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
				if errors.Is(v, conn.ErrSubscriptionLost) {
					s.lost = v
				} else {
					s.lost = &lostError{cause: convErr(context.Background(), v)}
				}
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
		if s.failure.Load() != nil && errors.Is(s.closeErr, redis.ErrClosed) {
			s.closeErr = nil // check closed it already
		}
		s.d.mu.Lock()
		delete(s.d.subs, s)
		s.d.mu.Unlock()
	})
	return s.closeErr
}
