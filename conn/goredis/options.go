package goredis

// Option configures a [Driver] built by [New] or [Open]. Build options with
// the With functions of this package; a nil Option is ignored.
type Option func(*config)

// config is what the options set.
type config struct {
	closeClient bool
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithOwnedClient makes [Driver.Close] close the go-redis client given to
// [New] as well, handing its ownership to the driver. Without it the
// client stays open: it belongs to the caller, who may share it with other
// code. A driver from [Open] always owns and closes its client.
func WithOwnedClient() Option {
	return func(c *config) { c.closeClient = true }
}
