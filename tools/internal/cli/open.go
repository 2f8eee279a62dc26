// Package cli holds what the redcache command and its demo share: opening
// a Redis named by a URL, with either driver, and checking that it
// answers.
package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
)

var (
	// ErrBadURL reports a URL the driver cannot use: a mistake of the
	// user's, which the redcache command reports as a usage error.
	ErrBadURL = errors.New("bad Redis URL")

	// ErrUnreachable reports a Redis that did not answer a PING in time
	// (or refused it).
	ErrUnreachable = errors.New("cannot reach Redis")

	// ErrUnknownDriver reports a driver name other than those of Drivers.
	ErrUnknownDriver = errors.New("unknown driver")
)

// Drivers are the driver names Open takes; the first is the default.
var Drivers = []string{"goredis", "radix"}

// ConnectTimeout bounds Open: dialling (radix dials up front) and the
// PING that checks the server.
const ConnectTimeout = 3 * time.Second

// Open opens the Redis that rawURL names with the driver called driver
// ("goredis", the default when empty, or "radix") and PINGs it, all within
// ConnectTimeout. Errors match ErrBadURL, ErrUnreachable or
// ErrUnknownDriver, and carry a one-line message that names the server
// without its password. The caller closes the driver.
func Open(ctx context.Context, driver, rawURL string) (conn.Driver, error) {
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	where := Redact(rawURL)
	var d conn.Driver
	switch driver {
	case "", "goredis":
		quietGoRedis.Do(func() { redis.SetLogger(discard{}) })
		gd, err := goredis.Open(ctx, rawURL)
		if errors.Is(err, goredis.ErrBadURL) {
			return nil, fmt.Errorf("%w: %s", ErrBadURL, strings.TrimPrefix(err.Error(), goredis.ErrBadURL.Error()+": "))
		}
		if err != nil {
			return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, where, err)
		}
		d = gd
	case "radix":
		rd, err := radix.Open(ctx, rawURL)
		if errors.Is(err, radix.ErrBadURL) {
			return nil, fmt.Errorf("%w: %s", ErrBadURL, strings.TrimPrefix(err.Error(), radix.ErrBadURL.Error()+": "))
		}
		if err != nil {
			return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, where, unwrapOpen(err))
		}
		d = rd
	default:
		return nil, fmt.Errorf("%w %q: want %s", ErrUnknownDriver, driver, strings.Join(Drivers, " or "))
	}
	if _, err := d.Do(ctx, "PING"); err != nil {
		_ = d.Close()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, fmt.Errorf("%w at %s: no answer to PING within %s", ErrUnreachable, where, ConnectTimeout)
		}
		return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, where, err)
	}
	return d, nil
}

// unwrapOpen drops the "redcache/radix: open URL:" that radix puts before
// a dial error, since the message names the server already.
func unwrapOpen(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// Redact returns rawURL with its password replaced by "xxxxx", for
// messages. It works on the text, because url.Parse refuses the host
// lists of cluster URLs (redis+cluster://h1,h2).
func Redact(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "(a URL without a scheme)"
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return rawURL
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return rawURL
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// quietGoRedis silences go-redis's own logger, which prints every failed
// dial on stderr: a command prints one clear line for the error instead.
var quietGoRedis sync.Once

// discard is a go-redis logger that prints nothing.
type discard struct{}

// Printf implements go-redis's internal.Logging.
func (discard) Printf(context.Context, string, ...any) {}
