package goredis

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The kinds of client a URL describes, as a bit set for the options table.
const (
	kindSingle = 1 << iota
	kindCluster
	kindSentinel

	kindAll = kindSingle | kindCluster | kindSentinel
)

// optionKind says how a query option's value is checked.
type optionKind int

const (
	optInt      optionKind = iota // an integer within [min, max]
	optDuration                   // a duration within [min, max]; a bare integer is seconds, as go-redis reads it
	optBool                       // true, false, 1 or 0
	optName                       // a non-empty string without spaces or control characters
	optSecret                     // any string; never quoted in an error
	optAddr                       // host:port; may repeat
)

// queryOption is one query parameter Open accepts.
type queryOption struct {
	kind     optionKind
	clients  int   // the kinds of client that take it
	min, max int64 // bounds of an optInt, or of an optDuration in nanoseconds
	noZero   bool  // 0 is out of range, though within [min, max]
	hint     string
}

const (
	maxConns   = 1 << 20 // pool sizes: far above any real pool, far below an overflow
	maxRetries = 1000
	maxSeconds = int64(math.MaxInt64 / int64(time.Second))
)

// queryOptions lists the options Open accepts, with the range that makes
// sense for each. go-redis reads 0 as "the default" for most of them and
// a negative duration as "no timeout"; a URL that says 0 or -1 where that
// would surprise is refused, with a hint, rather than silently read.
var queryOptions = map[string]queryOption{
	"db":       {kind: optInt, clients: kindSingle | kindSentinel, min: 0, max: math.MaxInt32},
	"protocol": {kind: optInt, clients: kindAll, min: 2, max: 3, hint: "2 or 3"},
	"client_name": {kind: optName, clients: kindAll,
		hint: "Redis refuses a client name with spaces"},
	"max_retries": {kind: optInt, clients: kindAll, min: -1, max: maxRetries, noZero: true,
		hint: "-1 for no retries; go-redis reads 0 as its default of 3, so leave the option out for that"},
	"max_redirects": {kind: optInt, clients: kindCluster, min: -1, max: maxRetries, noZero: true,
		hint: "-1 for no redirects; go-redis reads 0 as its default of 3, so leave the option out for that"},
	"dialer_retries": {kind: optInt, clients: kindCluster | kindSentinel, min: 1, max: maxRetries,
		hint: "1 for a single dial"},
	"failing_timeout_seconds": {kind: optInt, clients: kindCluster, min: 1, max: math.MaxInt32},
	"pool_size":               {kind: optInt, clients: kindAll, min: 1, max: maxConns},
	"min_idle_conns":          {kind: optInt, clients: kindAll, min: 0, max: maxConns},
	"max_idle_conns":          {kind: optInt, clients: kindAll, min: 0, max: maxConns},
	"max_active_conns": {kind: optInt, clients: kindAll, min: 0, max: maxConns,
		hint: "0 for no limit"},
	"max_concurrent_dials": {kind: optInt, clients: kindAll, min: 1, max: maxConns},

	// Timeouts must be positive: go-redis reads 0 or less in a URL as "no
	// timeout", which a typo should not turn on.
	"dial_timeout":  {kind: optDuration, clients: kindAll, min: 1, max: math.MaxInt64, hint: "a positive duration"},
	"read_timeout":  {kind: optDuration, clients: kindAll, min: 1, max: math.MaxInt64, hint: "a positive duration"},
	"write_timeout": {kind: optDuration, clients: kindAll, min: 1, max: math.MaxInt64, hint: "a positive duration"},
	"pool_timeout":  {kind: optDuration, clients: kindAll, min: 1, max: math.MaxInt64, hint: "a positive duration"},
	// Zero turns these off, which is meaningful; negative is not.
	"min_retry_backoff":        {kind: optDuration, clients: kindAll, min: 0, max: math.MaxInt64, hint: "0 for none"},
	"max_retry_backoff":        {kind: optDuration, clients: kindAll, min: 0, max: math.MaxInt64, hint: "0 for none"},
	"dialer_retry_timeout":     {kind: optDuration, clients: kindCluster | kindSentinel, min: 0, max: math.MaxInt64},
	"conn_max_idle_time":       {kind: optDuration, clients: kindAll, min: 0, max: math.MaxInt64, hint: "0 for no limit"},
	"idle_timeout":             {kind: optDuration, clients: kindSingle, min: 0, max: math.MaxInt64, hint: "0 for no limit"},
	"conn_max_lifetime":        {kind: optDuration, clients: kindAll, min: 0, max: math.MaxInt64, hint: "0 for no limit"},
	"max_conn_age":             {kind: optDuration, clients: kindSingle, min: 0, max: math.MaxInt64, hint: "0 for no limit"},
	"conn_max_lifetime_jitter": {kind: optDuration, clients: kindAll, min: 0, max: math.MaxInt64},

	"pool_fifo":                 {kind: optBool, clients: kindAll},
	"skip_verify":               {kind: optBool, clients: kindSingle | kindSentinel},
	"read_only":                 {kind: optBool, clients: kindCluster},
	"route_by_latency":          {kind: optBool, clients: kindCluster | kindSentinel},
	"route_randomly":            {kind: optBool, clients: kindCluster | kindSentinel},
	"replica_only":              {kind: optBool, clients: kindSentinel},
	"use_disconnected_replicas": {kind: optBool, clients: kindSentinel},
	"disableIdentity":           {kind: optBool, clients: kindSentinel},
	"unstable_resp3":            {kind: optBool, clients: kindSentinel},

	"master_name":    {kind: optName, clients: kindSentinel},
	"identitySuffix": {kind: optName, clients: kindSentinel},
	"username":       {kind: optSecret, clients: kindSentinel},
	"password":       {kind: optSecret, clients: kindSentinel},

	"addr": {kind: optAddr, clients: kindCluster | kindSentinel},
}

