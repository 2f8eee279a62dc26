package radix

import "errors"

var (
	// ErrBadURL reports a URL that [Open] cannot use: an unknown scheme, a
	// malformed address, port or database number, or an unknown or invalid
	// query parameter. The error wrapping it says which.
	ErrBadURL = errors.New("redcache/radix: bad redis URL")

	// ErrStalled reports a call that failed because the server stalled
	// (CLIENT PAUSE, DEBUG SLEEP, a stopped process, a network partition):
	// a call on its connection outlived its deadline, and the connection
	// was closed to release the calls queued on it. A call whose own
	// context ended reports its context's error instead.
	ErrStalled = errors.New("redcache/radix: server stalled, connection closed")

	// ErrBadArg reports a command argument of a type the driver does not
	// send. [Driver.Do], [Driver.Pipeline] and [Driver.Eval] take string,
	// []byte, integer and float types (and types defined on them), bool and
	// time.Duration.
	ErrBadArg = errors.New("redcache/radix: unsupported argument type")

	// ErrStatefulCommand reports a command that would change the state of a
	// connection other calls share, which radix's implicit pipelining makes
	// unsafe: SELECT, SUBSCRIBE and its kin, MONITOR, QUIT, RESET,
	// CLIENT REPLY, and MULTI or WATCH sent alone through [Driver.Do]. Use
	// [Driver.Subscribe] for pub/sub, a database number in the URL instead
	// of SELECT, and a [Driver.Pipeline] (MULTI ... EXEC in one call) or
	// [Driver.Eval] for transactions.
	ErrStatefulCommand = errors.New("redcache/radix: command would change the state of a shared connection")
)
