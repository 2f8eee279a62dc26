package conntest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// Environment variables through which the test runner hands its TLS
// server to the tests.
const (
	// EnvTLS holds host:port of a Redis that speaks TLS only.
	EnvTLS = "REDCACHE_TEST_TLS"
	// EnvTLSCA holds the path of the PEM certificate of the private
	// authority that signed the TLS server's certificate (for 127.0.0.1
	// and localhost).
	EnvTLSCA = "REDCACHE_TEST_TLS_CA"
	// EnvTLSUser and EnvTLSPassword hold the TLS server's ACL user, who
	// may use the keys cache:* only (the default user is off).
	EnvTLSUser     = "REDCACHE_TEST_TLS_USER"
	EnvTLSPassword = "REDCACHE_TEST_TLS_PASSWORD"
)

// TLSServer is the test runner's TLS server.
type TLSServer struct {
	// Addr is its host:port.
	Addr string
	// User and Password log in as its ACL user, limited to keys cache:*.
	User, Password string
	// RootCAs holds the private authority its certificate is signed by.
	RootCAs *x509.CertPool
}

// URL returns a rediss:// URL that logs in as the server's user, with
// query (without its '?') appended when not empty.
func (s TLSServer) URL(query string) string {
	u := "rediss://" + url.UserPassword(s.User, s.Password).String() + "@" + s.Addr
	if query != "" {
		u += "/?" + query
	}
	return u
}

// LookupTLS returns the runner's TLS server. With none given it skips tb,
// or fails it under the test runner.
func LookupTLS(tb testing.TB) TLSServer {
	tb.Helper()
	s := TLSServer{
		Addr:     os.Getenv(EnvTLS),
		User:     os.Getenv(EnvTLSUser),
		Password: os.Getenv(EnvTLSPassword),
	}
	ca := os.Getenv(EnvTLSCA)
	if s.Addr == "" || ca == "" || s.User == "" || s.Password == "" {
		missing(tb, howTo+EnvTLS+", "+EnvTLSCA+", "+EnvTLSUser+" and "+EnvTLSPassword)
		return s
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		tb.Fatalf("%s: %v", EnvTLSCA, err)
	}
	s.RootCAs = x509.NewCertPool()
	if !s.RootCAs.AppendCertsFromPEM(pem) {
		tb.Fatalf("%s (%s) holds no certificate", EnvTLSCA, ca)
	}
	return s
}

// RunTLS checks that a driver's Open trusts a private certificate
// authority through its TLS option, against the runner's TLS server
// ([LookupTLS]). open is the driver's Open given the option built from tc
// (a nil tc: no option at all).
//
//   - With tc trusting the authority, the driver logs in as the ACL user
//     over TLS and a value set is read back.
//   - Without the option the server's certificate is not trusted: Open,
//     or the first call when Open does not connect, fails with an error
//     for which errors.As finds an [x509.UnknownAuthorityError], and
//     nothing is cached.
//   - tc's ServerName wins over the URL's host: a name the certificate
//     does not carry fails the same way, with an [x509.HostnameError].
//   - skip_verify=true in the URL still applies alongside an option that
//     trusts nothing.
//   - tc is copied: changing it after Open changes nothing.
func RunTLS(t *testing.T, open func(ctx context.Context, rawURL string, tc *tls.Config) (conn.Driver, error)) {
	t.Helper()
	srv := LookupTLS(t)
	key := "cache:conntest:" + randomHex(6) + ":tls"

	// use opens a driver and sets then reads key; it returns the first
	// error, of Open or of a call.
	use := func(t *testing.T, rawURL string, tc *tls.Config) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d, err := open(ctx, rawURL, tc)
		if err != nil {
			return err
		}
		defer d.Close()
		if tc != nil {
			// The driver must have taken a copy.
			tc.RootCAs, tc.ServerName, tc.InsecureSkipVerify = nil, "changed.invalid", false
		}
		if err := d.Set(ctx, key, []byte("over tls"), time.Minute); err != nil {
			return err
		}
		defer func() { _, _ = d.Del(context.Background(), key) }()
		v, err := d.Get(ctx, key)
		if err != nil {
			return err
		}
		if string(v) != "over tls" {
			t.Errorf("Get = %q, want %q", v, "over tls")
		}
		return nil
	}

	t.Run("TrustedCA", func(t *testing.T) {
		tc := &tls.Config{RootCAs: srv.RootCAs, MinVersion: tls.VersionTLS12}
		if err := use(t, srv.URL(""), tc); err != nil {
			t.Fatalf("over TLS with the CA trusted: %v", err)
		}
	})
	t.Run("UntrustedCA", func(t *testing.T) {
		err := use(t, srv.URL(""), nil)
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &ua) {
			t.Fatalf("without the CA: %v, want an error wrapping x509.UnknownAuthorityError", err)
		}
		if strings.Contains(err.Error(), srv.Password) {
			t.Errorf("the error shows the password: %v", err)
		}
	})
	t.Run("ServerName", func(t *testing.T) {
		tc := &tls.Config{RootCAs: srv.RootCAs, ServerName: "not-this-server.example", MinVersion: tls.VersionTLS12}
		err := use(t, srv.URL(""), tc)
		var he x509.HostnameError
		if !errors.As(err, &he) {
			t.Fatalf("with a server name the certificate lacks: %v, want an error wrapping x509.HostnameError", err)
		}
	})
	t.Run("SkipVerify", func(t *testing.T) {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if err := use(t, srv.URL("skip_verify=true"), tc); err != nil {
			t.Fatalf("skip_verify=true with a config trusting nothing: %v", err)
		}
	})
}
