package goredis

import (
	"strings"

	"github.com/redcache/redcache/conn"
)

// ErrBadURL reports a URL that [Open] cannot turn into a client: an empty
// one, an unknown scheme, a malformed address, or a query option that is
// unknown, duplicated, malformed or out of range. It wraps
// [conn.ErrBadURL], so errors.Is(err, conn.ErrBadURL) holds too. The error
// returned wraps it together with the cause, and never contains the URL's
// password.
//
// A call given an argument it cannot send (a command without a name, an
// argument of a type [conn.Driver.Do] does not take, a Subscribe without
// channels) returns an error that wraps [conn.ErrBadArg], the one
// sentinel every driver uses for it.
var ErrBadURL error = &wrapped{msg: prefix + "bad url", err: conn.ErrBadURL}

// prefix starts every error this package makes.
const prefix = "redcache/goredis: "

// errBadArg is the driver's bad argument: a [conn.ErrBadArg] with the
// driver's prefix.
var errBadArg error = &wrapped{msg: prefix + "bad argument", err: conn.ErrBadArg}

// wrapped is a sentinel error that wraps a more general one without
// repeating its message.
type wrapped struct {
	msg string
	err error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.err }

// lostError reports a subscription whose connection broke or went
// silent: it wraps [conn.ErrSubscriptionLost] and its cause, and reads
// "<prefix>subscription lost: <cause>", with the driver's prefix once.
type lostError struct {
	cause error // nil when there is nothing more to say
}

func (e *lostError) Error() string {
	if e.cause == nil {
		return prefix + "subscription lost"
	}
	return prefix + "subscription lost: " + strings.TrimPrefix(e.cause.Error(), prefix)
}

func (e *lostError) Unwrap() []error {
	if e.cause == nil {
		return []error{conn.ErrSubscriptionLost}
	}
	return []error{conn.ErrSubscriptionLost, e.cause}
}
