package goredis

import (
	"crypto/tls"
	"time"
)

// Option configures a [Driver] built by [New] or [Open]. It is a function,
// as in the radix and in-memory drivers; build options with the With
// functions of this package. A nil Option is ignored.
type Option func(*config)

// config is what the options set.
type config struct {
	closeClient bool
	tls         *tls.Config // for rediss:// URLs given to Open
	// subscription health: a PING every subInterval, answered within
	// subTimeout; subInterval < 0 turns the check off.
	subInterval time.Duration
	subTimeout  time.Duration
	// autoPipeline batches the commands of concurrent callers.
	autoPipeline bool
}

// The default subscription health check: a half-open subscription is
// reported lost within about 4 s, for one PING every 3 s per subscription.
const (
	DefaultSubscriptionInterval = 3 * time.Second
	DefaultSubscriptionTimeout  = time.Second
)

func newConfig(opts []Option) config {
	c := config{subInterval: DefaultSubscriptionInterval, subTimeout: DefaultSubscriptionTimeout, autoPipeline: true}
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

// WithTLSConfig sets the TLS configuration [Open] uses for rediss:// URLs
// (and rediss+cluster://, rediss+sentinel://): to trust a private
// certificate authority (RootCAs), present a client certificate, or name
// the server. The server name the URL gives (its host) is kept when cfg
// sets none, as is the URL's skip_verify. The config is cloned, not kept.
// A URL without TLS ignores it, and so does [New], whose client has its
// TLS configuration already; the radix driver's WithTLSConfig does the
// same.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) {
		if cfg != nil {
			c.tls = cfg.Clone()
		}
	}
}

// WithSubscriptionCheck sets how a subscription checks its connection:
// every interval it sends a PING through it, and when the answer has not
// come within timeout, the connection is taken for half-open (a network
// partition, a stopped server) and [conn.Subscription.Receive] returns an
// error wrapping [conn.ErrSubscriptionLost]. A lost subscription is thus
// reported within interval + timeout. The defaults are
// [DefaultSubscriptionInterval] and [DefaultSubscriptionTimeout]; an
// interval of 0 or less turns the check off, leaving only a connection
// the operating system reports broken to end a subscription. A timeout of
// 0 or less means the default. The radix driver's option of the same name
// takes the same arguments (it pings only after interval of silence).
func WithSubscriptionCheck(interval, timeout time.Duration) Option {
	return func(c *config) {
		c.subInterval = interval
		if interval <= 0 {
			c.subInterval = -1
		}
		c.subTimeout = timeout
		if timeout <= 0 {
			c.subTimeout = DefaultSubscriptionTimeout
		}
	}
}

// WithAutoPipeline turns auto-pipelining on (the default) or off. When it
// is on, the commands that concurrent callers send to one node while the
// connections the driver allows per node are busy wait together and go
// out as one go-redis pipeline as soon as one is free, so that N callers
// share a round trip instead of taking one each; a lone caller's command
// is sent at once, as without it. Every call still ends at its own
// deadline, and a call that gives up does not disturb the others of its
// batch. Get, MGet, Set, SetNX, Del, PExpire, Eval and Do are batched;
// blocking commands (BLPOP, XREAD, WAIT and the like), commands that
// change a connection's state (SELECT, MULTI, CLIENT, ...), PUBLISH on a
// cluster, subscriptions and [Driver.Pipeline] are not. A ring, and a
// client with go-redis's client-side cache, are never batched. See the
// package documentation for the measurements behind the default.
//
// Turn it off when the client's hooks must see each command on its own
// context: a batched command reaches go-redis's pipeline hooks, with the
// batch's context, not the caller's.
func WithAutoPipeline(on bool) Option {
	return func(c *config) { c.autoPipeline = on }
}
