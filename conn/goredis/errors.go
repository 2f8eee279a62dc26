package goredis

import (
	"errors"

	"github.com/redcache/redcache/conn"
)

var (
	// ErrBadURL reports a URL that [Open] cannot turn into a client: an
	// unknown scheme, a malformed address, or a query option that is
	// unknown, duplicated, malformed or out of range. It wraps
	// [conn.ErrBadURL], so errors.Is(err, conn.ErrBadURL) holds too. The
	// error returned wraps it together with the cause, and never contains
	// the URL's password.
	ErrBadURL error = &wrapped{msg: "redcache: goredis: bad url", err: conn.ErrBadURL}

	// ErrBadArgs reports a call that cannot be sent: a command without
	// arguments, an argument of a type [conn.Driver.Do] does not take, or
	// a Subscribe without channels. Nothing reaches Redis.
	ErrBadArgs = errors.New("redcache: goredis: bad command arguments")
)

// wrapped is a sentinel error that wraps a more general one without
// repeating its message.
type wrapped struct {
	msg string
	err error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.err }
