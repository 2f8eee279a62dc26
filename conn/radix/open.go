package radix

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/mediocregopher/radix/v4/resp"
)

// Open connects to the Redis that rawURL names and returns a driver that
// owns the connections: [Driver.Close] closes them.
//
// Open dials before it returns (radix makes a pool's first connection, and
// a cluster's topology, up front), bounded by ctx: a server that cannot be
// reached is Open's error (the dial error, or ctx's when it ends first),
// so a program that must start while Redis is down retries Open. The
// go-redis driver's Open connects lazily instead: it does no I/O, and its
// first calls fail until the server answers. A ctx already done returns
// its error, after the URL is checked, in both.
//
// The URL forms, after those of redis-cli and go-redis:
//
//	redis://[[user]:password@]host[:port][/db][?param=value&...]
//	rediss://...                       the same, over TLS
//	unix://[[user]:password@]/path/to/redis.sock[?db=N&...]
//
// The driver's connections come from a pool of this package rather than
// radix's own, which can leave calls blocked after a Redis restart (see
// [New]). Like radix's, it shares a few connections per server between
// concurrent calls, and gives blocking commands connections of their own
// (as many at once as the pool size); unlike it, it checks a connection
// whose call was cancelled instead of closing it under the other calls,
// wakes every waiting call when a connection comes back, fails calls at
// once with the dial error while the server cannot be reached, and
// returns a call whose context ended at once, leaving its reply to be read
// and dropped, so that neither a stalled server nor one caller giving up
// holds or fails the calls queued with it (a connection silent for a
// second while it owes such a reply is closed and redialled).
//
// The port defaults to 6379 and the host to localhost. A cluster is named
// by several addresses, either as go-redis's ParseClusterURL takes them,
//
//	redis://[user:password@]host1:port?addr=host2:port&addr=host3:port
//
// or as a comma-separated list, redis://host1:port,host2:port, or by one
// address and cluster=true, or, as the go-redis driver takes it, with the
// redis+cluster:// (rediss+cluster:// for TLS) scheme:
//
//	redis+cluster://[user:password@]host1:port[,host2:port...]
//
// Any one reachable node is enough: the others
// are found through CLUSTER SLOTS. A cluster has no database but 0.
//
// A primary watched by Redis Sentinel is named by its sentinels and its
// name, as the go-redis driver takes it:
//
//	redis+sentinel://[user:password@]host:port[,host:port...][/db]?master_name=NAME[&username=U&password=P]
//	rediss+sentinel://...              the same, over TLS
//
// The user and password before the host are the sentinels'; the primary's
// go in the username and password parameters. The driver follows the
// primary across failovers (radix's Sentinel client).
//
// Query parameters:
//
//	addr=host:port     another cluster node or sentinel (repeatable)
//	cluster=true       a cluster, even with one address
//	db=N               the database, for unix:// (redis:// has it in the path)
//	pool_size=N        connections per server, 1 to 1024 (see WithPoolSize)
//	protocol=2|3       RESP version, sent with HELLO (default: RESP2, no HELLO)
//	skip_verify=true   rediss:// without certificate verification (tests only)
//	master_name=NAME   the primary's name, with redis+sentinel:// (required)
//	username=, password=  the primary's credentials, with redis+sentinel://
//
// A URL that is empty, does not parse, names an address twice, or carries
// a parameter that is unknown, repeated (but addr), empty or out of range,
// returns an error wrapping [ErrBadURL] (and with it
// [github.com/redcache/redcache/conn.ErrBadURL]),
// which never contains the password; a [WithPoolSize] out of range
// returns one wrapping [conn.ErrBadArg]; a server that cannot be reached
// returns the dial error.
//
// Options: [WithPoolSize], [WithDialer], [WithTLSConfig],
// [WithWriteFlushInterval], [WithSubscriptionCheck], [WithAutoPipeline].
func Open(ctx context.Context, rawURL string, opts ...Option) (*Driver, error) {
	cfg := newConfig(opts)
	if cfg.poolSize < 0 || cfg.poolSize > maxPoolSize {
		return nil, fmt.Errorf("%w: WithPoolSize(%d): want 1 to %d, or 0 for the default", errBadArg, cfg.poolSize, maxPoolSize)
	}
	sp, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf(prefix+"open: %w", err)
	}

	base := cfg.dialer
	if cfg.flushEvery > 0 {
		base.WriteFlushInterval = cfg.flushEvery
	}
	if base.NewRespOpts == nil {
		base.NewRespOpts = newRespOpts
	}
	if sp.tls {
		tc := cfg.tls
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if sp.skipVerify {
			tc = tc.Clone()
			tc.InsecureSkipVerify = true //nolint:gosec // asked for by the URL
		}
		var inner netDialer = &net.Dialer{}
		if base.NetDialer != nil {
			inner = base.NetDialer
		}
		base.NetDialer = tlsDialer{inner: inner, cfg: tc}
	}
	// The dialer of the data connections; with sentinel, the URL's
	// credentials are the sentinels', and the master's come in the query.
	dialer := base
	user, pass := sp.user, sp.pass
	if sp.sentinel {
		user, pass = sp.masterUser, sp.masterPass
	}
	if user != "" || pass != "" {
		dialer.AuthUser, dialer.AuthPass = user, pass
	}
	if sp.db > 0 {
		dialer.SelectDB = strconv.Itoa(sp.db)
	}
	if sp.protocol != "" {
		dialer.Protocol = sp.protocol
	}
	size := cfg.poolSize
	if sp.poolSize > 0 {
		size = sp.poolSize
	}
	lanes := lanesPerNode
	if cfg.noAuto {
		lanes = 0
	}
	pc := rdx.PoolConfig{
		CustomPool: func(ctx context.Context, network, addr string) (rdx.Client, error) {
			return newPool(ctx, network, addr, dialer, size, lanes)
		},
	}

	var client Client
	switch {
	case sp.cluster:
		client, err = rdx.ClusterConfig{PoolConfig: pc}.New(ctx, sp.addrs)
	case sp.sentinel:
		sd := base
		if sp.user != "" || sp.pass != "" {
			sd.AuthUser, sd.AuthPass = sp.user, sp.pass
		}
		client, err = rdx.SentinelConfig{PoolConfig: pc, SentinelDialer: sd}.New(ctx, sp.master, sp.addrs)
	default:
		client, err = pc.New(ctx, sp.network, sp.addrs[0])
	}
	if err != nil {
		// A refused login (WRONGPASS, NOAUTH, NOPERM) is Redis's answer:
		// keep it a *conn.ReplyError, as on every other call.
		if re := replyOf(err); re != nil {
			err = fmt.Errorf("%w (%w)", re, err)
		}
		return nil, fmt.Errorf(prefix+"open %s: %w", redact(rawURL), err)
	}
	cfg.own = true
	cfg.dialer = dialer
	return newDriver(client, cfg, &subscriptions{}), nil
}

