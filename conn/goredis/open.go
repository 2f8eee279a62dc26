package goredis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Open returns a Driver over a new go-redis client described by rawURL.
// The driver owns the client: [Driver.Close] closes it.
//
// Open does not connect: it parses the URL and builds the client, and the
// first command dials. A server that cannot be reached is therefore no
// error of Open's but of the calls that follow (each fails at once with an
// error wrapping syscall.ECONNREFUSED, or at its deadline), and they
// succeed as soon as the server answers: a program may start while Redis
// is down. To check the server early, send a PING with [Driver.Do]. ctx
// bounds what Open does (nothing on the network); a ctx already done
// returns its error, as the radix driver's Open does. The radix driver's
// Open dials instead, and fails on a server it cannot reach.
//
// The scheme picks the kind of client:
//
//	redis://[user:password@]host[:port][/db][?option=value...]
//	rediss://...                        the same over TLS
//	unix://[user:password@]/path/to/redis.sock[?db=N&option=value...]
//	redis+cluster://[user:password@]host:port[,host:port...][?option=value...]
//	rediss+cluster://...                the same over TLS
//	redis+sentinel://[user:password@]host:port[,host:port...][/db]?master_name=NAME[&option=value...]
//	rediss+sentinel://...               the same over TLS
//
// A single node (redis, rediss, unix) is parsed by [redis.ParseURL]; the
// port defaults to 6379 and the database to 0. A cluster is given by one
// or more of its nodes, separated by commas (go-redis's addr=host:port
// query parameter works too); go-redis finds the other nodes itself. A
// Sentinel setup is given by its sentinels, separated by commas, and the
// name of the monitored master in master_name; the user and password in
// the URL are the sentinels' own, the master's go in the username and
// password query parameters, as [redis.ParseFailoverURL] reads them.
//
// The query parameters are go-redis's options in snake case, such as
// dial_timeout=2s, read_timeout=500ms, pool_size=20, client_name=web or
// protocol=3. Each option is checked before go-redis sees it: an option
// that is unknown for the scheme, given twice, malformed or out of range
// is an error (go-redis would silently take the last one given, read 0 as
// its default, read a timeout of 0 or less as none, or panic on a
// negative pool size). Timeouts must be positive, pool sizes at least 1,
// and max_retries and max_redirects -1 (none) or positive. Open always sets
// ContextTimeoutEnabled, so that a context's deadline bounds every call,
// dials through [FailFastDialer], so that a refused connection fails at
// once, and uses RESP2 unless protocol=3 asks for RESP3 (RESP2 keeps the
// server's order in map replies of [Driver.Do]).
//
// A private certificate authority, a client certificate or a server name
// for rediss:// URLs is given with [WithTLSConfig]. Anything else a URL
// cannot say (a credentials provider, hooks) is set up on a go-redis
// client given to [New].
//
// A URL Open cannot use, the empty one included, returns an error that
// wraps [ErrBadURL] (and with it [conn.ErrBadURL]); the error does not
// repeat the URL, so it never shows a password.
//
// Options: [WithTLSConfig], [WithSubscriptionCheck].
func Open(ctx context.Context, rawURL string, opts ...Option) (*Driver, error) {
	t, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf(prefix+"open: %w", err)
	}
	cfg := newConfig(opts)
	t.setTLS(cfg.tls)
	client := t.client()
	d := New(client, opts...)
	d.owns = true
	return d, nil
}

// errEmptyURL is the cause of Open's error for an empty URL, which is
// most often an environment variable that was not set.
var errEmptyURL = errors.New("the URL is empty (is REDIS_URL set?)")

const schemes = "redis://, rediss://, unix://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel://"

// target is a parsed URL: the options of exactly one kind of client.
type target struct {
	single   *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions
	// dial is what the client's Dialer reads its TLS configuration from
	// when it dials: single itself, or options of the Dialer's own.
	dial *redis.Options
}

// setTLS makes a target whose URL asks for TLS (rediss) use a clone of
// tc. The server name and the skip_verify of the URL are kept when tc
// sets neither. A nil tc, or a URL without TLS, leaves t as it is.
func (t target) setTLS(tc *tls.Config) {
	if tc == nil || t.dial == nil || t.dial.TLSConfig == nil {
		return
	}
	parsed := t.dial.TLSConfig
	c := tc.Clone()
	if c.ServerName == "" {
		c.ServerName = parsed.ServerName
	}
	if parsed.InsecureSkipVerify {
		c.InsecureSkipVerify = true
	}
	t.dial.TLSConfig = c
	switch {
	case t.single != nil:
		t.single.TLSConfig = c
	case t.cluster != nil:
		t.cluster.TLSConfig = c
	case t.failover != nil:
		t.failover.TLSConfig = c
	}
}

// client builds the go-redis client of t.
func (t target) client() redis.UniversalClient {
	switch {
	case t.cluster != nil:
		return redis.NewClusterClient(t.cluster)
	case t.failover != nil:
		return redis.NewFailoverClient(t.failover)
	}
	return redis.NewClient(t.single)
}

// parseURL reads rawURL into the options of a go-redis client, with the
// settings Open adds: ContextTimeoutEnabled, FailFastDialer, and RESP2
// unless the URL asks for a protocol. Its errors never show a password.
func parseURL(rawURL string) (target, error) {
	t, err := parseURLOptions(rawURL)
	if err != nil && showsSecret(err.Error(), rawURL) {
		err = fmt.Errorf("%w: malformed (the details would show the password)", ErrBadURL)
	}
	return t, err
}

