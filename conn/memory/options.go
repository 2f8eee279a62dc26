package memory

import (
	"context"
	"time"
)

// Option configures a [Driver] made by [New].
type Option func(*config)

type config struct {
	hook  func(ctx context.Context, args []string) error
	clock func() time.Time
}

// WithHook makes New's driver, and every driver [Driver.Connect] derives
// from it, call hook before each command with the command's name and
// arguments as Redis would receive them (for example "SET", key, value,
// "PX", "1500"; a typed call is shown as the command it stands for). A
// pipeline calls it once per command, Eval once per EVALSHA or EVAL sent,
// Subscribe once with "SUBSCRIBE"; commands a script runs through
// redis.call do not, since a script is atomic.
//
// The hook runs outside the driver's lock, so it may block: a test holds a
// call there to order a race deterministically (release it, or let ctx
// end). An error it returns is returned by the call, as is, without
// running the command: a test injects a failure that way.
func WithHook(hook func(ctx context.Context, args []string) error) Option {
	return func(c *config) { c.hook = hook }
}

// WithClock sets the clock that expiry follows (time.Now by default). A
// test moves a fake clock forward to expire keys without sleeping. The
// clock must be safe for concurrent use.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

func newConfig(opts []Option) config {
	c := config{clock: time.Now}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	return c
}