// spec is what a URL asks for.
type spec struct {
	network    string // "tcp" or "unix"
	addrs      []string
	cluster    bool
	sentinel   bool
	master     string // the master's name, with sentinel
	tls        bool
	skipVerify bool
	user, pass string // a sentinel's credentials, with sentinel
	masterUser string // the master's credentials, with sentinel
	masterPass string
	db         int
	protocol   string
	poolSize   int
}

// maxPoolSize bounds pool_size and WithPoolSize: a pool keeps that many
// connections per server, and a typo of a few digits must not ask for
// millions.
const maxPoolSize = 1024

func badURL(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadURL}, args...)...)
}

// redact returns rawURL without its password, for error messages.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// parseURL parses an Open URL. Its errors never show the password: they
// name parameters and quote values other than the credentials.
func parseURL(rawURL string) (*spec, error) {
	if strings.TrimSpace(rawURL) == "" {
		return nil, badURL("the URL is empty (is REDIS_URL set?)")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password included
		}
		return nil, badURL("%v", err)
	}
	sp := &spec{network: "tcp"}
	kind := "" // "cluster" or "sentinel", from the scheme
	switch u.Scheme {
	case "redis":
	case "rediss":
		sp.tls = true
	case "redis+cluster", "redis+sentinel":
		kind = strings.TrimPrefix(u.Scheme, "redis+")
	case "rediss+cluster", "rediss+sentinel":
		sp.tls, kind = true, strings.TrimPrefix(u.Scheme, "rediss+")
	case "unix":
		sp.network = "unix"
	case "":
		return nil, badURL("no scheme (want %s)", schemes)
	default:
		return nil, badURL("unknown scheme %q (want %s)", u.Scheme, schemes)
	}
	sp.sentinel = kind == "sentinel"
	if u.Opaque != "" {
		return nil, badURL("%s: URL must start with %s://", u.Scheme, u.Scheme)
	}
	if u.User != nil {
		sp.user = u.User.Username()
		sp.pass, _ = u.User.Password()
	}
	if u.Fragment != "" || strings.HasSuffix(rawURL, "#") {
		return nil, badURL("unexpected fragment")
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, badURL("query: %v", err)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names) // the same URL, the same error
	clusterParam := ""
	for _, name := range names {
		vals := q[name]
		if len(vals) > 1 && name != "addr" {
			return nil, badURL("parameter %q given %d times", name, len(vals))
		}
		v := vals[0]
		switch name {
		case "addr":
		case "cluster":
			if v == "" {
				return nil, badURL("cluster: empty (want true or false)")
			}
			clusterParam = v
		case "db":
			if sp.network != "unix" {
				return nil, badURL("db: give the database in the path, redis://host:port/%s", v)
			}
			if sp.db, err = parseDB(v); err != nil {
				return nil, err
			}
		case "pool_size":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxPoolSize {
				return nil, badURL("pool_size %q: want an integer from 1 to %d", v, maxPoolSize)
			}
			sp.poolSize = n
		case "protocol":
			if v != "2" && v != "3" {
				return nil, badURL("protocol %q: want 2 or 3", v)
			}
			sp.protocol = v
		case "skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, badURL("skip_verify %q: want true or false", v)
			}
			if b && !sp.tls {
				return nil, badURL("skip_verify applies to rediss:// only")
			}
			sp.skipVerify = b
		case "master_name", "username", "password":
			if !sp.sentinel {
				return nil, badURL("%s applies to redis+sentinel:// only", name)
			}
			switch name {
			case "master_name":
				if v == "" {
					return nil, badURL("master_name: empty")
				}
				sp.master = v
			case "username":
				sp.masterUser = v
			default:
				sp.masterPass = v
			}
		default:
			return nil, badURL("unknown parameter %q", name)
		}
	}

	if sp.network == "unix" {
		if u.Host != "" {
			return nil, badURL("unix: want unix:///path/to/socket, got a host")
		}
		if u.Path == "" || u.Path == "/" {
			return nil, badURL("unix: no socket path")
		}
		if len(q["addr"]) > 0 || clusterParam != "" {
			return nil, badURL("unix: a socket cannot name a cluster")
		}
		sp.addrs = []string{u.Path}
		return sp, nil
	}

	seen := make(map[string]bool)
	add := func(h string) error {
		addr, err := hostPort(h)
		if err != nil {
			return err
		}
		if seen[addr] {
			return badURL("address %q given twice", addr)
		}
		seen[addr] = true
		sp.addrs = append(sp.addrs, addr)
		return nil
	}
	for _, h := range strings.Split(u.Host, ",") {
		if err := add(h); err != nil {
			return nil, err
		}
	}
	for _, h := range q["addr"] {
		if h == "" {
			return nil, badURL("addr: empty")
		}
		if err := add(h); err != nil {
			return nil, err
		}
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		if sp.db, err = parseDB(p); err != nil {
			return nil, err
		}
	}
	if sp.sentinel {
		if sp.master == "" {
			return nil, badURL("a sentinel URL needs master_name=NAME")
		}
		if clusterParam != "" {
			return nil, badURL("cluster: not with redis+sentinel://")
		}
		return sp, nil
	}
	sp.cluster = len(sp.addrs) > 1 || kind == "cluster"
	if clusterParam != "" {
		b, err := strconv.ParseBool(clusterParam)
		if err != nil {
			return nil, badURL("cluster %q: want true or false", clusterParam)
		}
		if !b && sp.cluster {
			return nil, badURL("cluster=false with %d addresses or redis+cluster://", len(sp.addrs))
		}
		sp.cluster = b
	}
	if sp.cluster && sp.db != 0 {
		return nil, badURL("database %d: a cluster has database 0 only", sp.db)
	}
	return sp, nil
}

