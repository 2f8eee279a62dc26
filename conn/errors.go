package conn

import (
	"errors"
	"strings"
	"time"
)

var (
	// ErrMiss reports that a key holds no value. Drivers return it from
	// Get, and from Do, Eval and pipelined commands whose reply is nil.
	ErrMiss = errors.New("redcache: miss")

	// ErrNoConnection reports that [Resolve] found no driver: none was
	// given, none is in the context, and the connection stack is empty.
	ErrNoConnection = errors.New("redcache: no connection (pass a driver, use conn.With, or conn.Use/Push one)")

	// ErrInvalidTTL reports a negative time to live.
	ErrInvalidTTL = errors.New("redcache: invalid ttl (negative)")

	// ErrBadURL reports a connection URL that a driver's Open cannot use:
	// an unknown scheme, or an option that is unknown, duplicated, out of
	// range or malformed. Each driver's own ErrBadURL wraps it, so
	// errors.Is(err, conn.ErrBadURL) holds whichever driver parsed the URL.
	// The error never contains the URL's password.
	ErrBadURL = errors.New("redcache: bad url")

	// ErrBadArg reports a call given an argument it cannot use, refused
	// before anything reaches Redis: a command without a name, a command
	// argument of a type no driver sends (see [FormatArg]), a Subscribe
	// without channels, a nil script, an option value out of range, or a
	// nil driver given to [Use], [Push] or [Scope] ([With] panics with
	// it). Every driver's own error for a bad argument wraps it, with
	// the driver's prefix ("redcache/goredis: bad argument: ..."), so
	// errors.Is(err, conn.ErrBadArg) holds whichever driver refused.
	ErrBadArg = errors.New("redcache: bad argument")

	// ErrClosed reports a call on a closed driver or subscription.
	ErrClosed = errors.New("redcache: closed")

	// ErrSubscriptionLost reports that a subscription's connection broke.
	// Messages published meanwhile are lost, so the subscription is over:
	// whoever relies on seeing every message (a near cache) must assume it
	// missed some, then subscribe again.
	ErrSubscriptionLost = errors.New("redcache: subscription lost")

	// ErrStackInUse reports that [Use] was called while the connection
	// stack holds more than one driver, which means some [Push] is still
	// waiting for its [Pop]. The original library asserts the same.
	ErrStackInUse = errors.New("redcache: connection stack holds more than one driver")

	// ErrStackMismatch reports that [Scope] popped another driver than the
	// one it pushed: the function it ran left a Push without its Pop, or
	// popped more than it pushed.
	ErrStackMismatch = errors.New("redcache: connection stack popped another driver than it pushed")
)

// ReplyError is an error reply from Redis, such as "WRONGTYPE ..." or
// "NOSCRIPT ...". Drivers return it (possibly wrapped) for commands Redis
// refused; transport failures are other errors.
type ReplyError struct {
	// Msg is the error as Redis sent it, without the leading '-'.
	Msg string
}

// Error implements error.
func (e *ReplyError) Error() string { return "redcache: redis: " + e.Msg }

// Prefix returns the error's first word, such as "WRONGTYPE" or "MOVED".
func (e *ReplyError) Prefix() string {
	if i := strings.IndexByte(e.Msg, ' '); i >= 0 {
		return e.Msg[:i]
	}
	return e.Msg
}

// IsReplyError reports whether err is or wraps a [*ReplyError] whose
// prefix is prefix (or any prefix, when prefix is empty).
func IsReplyError(err error, prefix string) bool {
	var re *ReplyError
	if !errors.As(err, &re) {
		return false
	}
	return prefix == "" || re.Prefix() == prefix
}

// Milliseconds converts a ttl to the PX argument drivers send. It returns
// ErrInvalidTTL for a negative ttl, 0 for no expiry, and at least 1 for any
// positive ttl, so that a tiny ttl is never turned into "forever".
func Milliseconds(ttl time.Duration) (int64, error) {
	switch {
	case ttl < 0:
		return 0, ErrInvalidTTL
	case ttl == 0:
		return 0, nil
	}
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms, nil
}
