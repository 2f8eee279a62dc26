package goredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/redcache/redcache/conn"
)

// openNoPanic runs Open and turns a panic into a test failure.
func openNoPanic(t *testing.T, rawURL string) (d *Driver, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("Open(%q) panicked: %v", rawURL, r)
			d, err = nil, errors.New("panic")
		}
	}()
	return Open(context.Background(), rawURL)
}

const secret = "Pw-S3cr3t-x9"

// badOptions are query strings every scheme must refuse: negative, zero,
// overflowing, malformed, unknown and duplicated values.
var badOptions = []string{
	"pool_size=-3",
	"pool_size=0",
	"pool_size=99999999999999999999",
	"pool_size=3000000000",
	"pool_size=ten",
	"pool_size=1&pool_size=2",
	"pool_size=",
	"min_idle_conns=-1",
	"max_idle_conns=-1",
	"max_active_conns=-5",
	"max_concurrent_dials=-1",
	"max_concurrent_dials=0",
	"max_retries=-2",
	"max_retries=0",
	"max_retries=1000000",
	"protocol=1",
	"protocol=0",
	"protocol=4",
	"dial_timeout=-1s",
	"dial_timeout=0",
	"read_timeout=0s",
	"read_timeout=-1",
	"write_timeout=-5ms",
	"pool_timeout=0",
	"read_timeout=9223372037",
	"read_timeout=99999999999h",
	"read_timeout=soon",
	"read_timeout=1s&read_timeout=2s",
	"min_retry_backoff=-1ms",
	"max_retry_backoff=-2s",
	"conn_max_idle_time=-1s",
	"conn_max_lifetime=-1s",
	"pool_fifo=maybe",
	"pool_fifo=",
	"client_name=a%20b",
	"no_such_option=1",
	"PoolSize=3",
	"%zz=1",
	"a=1;b=2",
	"password=" + secret + "&password=" + secret,
}

// badHosts are host lists (after the scheme's "://user:pass@") that no
// scheme takes.
var badHosts = []string{
	"h:99999",
	"h:0",
	"h:-1",
	"h:port",
}

func TestOpenBadURLs(t *testing.T) {
	schemes := []struct {
		prefix string // up to the hosts
		suffix string // between the hosts and the query
		extra  string // query options the scheme needs
	}{
		{"redis://u:" + secret + "@", "/0", ""},
		{"rediss://u:" + secret + "@", "", ""},
		{"unix://u:" + secret + "@", "", ""},
		{"redis+cluster://u:" + secret + "@", "", ""},
		{"rediss+cluster://u:" + secret + "@", "", ""},
		{"redis+sentinel://u:" + secret + "@", "", "master_name=m&"},
	}
	for _, s := range schemes {
		host := "h1:7000"
		if strings.HasPrefix(s.prefix, "unix") {
			host = "/tmp/redis.sock"
		}
		var urls []string
		for _, q := range badOptions {
			urls = append(urls, s.prefix+host+s.suffix+"?"+s.extra+q)
		}
		if !strings.HasPrefix(s.prefix, "unix") {
			for _, h := range badHosts {
				urls = append(urls, s.prefix+h+s.suffix+"?"+strings.TrimSuffix(s.extra, "&"))
			}
		}
		for _, u := range urls {
			d, err := openNoPanic(t, u)
			if err == nil {
				_ = d.Close()
				t.Errorf("Open(%q) = nil error, want ErrBadURL", u)
				continue
			}
			if !errors.Is(err, ErrBadURL) || !errors.Is(err, conn.ErrBadURL) {
				t.Errorf("Open(%q) = %v, want an error wrapping goredis.ErrBadURL and conn.ErrBadURL", u, err)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
				t.Errorf("Open(%q) error shows the password: %v", u, err)
			}
		}
	}
}

