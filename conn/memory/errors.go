package memory

import (
	"strings"

	"github.com/redcache/redcache/conn"
)

// prefix starts every error this package makes.
const prefix = "redcache/memory: "

// errBadArg is the driver's bad argument: a [conn.ErrBadArg] with the
// driver's prefix. [Driver.Do], [Driver.Pipeline] and [Driver.Eval] take
// string, []byte, integer and float types (and types defined on them),
// bool and time.Duration, as the network drivers do; a command without a
// name, an argument of another type, a nil script or a Subscribe without
// channels returns an error wrapping it, so errors.Is(err,
// conn.ErrBadArg) holds, as with every driver.
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
