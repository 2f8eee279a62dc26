package core_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/redcache/redcache/core"
)

// A Redis that is full refuses every write, and every call reports it.
// Logged through ThrottleErrors, at most 2 reports of a kind pass per
// minute; the next one to pass says how many were dropped.
func ExampleThrottleErrors() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // a stable output for the example
			}
			return a
		},
	}))
	handler := core.ThrottleErrors(core.LogErrors(logger), time.Minute, 2)
	_ = core.New(core.WithErrorHandler(handler)) // how it is given to a Manager

	oom := errors.New("OOM command not allowed when used memory > 'maxmemory'")
	for range 5 {
		handler(context.Background(), &core.Error{Op: core.OpSave, Name: "users.get", Key: "cache:users.get:i42", Err: oom})
	}
	// Output:
	// level=WARN msg="redcache: cache trouble" op=save func=users.get key=cache:users.get:i42 error="OOM command not allowed when used memory > 'maxmemory'"
	// level=WARN msg="redcache: cache trouble" op=save func=users.get key=cache:users.get:i42 error="OOM command not allowed when used memory > 'maxmemory'"
}
