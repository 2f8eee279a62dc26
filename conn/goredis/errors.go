package goredis

import "errors"

var (
	// ErrBadURL reports a URL that [Open] cannot turn into a client: an
	// unknown scheme, a malformed address or an unknown query parameter.
	// The error returned wraps it together with the cause.
	ErrBadURL = errors.New("redcache: goredis: bad url")

	// ErrBadArgs reports a call that cannot be sent: a command without
	// arguments, an argument of a type [conn.Driver.Do] does not take, or
	// a Subscribe without channels. Nothing reaches Redis.
	ErrBadArgs = errors.New("redcache: goredis: bad command arguments")
)
