package radix

import (
	"crypto/tls"
	"time"

	rdx "github.com/mediocregopher/radix/v4"
)

// Option configures a [Driver] built by [New] or [Open]. It is a function,
// as in the go-redis and in-memory drivers; build options with the With
// functions of this package. A nil Option is ignored.
type Option func(*config)

type config struct {
	own        bool
	poolSize   int
	dialer     rdx.Dialer
	tls        *tls.Config
	flushEvery time.Duration
	noAuto     bool // auto-pipelining off
	// subscription health: a PING after subInterval of silence, answered
	// within subTimeout; 0 means the default, and subInterval < 0 turns
	// the check off.
	subInterval time.Duration
	subTimeout  time.Duration
}

// The default subscription health check: a subscription silent for 1 s
// sends a PING, and one with no answer 1 s later is reported lost, so a
// half-open subscription is reported within about 2 s, for no PING at all
// while messages flow.
const (
	DefaultSubscriptionInterval = time.Second
	DefaultSubscriptionTimeout  = time.Second
)

// subCheck returns the subscription check's interval (0 when off) and
// timeout.
func (c config) subCheck() (interval, timeout time.Duration) {
	interval, timeout = c.subInterval, c.subTimeout
	switch {
	case interval < 0:
		interval = 0
	case interval == 0:
		interval = DefaultSubscriptionInterval
	}
	if timeout <= 0 {
		timeout = DefaultSubscriptionTimeout
	}
	return interval, timeout
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

// WithOwnedClient makes the driver own the client given to [New]: its
// Close then closes the client too. Without it Close leaves the client
// open, for the caller to close when it is done with it. A driver from
// [Open] always owns its client.
func WithOwnedClient() Option {
	return func(c *config) { c.own = true }
}

// WithPoolSize sets how many shared connections [Open] keeps to each
// server (each primary, on a cluster), and how many blocking commands
// (BLPOP and the like) may run on it at once. The default is 4: since
// concurrent calls share connections (implicit pipelining), a small pool
// carries a high load. A pool_size parameter in the URL takes precedence.
// [New] ignores it: the client given to it has its pool already.
func WithPoolSize(n int) Option {
	return func(c *config) { c.poolSize = n }
}

// WithDialer sets the radix Dialer used for the connections the driver
// makes: all of them with [Open] (the URL's user, password, database and
// protocol are set on a copy of it), and with [New] the connection of each
// [Driver.Subscribe], which cannot come from the client's pool. With New,
// give the Dialer the client's pool was built with when it authenticates,
// selects a database or uses TLS; the default is the zero Dialer.
func WithDialer(d rdx.Dialer) Option {
	return func(c *config) { c.dialer = d }
}

// WithTLSConfig sets the TLS configuration [Open] uses for rediss:// URLs
// (and rediss+cluster://, rediss+sentinel://): to trust a private
// certificate authority (RootCAs), present a client certificate, or name
// the server (by default the host of each address is checked against the
// server's certificate). The URL's skip_verify still applies. The config
// is cloned, not kept. A URL without TLS ignores it, and so does [New],
// whose client has its dialer already (give it [WithDialer]); the go-redis
// driver's WithTLSConfig does the same.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) {
		if cfg != nil {
			c.tls = cfg.Clone()
		}
	}
}

// WithWriteFlushInterval makes the connections of [Open] gather the writes
// of concurrent calls for up to d before flushing them to the network in
// one system call (radix's Dialer.WriteFlushInterval). Under heavy
// concurrency a value around 100-200µs raises throughput at the cost of up
// to d of latency per call; the default 0 flushes every call at once,
// which still shares connections between concurrent calls.
func WithWriteFlushInterval(d time.Duration) Option {
	return func(c *config) { c.flushEvery = d }
}

// WithAutoPipeline turns auto-pipelining on (the default) or off for the
// pools of [Open]: with it on, the commands of concurrent callers that
// find the connection busy are sent together as one batch (see the
// package documentation). Off, every call goes through radix's Conn on
// its own, which still shares connections (implicit pipelining). [New]
// ignores it: the client given to it has its pool already.
func WithAutoPipeline(on bool) Option {
	return func(c *config) { c.noAuto = !on }
}

// WithSubscriptionCheck sets how a subscription finds out that its
// connection is half open (a server that stopped, a network that drops
// packets without a reset), which a pub/sub connection, waiting for
// messages that may never come, would not notice by itself. While
// [conn.Subscription.Receive] waits and nothing has arrived for interval,
// it sends a PING on the subscription's connection; when nothing (neither
// the answer nor a message) arrives within timeout, the connection is
// closed and Receive returns an error wrapping [conn.ErrSubscriptionLost].
// A lost connection is thus reported within about interval + timeout of
// going silent. The defaults are [DefaultSubscriptionInterval] and
// [DefaultSubscriptionTimeout]; an interval of 0 or less turns the check
// off (Receive then waits on a silent connection until its context ends,
// or the operating system reports it broken), and a timeout of 0 or less
// means the default. The go-redis driver's option of the same name takes
// the same arguments (it pings every interval, traffic or not).
func WithSubscriptionCheck(interval, timeout time.Duration) Option {
	return func(c *config) {
		c.subInterval = interval
		if interval <= 0 {
			c.subInterval = -1
		}
		c.subTimeout = timeout
	}
}