// checkQuery checks the query options of a URL for a client of the given
// kind: each must be known for that kind of client, given once (but addr),
// and hold a value in its range. The errors name the option and, but for
// secrets, the value.
func checkQuery(rawQuery string, client int) error {
	if rawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return errors.New("malformed query string")
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		vs := q[name]
		o, ok := queryOptions[name]
		if !ok || o.clients&client == 0 {
			if name == "context_timeout_enabled" {
				return errors.New("context_timeout_enabled cannot be set: Open always enables it")
			}
			return fmt.Errorf("unknown option %q for this scheme", name)
		}
		if o.kind != optAddr && len(vs) > 1 {
			return fmt.Errorf("option %s given %d times", name, len(vs))
		}
		for _, v := range vs {
			if err := o.check(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// check checks one value of the option name.
func (o queryOption) check(name, v string) error {
	bad := func(why string) error {
		msg := fmt.Sprintf("option %s=%q: %s", name, v, why)
		if o.kind == optSecret {
			msg = fmt.Sprintf("option %s: %s", name, why)
		}
		if o.hint != "" {
			msg += " (" + o.hint + ")"
		}
		return errors.New(msg)
	}
	switch o.kind {
	case optInt:
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil && errors.Is(err, strconv.ErrRange):
			return bad("out of range")
		case err != nil:
			return bad("not an integer")
		case n < o.min || n > o.max:
			return bad(fmt.Sprintf("out of range [%d, %d]", o.min, o.max))
		case n == 0 && o.noZero:
			return bad("0 is not allowed")
		}
	case optDuration:
		d, err := parseDuration(v)
		if err != nil {
			return bad(err.Error())
		}
		if int64(d) < o.min || int64(d) > o.max {
			if o.min > 0 {
				return bad("must be positive")
			}
			return bad("must not be negative")
		}
	case optBool:
		switch v {
		case "true", "false", "1", "0":
		default:
			return bad("not true, false, 1 or 0")
		}
	case optName:
		if v == "" {
			return bad("empty")
		}
		for _, r := range v {
			if r <= ' ' || r == 0x7f {
				return bad("has a space or a control character")
			}
		}
	case optSecret:
		// Any value: the server decides.
	case optAddr:
		return checkHostPort(v, true)
	}
	return nil
}

// parseDuration reads a duration as go-redis does (a bare integer is
// seconds), without its silent overflow.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > maxSeconds || n < -maxSeconds {
			return 0, errors.New("out of range")
		}
		return time.Duration(n) * time.Second, nil
	} else if errors.Is(err, strconv.ErrRange) {
		return 0, errors.New("out of range")
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		if strings.Contains(err.Error(), "invalid duration") {
			return 0, errors.New("not a duration (such as 500ms or 2s)")
		}
		return 0, errors.New("out of range")
	}
	return d, nil
}

// checkHostPort checks a host[:port] from a URL; needPort says the port
// must be there.
func checkHostPort(hp string, needPort bool) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		var ae *net.AddrError
		if !needPort && errors.As(err, &ae) && ae.Err == "missing port in address" {
			return nil
		}
		return fmt.Errorf("address %q is not host:port", hp)
	}
	if host == "" && needPort {
		return fmt.Errorf("address %q has no host", hp)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address %q: port out of range [1, 65535]", hp)
	}
	return nil
}
