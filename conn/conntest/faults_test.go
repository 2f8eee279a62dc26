package conntest_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
)

// TestRunFaults runs the fault cases against respDriver, a small driver
// written the way the cases ask (a deadline on every read, connections
// dropped on error, a pinged subscription): it proves that the cases can
// be passed, and keeps them from drifting into demands no driver meets.
// The real drivers run them from their own tests.
func TestRunFaults(t *testing.T) {
	const ping = 100 * time.Millisecond
	conntest.RunFaults(t, conntest.FaultConfig{
		Open: func(t *testing.T, addr string) conn.Driver {
			return &respDriver{addr: addr, size: 2, sem: make(chan struct{}, 2), all: map[net.Conn]bool{}, ping: ping}
		},
		PoolSize:          2,
		SubscriptionCheck: 2 * ping,
	})
}

// respDriver speaks just enough RESP2 for RunFaults: Get, Set, Do and
// Subscribe. Its other methods are not used (they would panic on the nil
// embedded Driver).
type respDriver struct {
	conn.Driver
	addr string
	size int
	sem  chan struct{} // one token per connection in use
	ping time.Duration

	mu     sync.Mutex
	idle   []*respConn
	all    map[net.Conn]bool
	closed bool
}

type respConn struct {
	c net.Conn
	r *bufio.Reader
}

func (d *respDriver) track(c net.Conn, add bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if add && d.closed {
		return false
	}
	if add {
		d.all[c] = true
	} else {
		delete(d.all, c)
	}
	return true
}

// call sends one command on a pooled connection, bounded by ctx.
func (d *respDriver) call(ctx context.Context, args ...string) (any, error) {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-d.sem }()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, conn.ErrClosed
	}
	var rc *respConn
	if n := len(d.idle); n > 0 {
		rc, d.idle = d.idle[n-1], d.idle[:n-1]
	}
	d.mu.Unlock()
	if rc == nil {
		var dialer net.Dialer
		c, err := dialer.DialContext(ctx, "tcp", d.addr)
		if err != nil {
			return nil, fmt.Errorf("respdriver: %w", err)
		}
		if !d.track(c, true) {
			_ = c.Close()
			return nil, conn.ErrClosed
		}
		rc = &respConn{c: c, r: bufio.NewReader(c)}
	}
	stop := context.AfterFunc(ctx, func() { _ = rc.c.SetDeadline(time.Unix(1, 0)) })
	dl, hasDeadline := ctx.Deadline()
	_ = rc.c.SetDeadline(dl)
	v, err := rc.do(args)
	stop()
	if err != nil {
		// The connection may hold a late reply: never reuse it.
		_ = rc.c.Close()
		d.track(rc.c, false)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("respdriver: %w", ctx.Err())
		}
		// The socket's deadline may fire a moment before the context
		// reports it: the call still ended at its deadline.
		if hasDeadline && !time.Now().Before(dl) {
			return nil, fmt.Errorf("respdriver: %w", context.DeadlineExceeded)
		}
		if d.isClosed() {
			return nil, conn.ErrClosed
		}
		return nil, fmt.Errorf("respdriver: %w", err)
	}
	d.mu.Lock()
	d.idle = append(d.idle, rc)
	d.mu.Unlock()
	if re, ok := v.(*conn.ReplyError); ok {
		return nil, re
	}
	return v, nil
}

func (d *respDriver) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

func (rc *respConn) do(args []string) (any, error) {
	if err := writeCmd(rc.c, args); err != nil {
		return nil, err
	}
	return readReply(rc.r)
}

func writeCmd(c net.Conn, args []string) error {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"...)
	}
	_, err := c.Write(b)
	return err
}

func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 {
		return nil, errors.New("respdriver: short line")
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return &conn.ReplyError{Msg: body}, nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("respdriver: unexpected %q", line)
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (d *respDriver) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := d.call(ctx, "GET", key)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, conn.ErrMiss
	}
	return []byte(v.(string)), nil
}

func (d *respDriver) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	_, err := d.call(ctx, "SET", key, string(value), "PX", strconv.FormatInt(ttl.Milliseconds(), 10))
	return err
}

func (d *respDriver) Do(ctx context.Context, args ...any) (any, error) {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = fmt.Sprint(a)
	}
	return d.call(ctx, s...)
}

func (d *respDriver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	for c := range d.all {
		_ = c.Close()
	}
	return nil
}

// Subscribe opens a connection of its own, PINGs through it every d.ping
// and gives up on it when nothing came back for two intervals.
func (d *respDriver) Subscribe(ctx context.Context, channels ...string) (conn.Subscription, error) {
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	if !d.track(c, true) {
		_ = c.Close()
		return nil, conn.ErrClosed
	}
	rc := &respConn{c: c, r: bufio.NewReader(c)}
	dl, _ := ctx.Deadline()
	_ = c.SetDeadline(dl)
	if err := writeCmd(c, append([]string{"SUBSCRIBE"}, channels...)); err != nil {
		_ = c.Close()
		return nil, err
	}
	for range channels {
		if _, err := readReply(rc.r); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	_ = c.SetDeadline(time.Time{})
	s := &respSub{rc: rc, msgs: make(chan conn.Message, 64), lost: make(chan struct{}), done: make(chan struct{})}
	s.wg.Add(2)
	go s.read(2 * d.ping)
	go s.pinger(d.ping)
	return s, nil
}

type respSub struct {
	rc   *respConn
	msgs chan conn.Message
	lost chan struct{}
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func (s *respSub) read(quiet time.Duration) {
	defer s.wg.Done()
	defer close(s.lost)
	for {
		_ = s.rc.c.SetReadDeadline(time.Now().Add(quiet))
		v, err := readReply(s.rc.r)
		if err != nil {
			return
		}
		if arr, ok := v.([]any); ok && len(arr) == 3 && arr[0] == "message" {
			select {
			case s.msgs <- conn.Message{Channel: arr[1].(string), Payload: []byte(arr[2].(string))}:
			case <-s.done:
				return
			}
		}
	}
}

func (s *respSub) pinger(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = s.rc.c.SetWriteDeadline(time.Now().Add(every))
			if writeCmd(s.rc.c, []string{"PING"}) != nil {
				return
			}
		case <-s.done:
			return
		}
	}
}

func (s *respSub) Receive(ctx context.Context) (conn.Message, error) {
	select {
	case <-s.done:
		return conn.Message{}, conn.ErrClosed
	default:
	}
	select {
	case m := <-s.msgs:
		return m, nil
	case <-s.lost:
		return conn.Message{}, fmt.Errorf("respdriver: %w", conn.ErrSubscriptionLost)
	case <-s.done:
		return conn.Message{}, conn.ErrClosed
	case <-ctx.Done():
		return conn.Message{}, ctx.Err()
	}
}

func (s *respSub) Close() error {
	s.once.Do(func() {
		close(s.done)
		_ = s.rc.c.Close()
		s.wg.Wait()
	})
	return nil
}
