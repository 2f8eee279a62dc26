//go:build unix

package faults

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
)

// tlsServer is the runner's TLS server and its ACL user.
type tlsServer struct {
	addr, user, password string
	roots                *x509.CertPool
}

func openTLS(t *testing.T) tlsServer {
	t.Helper()
	s := tlsServer{
		addr:     env(t, "REDCACHE_TEST_TLS"),
		user:     env(t, "REDCACHE_TEST_TLS_USER"),
		password: env(t, "REDCACHE_TEST_TLS_PASSWORD"),
		roots:    x509.NewCertPool(),
	}
	pem, err := os.ReadFile(env(t, "REDCACHE_TEST_TLS_CA"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.roots.AppendCertsFromPEM(pem) {
		t.Fatal("REDCACHE_TEST_TLS_CA holds no certificate")
	}
	return s
}

// url is a rediss:// URL for the ACL user with password.
func (s tlsServer) url(password string) string {
	return "rediss://" + url.UserPassword(s.user, password).String() + "@" + s.addr
}

// tlsDrivers open a driver over a rediss:// URL that trusts the test CA,
// given to both drivers the same way: WithTLSConfig.
var tlsDrivers = []struct {
	name string
	open func(ctx context.Context, rawURL string, roots *x509.CertPool) (conn.Driver, error)
}{
	{"goredis", func(ctx context.Context, rawURL string, roots *x509.CertPool) (conn.Driver, error) {
		// A refused login is not worth retrying.
		return goredis.Open(ctx, rawURL+"/?max_retries=-1&dial_timeout=1s",
			goredis.WithTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}))
	}},
	{"radix", func(ctx context.Context, rawURL string, roots *x509.CertPool) (conn.Driver, error) {
		return radix.Open(ctx, rawURL, radix.WithTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}))
	}},
}

// TestTLSACL: over TLS, as an ACL user limited to the keys cache:*, the
// cache works (a second Get hits); a key outside the user's patterns is
// refused with NOPERM and a wrong password with WRONGPASS, both reported
// while Get still returns its loader's value; no error anywhere carries
// the password.
func TestTLSACL(t *testing.T) {
	skipUnlessEnabled(t)
	srv := openTLS(t)
	wrongPassword := "wrong-" + srv.password
	for _, dk := range tlsDrivers {
		t.Run(dk.name, func(t *testing.T) {
			base := goroutineBaseline()
			var seen []error // every error of this subtest, checked for passwords
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			t.Run("works", func(t *testing.T) {
				d, err := dk.open(ctx, srv.url(srv.password), srv.roots)
				if err != nil {
					seen = append(seen, err)
					t.Fatalf("open: %v", err)
				}
				l := newLoad(d, 5, core.WithPrefix("cache"))
				first := l.get(1)
				second := l.get(1)
				closeAll(t, l, d)
				seen = append(seen, l.errorsReported()...)
				for _, c := range []call{first, second} {
					if c.err != nil {
						seen = append(seen, c.err)
						t.Errorf("Get: %v", c.err)
					}
				}
				if !second.hit {
					t.Errorf("the second Get of a key did not hit (reported: %v)", l.errorsReported())
				}
				if n := len(l.errorsReported()); n > 0 {
					t.Errorf("%d errors reported, first: %v", n, l.errorsReported()[0])
				}
				t.Logf("RESULT fault=tls+acl driver=%s calls=2 errors=0 hit=%v reported=%d", dk.name, second.hit, len(l.errorsReported()))
			})

			t.Run("NOPERM", func(t *testing.T) {
				d, err := dk.open(ctx, srv.url(srv.password), srv.roots)
				if err != nil {
					seen = append(seen, err)
					t.Fatalf("open: %v", err)
				}
				l := newLoad(d, 5, core.WithPrefix("other"))
				c := l.get(1)
				closeAll(t, l, d)
				rep := l.errorsReported()
				seen = append(seen, rep...)
				if c.err != nil || c.wrong {
					seen = append(seen, c.err)
					t.Errorf("Get with keys the user may not touch: %v (wrong value: %v); want the loader's value", c.err, c.wrong)
				}
				if !anyReply(rep, "NOPERM") {
					t.Errorf("no NOPERM reply error reported; reported: %v", rep)
				}
				t.Logf("RESULT fault=acl-noperm driver=%s calls=1 errors=%d reported=%d first=%v", dk.name, btoi(c.err != nil), len(rep), first(rep))
			})

			t.Run("wrong password", func(t *testing.T) {
				d, err := dk.open(ctx, srv.url(wrongPassword), srv.roots)
				if err != nil {
					// Drivers that dial in Open report the refusal there.
					seen = append(seen, err)
					if !conn.IsReplyError(err, "WRONGPASS") {
						t.Errorf("Open with a wrong password: %v; want an error matching conn.IsReplyError(err, \"WRONGPASS\")", err)
					}
					t.Logf("RESULT fault=wrong-password driver=%s open_error=%v", dk.name, err)
					return
				}
				l := newLoad(d, 5, core.WithPrefix("cache"))
				c := l.get(1)
				closeAll(t, l, d)
				rep := l.errorsReported()
				seen = append(seen, rep...)
				if c.err != nil || c.wrong {
					seen = append(seen, c.err)
					t.Errorf("Get with a wrong password: %v (wrong value: %v); want the loader's value", c.err, c.wrong)
				}
				if !anyReply(rep, "WRONGPASS") {
					t.Errorf("no WRONGPASS reply error reported; reported: %v", rep)
				}
				t.Logf("RESULT fault=wrong-password driver=%s calls=1 errors=%d reported=%d first=%v", dk.name, btoi(c.err != nil), len(rep), first(rep))
			})

			for _, err := range seen {
				if err == nil {
					continue
				}
				for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
					if strings.Contains(text, srv.password) || strings.Contains(text, wrongPassword) {
						t.Errorf("an error shows a password: %s", text)
					}
				}
			}
			checkGoroutines(t, base)
		})
	}
}

// anyReply reports whether an error in errs is a Redis reply error with
// prefix.
func anyReply(errs []error, prefix string) bool {
	for _, err := range errs {
		if conn.IsReplyError(err, prefix) {
			return true
		}
	}
	return false
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
