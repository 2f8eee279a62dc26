package goredis

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"
)

// DialFunc is the type of go-redis's Dialer option
// (redis.Options.Dialer, redis.ClusterOptions.Dialer,
// redis.FailoverOptions.Dialer).
type DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// FailFastDialer returns a dialer for go-redis's Dialer option that makes
// a refused connection fail the call at once, with an error that wraps
// syscall.ECONNREFUSED. next does the dialing; nil means a plain TCP (or
// unix socket) dial bounded by the call's context, without TLS. For TLS,
// pass go-redis's own dialer: FailFastDialer(redis.NewDialer(opt)).
//
// Left alone, go-redis treats a refusal like any dial failure: it dials 5
// times 100 ms apart (DialerRetries, DialerRetryTimeout), retries the
// command 3 more times (MaxRetries), prints "failed to dial" on its
// process-wide logger, and after PoolSize failures answers every call with
// the last error until a background probe, which runs once a second, gets
// through. A refused port therefore costs a caller its whole deadline and
// surfaces as a timeout, and recovery after a restart waits for the probe.
//
// A refusal is an answer, not a lost packet: the server's host said that
// nothing listens. FailFastDialer hands go-redis a connection that fails
// its first read or write with that refusal, so go-redis sees a dial that
// worked and a connection that broke, which it neither retries nor logs
// nor counts: the command fails within microseconds, the dead connection
// is dropped, and the next call dials again, so the first call after
// Redis is back succeeds. Other dial errors (a timeout, an unreachable
// host) are returned as they are and go-redis handles them as before.
//
// Clients built by [Open] use it. See the package documentation for what
// else a client handed to [New] should set.
func FailFastDialer(next DialFunc) DialFunc {
	if next == nil {
		next = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil && errors.Is(err, syscall.ECONNREFUSED) {
			return &refusedConn{err: &refusedError{addr: addr}, network: network, addr: addr}, nil
		}
		return c, err
	}
}

// refusedError reports a refused connection. It matches
// syscall.ECONNREFUSED with errors.Is, but does not unwrap to the
// *net.OpError or the syscall.Errno: go-redis retries errors it finds
// those in (a dial error, a net.Error that is not a timeout).
type refusedError struct {
	addr string
}

func (e *refusedError) Error() string {
	return prefix + "connection refused by " + e.addr
}

// Is reports whether target is syscall.ECONNREFUSED.
func (e *refusedError) Is(target error) bool { return target == syscall.ECONNREFUSED }

// refusedConn is the connection FailFastDialer returns for a refusal: it
// fails every read and write with the refusal.
//
// go-redis sometimes parks a new connection in its pool instead of using
// it at once (to keep min_idle_conns ready, or when the caller that asked
// for it gave up meanwhile). Such a refusal is old news by the time a call
// takes the connection, and Redis may be back: before it hands out an idle
// connection go-redis checks its socket through syscall.Conn, and
// refusedConn fails that check, so that go-redis drops it and dials again.
type refusedConn struct {
	err     error
	network string
	addr    string
}

func (c *refusedConn) Read([]byte) (int, error)  { return 0, c.err }
func (c *refusedConn) Write([]byte) (int, error) { return 0, c.err }
func (c *refusedConn) Close() error              { return nil }

// SyscallConn fails, which makes go-redis's health check of an idle
// connection drop it (see refusedConn).
func (c *refusedConn) SyscallConn() (syscall.RawConn, error) { return nil, c.err }
func (c *refusedConn) LocalAddr() net.Addr                   { return refusedAddr{c.network, ""} }
func (c *refusedConn) RemoteAddr() net.Addr                  { return refusedAddr{c.network, c.addr} }
func (c *refusedConn) SetDeadline(time.Time) error           { return nil }
func (c *refusedConn) SetReadDeadline(time.Time) error       { return nil }
func (c *refusedConn) SetWriteDeadline(time.Time) error      { return nil }

type refusedAddr struct{ network, addr string }

func (a refusedAddr) Network() string { return a.network }
func (a refusedAddr) String() string  { return a.addr }
