package conntest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/redcache/redcache/conn"
)

// BadURL is one connection URL that every driver's Open must refuse.
type BadURL struct {
	// Name says what is wrong with the URL; it names the subtest.
	Name string
	// URL is the URL given to Open. Its host is a loopback port nothing
	// listens on, so a driver that wrongly accepts the URL and dials gets
	// a refusal, not ErrBadURL.
	URL string
	// Secret, when not empty, is the URL's password: it must not appear
	// in the error.
	Secret string
}

// secret is the password in the BadURLs that carry one.
const secret = "s3cretPW"

// BadURLs are the URL forms every driver refuses with an error wrapping
// [conn.ErrBadURL]: the options both drivers take (pool_size, protocol,
// the database in the path) with negative, zero, overflowing, non-numeric,
// empty and duplicated values; unknown options; bad schemes and ports;
// malformed escapes. Several carry a password, which the error must never
// show. A driver adds its own cases (its own options, fuzzing) in its own
// tests.
var BadURLs = []BadURL{
	// pool_size
	{Name: "pool_size negative", URL: "redis://user:" + secret + "@127.0.0.1:1/?pool_size=-3", Secret: secret},
	{Name: "pool_size zero", URL: "redis://127.0.0.1:1/?pool_size=0"},
	{Name: "pool_size overflowing", URL: "redis://127.0.0.1:1/?pool_size=99999999999999999999"},
	{Name: "pool_size huge", URL: "redis://127.0.0.1:1/?pool_size=9223372036854775807"},
	{Name: "pool_size not a number", URL: "redis://:" + secret + "@127.0.0.1:1/?pool_size=ten", Secret: secret},
	{Name: "pool_size fraction", URL: "redis://127.0.0.1:1/?pool_size=1.5"},
	{Name: "pool_size empty", URL: "redis://127.0.0.1:1/?pool_size="},
	{Name: "pool_size duplicated", URL: "redis://user:" + secret + "@127.0.0.1:1/?pool_size=2&pool_size=3", Secret: secret},
	{Name: "pool_size duplicated alike", URL: "redis://127.0.0.1:1/?pool_size=2&pool_size=2"},
	// protocol
	{Name: "protocol 1", URL: "redis://127.0.0.1:1/?protocol=1"},
	{Name: "protocol 4", URL: "redis://127.0.0.1:1/?protocol=4"},
	{Name: "protocol negative", URL: "redis://127.0.0.1:1/?protocol=-2"},
	{Name: "protocol not a number", URL: "redis://127.0.0.1:1/?protocol=resp3"},
	{Name: "protocol overflowing", URL: "redis://127.0.0.1:1/?protocol=99999999999999999999"},
	{Name: "protocol duplicated", URL: "redis://127.0.0.1:1/?protocol=2&protocol=3"},
	// unknown options
	{Name: "unknown option", URL: "redis://user:" + secret + "@127.0.0.1:1/?no_such_option=1", Secret: secret},
	{Name: "option misspelt", URL: "redis://127.0.0.1:1/?poolsize=3"},
	{Name: "option without value", URL: "redis://127.0.0.1:1/?no_such_option"},
	{Name: "query escape malformed", URL: "redis://:" + secret + "@127.0.0.1:1/?pool_size=%zz", Secret: secret},
	// database in the path
	{Name: "db negative", URL: "redis://:" + secret + "@127.0.0.1:1/-1", Secret: secret},
	{Name: "db not a number", URL: "redis://127.0.0.1:1/zero"},
	{Name: "db overflowing", URL: "redis://127.0.0.1:1/99999999999999999999"},
	{Name: "db extra path", URL: "redis://127.0.0.1:1/0/1"},
	// schemes
	{Name: "scheme http", URL: "http://user:" + secret + "@127.0.0.1:1", Secret: secret},
	{Name: "scheme unknown cluster kind", URL: "redis+nosuch://127.0.0.1:1"},
	{Name: "scheme missing", URL: "127.0.0.1:1"},
	{Name: "scheme missing with password", URL: "user:" + secret + "@127.0.0.1:1", Secret: secret},
	{Name: "scheme without slashes", URL: "redis:127.0.0.1:1"},
	{Name: "empty", URL: ""},
	// ports
	{Name: "port zero", URL: "redis://:" + secret + "@127.0.0.1:0", Secret: secret},
	{Name: "port too large", URL: "redis://127.0.0.1:65536"},
	{Name: "port overflowing", URL: "redis://127.0.0.1:99999999999999999999"},
	{Name: "port negative", URL: "redis://user:" + secret + "@127.0.0.1:-1", Secret: secret},
	{Name: "port not a number", URL: "redis://127.0.0.1:redis"},
	{Name: "two ports", URL: "redis://127.0.0.1:1:2"},
	// passwords in malformed URLs
	{Name: "password with bad escape", URL: "redis://user:" + secret + "%zz@127.0.0.1:1", Secret: secret},
	{Name: "password and bad port", URL: "redis://user:" + secret + "@127.0.0.1:port/?pool_size=1", Secret: secret},
	{Name: "password and control character", URL: "redis://user:" + secret + "@127.0.0.1:1/\x7f", Secret: secret},
}

// RunBadURLs feeds every URL of [BadURLs] to open, a driver's Open (wrap a
// context in where it takes one). For every URL: open does not panic, it
// returns an error wrapping [conn.ErrBadURL] and no driver, and the error's
// text holds no password. A driver returned by mistake is closed.
func RunBadURLs(t *testing.T, open func(rawURL string) (conn.Driver, error)) {
	t.Helper()
	for _, c := range BadURLs {
		t.Run(c.Name, func(t *testing.T) {
			d, err := openNoPanic(open, c.URL)
			if isNil(d) {
				d = nil // a typed nil, from `return pkg.Open(u)`
			}
			if d != nil {
				_ = d.Close()
			}
			if err == nil {
				t.Fatalf("Open(%q) succeeded, want an error wrapping conn.ErrBadURL", c.URL)
			}
			if !errors.Is(err, conn.ErrBadURL) {
				t.Errorf("Open(%q) = %v, want an error wrapping conn.ErrBadURL", c.URL, err)
			}
			if d != nil {
				t.Errorf("Open(%q) returned a driver with its error", c.URL)
			}
			if c.Secret != "" && strings.Contains(err.Error(), c.Secret) {
				t.Errorf("Open's error shows the password: %v", err)
			}
		})
	}
}

func isNil(d conn.Driver) bool {
	if d == nil {
		return true
	}
	v := reflect.ValueOf(d)
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// openNoPanic calls open and turns a panic into an error that is not
// ErrBadURL.
func openNoPanic(open func(string) (conn.Driver, error), rawURL string) (d conn.Driver, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("Open panicked: %v", r)
		}
	}()
	return open(rawURL)
}