// minSecret is the length from which a password is looked for in error
// messages; a shorter one would be found in ordinary words.
const minSecret = 4

// showsSecret reports whether msg contains a password of rawURL: the one
// in its user information or a password query option, as written or
// decoded.
func showsSecret(msg, rawURL string) bool {
	var secrets []string
	_, rest, _ := strings.Cut(rawURL, "://")
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		if _, pw, ok := strings.Cut(rest[:i], ":"); ok {
			secrets = append(secrets, pw)
		}
	}
	if _, q, ok := strings.Cut(rawURL, "?"); ok {
		for _, kv := range strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' || r == '#' }) {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.Contains(strings.ToLower(k), "password") {
				secrets = append(secrets, v)
			}
		}
	}
	for _, s := range secrets {
		forms := []string{s}
		if u, err := url.PathUnescape(s); err == nil {
			forms = append(forms, u)
		}
		if u, err := url.QueryUnescape(s); err == nil {
			forms = append(forms, u)
		}
		for _, f := range forms {
			if len(f) >= minSecret && strings.Contains(msg, f) {
				return true
			}
		}
	}
	return false
}

// parseURLOptions does parseURL's work.
func parseURLOptions(rawURL string) (target, error) {
	if strings.TrimSpace(rawURL) == "" {
		return target{}, badURL(errEmptyURL)
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return target{}, badURL(errors.New("no scheme; use " + schemes))
	}
	base, kind, _ := strings.Cut(strings.ToLower(scheme), "+")
	switch {
	case (base == "redis" || base == "rediss") && (kind == "" || kind == "cluster" || kind == "sentinel"):
	case base == "unix" && kind == "":
	default:
		return target{}, badURL(fmt.Errorf("unknown scheme %q; use %s", scheme, schemes))
	}

	// The authority ends where url.Parse ends it; its hosts are listed
	// after the last '@'.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hostlist := "", authority
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, hostlist = authority[:i+1], authority[i+1:]
	}
	hosts := strings.Split(hostlist, ",")
	if len(hosts) > 1 {
		if kind == "" {
			return target{}, badURL(errors.New("several addresses need redis+cluster:// or redis+sentinel://"))
		}
		for _, h := range hosts {
			if h == "" {
				return target{}, badURL(errors.New("empty address in the list of hosts"))
			}
		}
	}
	if base != "unix" {
		for _, h := range hosts {
			if err := checkHostPort(h, false); err != nil {
				return target{}, badURL(err)
			}
		}
	}
	client := kindSingle
	switch kind {
	case "cluster":
		client = kindCluster
	case "sentinel":
		client = kindSentinel
	}
	query, _, _ := strings.Cut(tail, "#")
	_, query, _ = strings.Cut(query, "?")
	if err := checkQuery(query, client); err != nil {
		return target{}, badURL(err)
	}
	single := base + "://" + userinfo + hosts[0] + tail

	switch kind {
	case "":
		o, err := redis.ParseURL(single)
		if err != nil {
			return target{}, badURL(err)
		}
		if err := checkDB(o.DB); err != nil {
			return target{}, err
		}
		o.ContextTimeoutEnabled = true
		if o.Protocol == 0 {
			o.Protocol = 2
		}
		o.Dialer = FailFastDialer(redis.NewDialer(o))
		return target{single: o, dial: o}, nil

	case "cluster":
		u, err := withAddrs(single, hosts[1:])
		if err != nil {
			return target{}, err
		}
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return target{}, badURL(errors.New("a cluster has no database but 0; drop the path"))
		}
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return target{}, badURL(err)
		}
		o.ContextTimeoutEnabled = true
		if o.Protocol == 0 {
			o.Protocol = 2
		}
		dial := &redis.Options{DialTimeout: o.DialTimeout, TLSConfig: o.TLSConfig}
		o.Dialer = FailFastDialer(redis.NewDialer(dial))
		return target{cluster: o, dial: dial}, nil

	default: // "sentinel"
		u, err := withAddrs(single, hosts[1:])
		if err != nil {
			return target{}, err
		}
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return target{}, badURL(err)
		}
		if err := checkDB(o.DB); err != nil {
			return target{}, err
		}
		if o.MasterName == "" {
			return target{}, badURL(errors.New("a sentinel URL needs master_name=NAME"))
		}
		o.ContextTimeoutEnabled = true
		if o.Protocol == 0 {
			o.Protocol = 2
		}
		dial := &redis.Options{DialTimeout: o.DialTimeout, TLSConfig: o.TLSConfig}
		o.Dialer = FailFastDialer(redis.NewDialer(dial))
		return target{failover: o, dial: dial}, nil
	}
}

// checkDB checks a database number, which go-redis takes from the path
// without a range check.
func checkDB(db int) error {
	if db < 0 || db > math.MaxInt32 {
		return badURL(fmt.Errorf("database %d out of range", db))
	}
	return nil
}

// withAddrs parses rawURL and adds hosts to it as go-redis's addr query
// parameters, ahead of those it has.
func withAddrs(rawURL string, hosts []string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, badURL(err)
	}
	if len(hosts) > 0 {
		q := u.Query()
		q["addr"] = append(slices.Clone(hosts), q["addr"]...)
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// badURL wraps err in ErrBadURL, leaving out the URL that url.Parse puts in
// its errors, which may hold a password.
func badURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%w: %w", ErrBadURL, err)
}