// TestOpenGoodOptions keeps the validation from refusing what go-redis
// takes and makes sense.
func TestOpenGoodOptions(t *testing.T) {
	good := []string{
		"redis://h:1?pool_size=5&min_idle_conns=0&max_idle_conns=2&max_active_conns=0&max_retries=-1",
		"redis://h:1?read_timeout=250ms&write_timeout=1&dial_timeout=2s&pool_timeout=3s&protocol=3",
		"redis://h:1?min_retry_backoff=0&max_retry_backoff=1s&conn_max_idle_time=0&conn_max_lifetime=1h&pool_fifo=true&client_name=web",
		"redis://h:1/3?max_concurrent_dials=4",
		"rediss://h:1?skip_verify=true",
		"redis+cluster://h1:1,h2:2?pool_size=4&max_redirects=-1&read_only=1&route_randomly=false&dialer_retries=2&failing_timeout_seconds=3",
		"redis+sentinel://s:1?master_name=m&db=2&replica_only=false&password=x&username=y",
	}
	for _, u := range good {
		d, err := openNoPanic(t, u)
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		_ = d.Close()
	}
}

// noDial is a dialer that reaches nothing, so that fuzzed URLs (whose
// hosts may be anywhere) never cause traffic, even with min_idle_conns.
func noDial(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("fuzz: no dialing")
}

// openOffline does what Open does, with a dialer that reaches nothing.
func openOffline(rawURL string) (*Driver, error) {
	tg, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	switch {
	case tg.cluster != nil:
		tg.cluster.Dialer = noDial
	case tg.failover != nil:
		tg.failover.Dialer = noDial
	default:
		tg.single.Dialer = noDial
	}
	d := New(tg.client())
	d.owns = true
	return d, nil
}

// FuzzOpen checks that no URL makes Open panic, that every error wraps
// both ErrBadURL sentinels, and that the password never shows in one.
func FuzzOpen(f *testing.F) {
	seeds := []string{
		"redis://localhost:6379/0",
		"redis://u:p@h:1/2?pool_size=-3",
		"redis+cluster://h1:1,h2:2?pool_size=-3",
		"redis+sentinel://s:1?master_name=m&password=x&password=y",
		"rediss://h?skip_verify=true&read_timeout=9223372037",
		"unix:///tmp/s.sock?db=3&min_idle_conns=2",
		"redis://[::1]:7000?protocol=3&max_retries=-1",
		"redis://h:99999", "redis+cluster://h1:1,,h2", "redis://%zz@h", "redis://h?a=1;b=2",
		"redis://h?pool_size=1&pool_size=2", "REDIS+CLUSTER://h:1?addr=h2:2&addr=h3:3",
	}
	for _, s := range seeds {
		f.Add(uint8(0), s, "")
	}
	for i, q := range badOptions {
		f.Add(uint8(i), "h1:7000", q)
	}
	prefixes := []string{
		"redis://u:" + secret + "@", "rediss://u:" + secret + "@", "unix://u:" + secret + "@",
		"redis+cluster://u:" + secret + "@", "redis+sentinel://u:" + secret + "@",
	}
	f.Fuzz(func(t *testing.T, scheme uint8, hosts, query string) {
		// Two forms: a raw URL (hosts holds it, query is empty), and a URL
		// built around a known password from a scheme, hosts and a query.
		rawURL := hosts
		checkSecret := query != ""
		if checkSecret {
			rawURL = prefixes[int(scheme)%len(prefixes)] + hosts + "?" + query
			if scheme%2 == 1 {
				rawURL += "&password=" + secret
			}
		}
		var d *Driver
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("Open(%q) panicked: %v", rawURL, r)
				}
			}()
			d, err = openOffline(rawURL)
		}()
		if err == nil {
			_ = d.Close()
			return
		}
		if !errors.Is(err, ErrBadURL) || !errors.Is(err, conn.ErrBadURL) {
			t.Fatalf("Open(%q) = %v, want ErrBadURL", rawURL, err)
		}
		if checkSecret && strings.Contains(err.Error(), secret) {
			t.Fatalf("Open(%q) error shows the password: %v", rawURL, err)
		}
	})
}
