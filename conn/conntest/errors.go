package conntest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// Errors describes a driver to [RunErrors].
type Errors struct {
	// Prefix starts the text of every error the driver makes itself, such
	// as "redcache/goredis: ". (Sentinels of package conn returned as they
	// are, such as [conn.ErrMiss] and [conn.ErrClosed], keep their own.)
	Prefix string

	// Driver returns a new driver talking to the server under test (or to
	// no server, for a driver that keeps its data in memory). RunErrors
	// closes it.
	Driver func(t *testing.T) conn.Driver

	// Open is the driver's Open, for the URL cases; nil for a driver
	// without one. Wrap a driver that takes no context.
	Open func(ctx context.Context, rawURL string) (conn.Driver, error)
}

// RunErrors checks the errors a driver makes itself, so that drivers can
// be swapped without changing how their errors are checked: each carries
// e.Prefix and wraps the sentinel of package conn it stands for, whichever
// driver made it.
//
//   - A command without a name, an argument of a type no driver sends
//     (a struct, a map, nil), in [conn.Driver.Do], [conn.Driver.Pipeline]
//     (the bad command's Err; the other commands run) and
//     [conn.Driver.Eval], a nil script, and a Subscribe without channels
//     wrap [conn.ErrBadArg], and nothing reaches Redis: the key the bad
//     SET names is still missing.
//   - Open("") wraps [conn.ErrBadURL] and says the URL is empty and asks
//     whether REDIS_URL is set; so does a blank URL. Another bad URL
//     wraps [conn.ErrBadURL] too, and Open with a context already
//     cancelled wraps [context.Canceled]; all with the prefix.
//   - A call on a closed driver wraps [conn.ErrClosed].
func RunErrors(t *testing.T, e Errors) {
	t.Helper()
	if e.Prefix == "" || e.Driver == nil {
		t.Fatal("conntest.RunErrors: Errors needs a Prefix and a Driver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)

	d := e.Driver(t)
	if d == nil {
		t.Fatal("Driver returned nil")
	}
	t.Cleanup(func() { _ = d.Close() })
	key := "conntest:" + randomHex(6) + ":badarg"
	t.Cleanup(func() { _, _ = d.Del(context.Background(), key) })

	// check reports err unless it wraps want and starts with the prefix.
	check := func(t *testing.T, what string, err, want error) {
		t.Helper()
		switch {
		case err == nil:
			t.Errorf("%s succeeded, want an error wrapping %v", what, want)
		case !errors.Is(err, want):
			t.Errorf("%s = %v, want an error wrapping %v", what, err, want)
		case !strings.HasPrefix(err.Error(), e.Prefix):
			t.Errorf("%s = %q, want it to start with %q", what, err, e.Prefix)
		}
	}

	t.Run("BadArg", func(t *testing.T) {
		bad := []struct {
			name string
			arg  any
		}{
			{"struct", struct{ X int }{1}},
			{"map", map[string]int{"a": 1}},
			{"nil", nil},
			{"slice of strings", []string{"a"}},
		}
		_, err := d.Do(ctx)
		check(t, "Do()", err, conn.ErrBadArg)
		for _, b := range bad {
			_, err := d.Do(ctx, "SET", key, b.arg)
			check(t, "Do(SET with a "+b.name+")", err, conn.ErrBadArg)
			_, err = d.Eval(ctx, conn.NewScript("return redis.call('SET', KEYS[1], ARGV[1])"), []string{key}, b.arg)
			check(t, "Eval(with a "+b.name+")", err, conn.ErrBadArg)
		}
		_, err = d.Eval(ctx, nil, nil)
		check(t, "Eval(nil script)", err, conn.ErrBadArg)

		empty, badArg, good := conn.NewCmd(), conn.NewCmd("SET", key, struct{}{}), conn.NewCmd("PING")
		if err := d.Pipeline(ctx, empty, badArg, good); err != nil {
			t.Errorf("Pipeline with bad commands = %v, want nil (only their Err set)", err)
		}
		check(t, "Pipeline's command without a name", empty.Err, conn.ErrBadArg)
		check(t, "Pipeline's command with a struct", badArg.Err, conn.ErrBadArg)
		if good.Err != nil || good.Reply != "PONG" {
			t.Errorf("the good command of the pipeline = %v, %v; want PONG", good.Reply, good.Err)
		}

		sub, err := d.Subscribe(ctx)
		if sub != nil {
			_ = sub.Close()
		}
		check(t, "Subscribe()", err, conn.ErrBadArg)

		if v, err := d.Get(ctx, key); !errors.Is(err, conn.ErrMiss) {
			t.Errorf("after the refused commands, Get = %q, %v; want a miss: a bad argument must not reach Redis", v, err)
		}
	})

	t.Run("BadURL", func(t *testing.T) {
		if e.Open == nil {
			t.Skip("the driver has no Open")
		}
		for _, u := range []string{"", "  "} {
			dd, err := e.Open(ctx, u)
			if !isNil(dd) {
				_ = dd.Close()
			}
			check(t, "Open("+`"`+u+`"`+")", err, conn.ErrBadURL)
			if err != nil && (!strings.Contains(err.Error(), "empty") || !strings.Contains(err.Error(), "REDIS_URL")) {
				t.Errorf("Open(%q) = %q, want it to say the URL is empty and ask whether REDIS_URL is set", u, err)
			}
		}
		dd, err := e.Open(ctx, "http://127.0.0.1:1")
		if !isNil(dd) {
			_ = dd.Close()
		}
		check(t, "Open(http://...)", err, conn.ErrBadURL)

		cctx, ccancel := context.WithCancel(ctx)
		ccancel()
		dd, err = e.Open(cctx, "redis://127.0.0.1:1")
		if !isNil(dd) {
			_ = dd.Close()
		}
		check(t, "Open with a cancelled context", err, context.Canceled)
	})

	t.Run("Closed", func(t *testing.T) {
		cd := e.Driver(t)
		if err := cd.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if _, err := cd.Get(ctx, key); !errors.Is(err, conn.ErrClosed) {
			t.Errorf("Get on a closed driver = %v, want an error wrapping conn.ErrClosed", err)
		}
		if _, err := cd.Do(ctx, "PING"); !errors.Is(err, conn.ErrClosed) {
			t.Errorf("Do on a closed driver = %v, want an error wrapping conn.ErrClosed", err)
		}
	})
}
