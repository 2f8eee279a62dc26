package ginadapter

import (
	"errors"
	"strconv"
)

// ErrNoDriver is the error ConnectionFunc records when its chooser
// returned neither a driver nor an error.
var ErrNoDriver = errors.New("redcache/ginadapter: no driver chosen for the request")

// StatusError is an error with the HTTP status a handler should answer
// with. The JSON helpers answer a loader's error with its status when the
// error is (or wraps) a *StatusError, and with 500 otherwise.
type StatusError struct {
	Status int   // the HTTP status, 4xx or 5xx
	Err    error // the cause, whose text is the response's "error"
}

// Error returns the cause's text.
func (e *StatusError) Error() string {
	if e.Err == nil {
		return "redcache/ginadapter: status " + strconv.Itoa(e.Status)
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *StatusError) Unwrap() error { return e.Err }
