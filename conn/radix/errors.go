package radix

import (
	"errors"
	"strings"

	"github.com/redcache/redcache/conn"
)

var (
	// ErrBadURL reports a URL that [Open] cannot use: an empty one, an
	// unknown scheme, a malformed or repeated address, port or database
	// number, a query parameter that is unknown, repeated, empty,
	// malformed or out of range. The error wrapping it says which, and
	// never contains the URL's password. It wraps [conn.ErrBadURL], so
	// errors.Is(err, conn.ErrBadURL) holds too.
	ErrBadURL error = &wrapped{msg: prefix + "bad url", err: conn.ErrBadURL}

	// ErrStalled reports a call that failed because the server stalled
	// (CLIENT PAUSE, DEBUG SLEEP, a stopped process, a network partition):
	// the server stayed silent on its connection for a second while it
	// owed the reply of a call whose context had ended, or for 3 s while
	// it owed any reply, and the connection was closed. A command that may run twice (GET, MGET, SET without NX,
	// PEXPIRE) is sent again on another connection instead; a call whose
	// own context ended reports its context's error instead.
	ErrStalled = errors.New(prefix + "server stalled, connection closed")

	// ErrStatefulCommand reports a command that would change the state of a
	// connection other calls share, which radix's implicit pipelining makes
	// unsafe: SELECT, SUBSCRIBE and its kin, MONITOR, QUIT, RESET,
	// CLIENT REPLY, and MULTI or WATCH sent alone through [Driver.Do]. Use
	// [Driver.Subscribe] for pub/sub, a database number in the URL instead
	// of SELECT, and a [Driver.Pipeline] (MULTI ... EXEC in one call) or
	// [Driver.Eval] for transactions.
	ErrStatefulCommand = errors.New(prefix + "command would change the state of a shared connection")
)

// prefix starts every error this package makes.
const prefix = "redcache/radix: "

// errBadArg is the driver's bad argument: a [conn.ErrBadArg] with the
// driver's prefix. A call given an argument it cannot send (a command
// without a name, an argument of a type [conn.Driver.Do] does not take, a
// Subscribe without channels, a nil script) returns an error wrapping it,
// so errors.Is(err, conn.ErrBadArg) holds, as with every driver.
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