// schemes lists the URL schemes Open takes, for error messages.
const schemes = "redis://, rediss://, unix://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel://"

func parseDB(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, badURL("database %q: want an integer from 0 to %d", s, math.MaxInt32)
	}
	return int(n), nil
}

// hostPort completes host[:port] to host:port, with localhost and 6379 as
// the defaults.
func hostPort(h string) (string, error) {
	if h == "" {
		return "localhost:6379", nil
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: a bare name, IPv4 or bracketed IPv6 address.
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), "6379"
		if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && !strings.HasPrefix(h, "[")) {
			return "", badURL("address %q", h)
		}
	}
	if host == "" {
		host = "localhost"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", badURL("port %q in %q", port, h)
	}
	return net.JoinHostPort(host, port), nil
}

// netDialer is what radix's Dialer.NetDialer holds.
type netDialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// tlsDialer dials with inner and runs a TLS handshake over the connection.
// When cfg names no server, each connection checks the host it dialled,
// so one config serves every node of a cluster.
type tlsDialer struct {
	inner netDialer
	cfg   *tls.Config
}

// DialContext implements radix's Dialer.NetDialer.
func (t tlsDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := t.inner.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := t.cfg
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return tc, nil
}

// connBuffer is the size of the read and write buffers of the connections
// Open makes (radix's default is bufio's 4 KiB). A batch of 20 replies of
// 1 KiB, which auto-pipelining makes under load, is read in one system
// call instead of five; go-redis's buffers are 32 KiB too.
const connBuffer = 32 << 10

// newRespOpts is the Dialer's NewRespOpts of the connections Open makes,
// unless WithDialer gives one: radix's options with connBuffer-sized
// buffers.
func newRespOpts() *resp.Opts {
	o := resp.NewOpts()
	o.GetBufferedReader = func(r io.Reader) resp.BufferedReader { return bufio.NewReaderSize(r, connBuffer) }
	o.GetBufferedWriter = func(w io.Writer) resp.BufferedWriter { return bufio.NewWriterSize(w, connBuffer) }
	return o
}
