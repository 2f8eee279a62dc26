package radix

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		url  string
		want spec
	}{
		{"redis://localhost:6379", spec{network: "tcp", addrs: []string{"localhost:6379"}}},
		{"redis://", spec{network: "tcp", addrs: []string{"localhost:6379"}}},
		{"redis://example.com", spec{network: "tcp", addrs: []string{"example.com:6379"}}},
		{"redis://:secret@h:1/3", spec{network: "tcp", addrs: []string{"h:1"}, pass: "secret", db: 3}},
		{"redis://u:p%40ss@h:1/0", spec{network: "tcp", addrs: []string{"h:1"}, user: "u", pass: "p@ss"}},
		{"redis://[::1]:7000", spec{network: "tcp", addrs: []string{"[::1]:7000"}}},
		{"redis://[::1]", spec{network: "tcp", addrs: []string{"[::1]:6379"}}},
		{"rediss://h:6380?skip_verify=true", spec{network: "tcp", addrs: []string{"h:6380"}, tls: true, skipVerify: true}},
		{"redis://h:1?pool_size=16&protocol=3", spec{network: "tcp", addrs: []string{"h:1"}, poolSize: 16, protocol: "3"}},
		{"unix:///run/redis.sock", spec{network: "unix", addrs: []string{"/run/redis.sock"}}},
		{"unix://:pw@/run/redis.sock?db=2", spec{network: "unix", addrs: []string{"/run/redis.sock"}, pass: "pw", db: 2}},
		// Clusters, the go-redis way and as a list.
		{"redis://u:p@h1:7000?addr=h2:7001&addr=h3:7002", spec{network: "tcp", addrs: []string{"h1:7000", "h2:7001", "h3:7002"}, cluster: true, user: "u", pass: "p"}},
		{"redis://h1:7000,h2:7001", spec{network: "tcp", addrs: []string{"h1:7000", "h2:7001"}, cluster: true}},
		{"rediss://h1:7000,h2:7001?addr=h3", spec{network: "tcp", addrs: []string{"h1:7000", "h2:7001", "h3:6379"}, cluster: true, tls: true}},
		{"redis://h1:7000?cluster=true", spec{network: "tcp", addrs: []string{"h1:7000"}, cluster: true}},
		{"redis://h1:7000,h2:7001/0", spec{network: "tcp", addrs: []string{"h1:7000", "h2:7001"}, cluster: true}},
		// The scheme the go-redis driver takes for a cluster.
		{"redis+cluster://h1:7000,h2:7001", spec{network: "tcp", addrs: []string{"h1:7000", "h2:7001"}, cluster: true}},
		{"redis+cluster://h1:7000", spec{network: "tcp", addrs: []string{"h1:7000"}, cluster: true}},
		{"rediss+cluster://u:p@h1:7000", spec{network: "tcp", addrs: []string{"h1:7000"}, cluster: true, tls: true, user: "u", pass: "p"}},
		// Sentinel, as the go-redis driver takes it.
		{"redis+sentinel://s1:26379,s2:26380?master_name=mymaster", spec{network: "tcp", addrs: []string{"s1:26379", "s2:26380"}, sentinel: true, master: "mymaster"}},
		{"rediss+sentinel://su:sp@s1:26379/2?master_name=m&username=mu&password=mp&addr=s3:1", spec{network: "tcp", addrs: []string{"s1:26379", "s3:1"}, sentinel: true, master: "m", tls: true, user: "su", pass: "sp", masterUser: "mu", masterPass: "mp", db: 2}},
		// Limits.
		{"redis://h:1?pool_size=1024", spec{network: "tcp", addrs: []string{"h:1"}, poolSize: 1024}},
		{"redis://h:1/2147483647", spec{network: "tcp", addrs: []string{"h:1"}, db: 2147483647}},
	}
	for _, c := range cases {
		got, err := parseURL(c.url)
		if err != nil {
			t.Errorf("parseURL(%q): %v", c.url, err)
			continue
		}
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("parseURL(%q) = %+v, want %+v", c.url, *got, c.want)
		}
	}
}

// badURLs are URLs Open must refuse; the password hunter2 must never show
// in the error.
var badURLs = []string{
	"",
	"localhost:6379",
	"http://localhost",
	"redis:localhost",
	"redis://h:notaport",
	"redis://h:0",
	"redis://h:70000",
	"redis://h:99999999999999999999",
	"redis://h/x",
	"redis://h/-1",
	"redis://h/2147483648",
	"redis://h/99999999999999999999",
	"redis://h?db=1",
	"redis://h?pool_size=0",
	"redis://h?pool_size=-3",
	"redis://h?pool_size=1025",
	"redis://h?pool_size=99999999999999999999",
	"redis://h?pool_size=",
	"redis://h?pool_size=1&pool_size=2",
	"redis://h?pool_size=4&pool_size=4",
	"redis+cluster://h1:7000?pool_size=-3",
	"redis+cluster://h1:7000?cluster=false",
	"redis+cluster://h1:7000/2",
	"redis://h?pool_size=x",
	"redis://h?protocol=4",
	"redis://h?protocol=",
	"redis://h?protocol=2&protocol=3",
	"redis://h?timeout=1s",
	"redis://h?Pool_Size=2",
	"redis://h?skip_verify=true",
	"rediss://h?skip_verify=",
	"rediss://h?skip_verify=true&skip_verify=false",
	"redis://h?cluster=maybe",
	"redis://h?cluster=",
	"redis://h?cluster=true&cluster=true",
	"redis://h1,h2?cluster=false",
	"redis://h1,h2/1",
	"redis://h1:1,h1:1",
	"redis://h1:1?addr=h1:1",
	"redis://,",
	"redis://h?addr=",
	"redis://::1",
	"redis://h#frag",
	"redis://h#",
	"redis://h?master_name=m",
	"redis://h?password=hunter2",
	"redis+sentinel://s1:26379",
	"redis+sentinel://s1:26379?master_name=",
	"redis+sentinel://s1:26379?master_name=a&master_name=b",
	"redis+sentinel://s1:26379?master_name=m&password=hunter2&password=hunter2",
	"redis+sentinel://s1:26379?master_name=m&cluster=true",
	"redis+sentinel://u:hunter2@s1:26379?master_name=m&pool_size=0",
	"redis+sentinel://s1:26379?master_name=m&password=hunter2&bogus=1",
	"redis+cluster://u:hunter2@h1:7000?pool_size=-3",
	"redis+foo://h",
	"unix://",
	"unix:///",
	"unix://host/sock",
	"unix:///s?addr=h:1",
	"unix:///s?db=1&db=2",
	"unix:///s?db=-1",
	"redis://u:hunter2@h:1 2",
	"redis://u:hunter2@h:x",
	"redis://u:hunter2@h/x",
	"redis://:hunter2@h?protocol=9",
	"redis://:hunter2@[::1",
	"redis://:hunter2%zz@h",
}

func TestParseURLErrors(t *testing.T) {
	for _, u := range badURLs {
		_, err := parseURL(u)
		if !errors.Is(err, ErrBadURL) || !errors.Is(err, conn.ErrBadURL) {
			t.Errorf("parseURL(%q) = %v, want ErrBadURL and conn.ErrBadURL", u, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("parseURL(%q) error shows the password: %v", u, err)
		}
	}
}

// FuzzParseURL checks that parseURL never panics, that its errors are
// ErrBadURL and never show the password, and that what it accepts is
// usable: at least one address, each with a port, and limits kept.
func FuzzParseURL(f *testing.F) {
	for _, u := range badURLs {
		f.Add(u)
	}
	for _, u := range []string{
		"redis://localhost:6379",
		"redis://:secret@h:1/3",
		"redis://u:p%40ss@h:1/0?protocol=3&pool_size=16",
		"rediss://h:6380?skip_verify=true",
		"unix://:pw@/run/redis.sock?db=2",
		"redis://u:p@h1:7000?addr=h2:7001&addr=h3:7002",
		"redis+cluster://h1:7000,h2:7001",
		"redis+sentinel://su:sp@s1:26379,s2?master_name=m&username=mu&password=mp",
		"redis://[::1]:7000",
	} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		sp, err := parseURL(raw)
		if err != nil {
			if !errors.Is(err, ErrBadURL) || !errors.Is(err, conn.ErrBadURL) {
				t.Fatalf("parseURL(%q) = %v, want ErrBadURL", raw, err)
			}
			if pass := rawPassword(raw); len(pass) >= 4 && strings.Contains(err.Error(), pass) &&
				strings.Count(raw, pass) == 1 {
				t.Fatalf("parseURL(%q) error shows the password %q: %v", raw, pass, err)
			}
			return
		}
		if len(sp.addrs) == 0 {
			t.Fatalf("parseURL(%q) accepted no address", raw)
		}
		if sp.poolSize < 0 || sp.poolSize > maxPoolSize || sp.db < 0 {
			t.Fatalf("parseURL(%q) = %+v: out of range", raw, sp)
		}
		if sp.cluster && sp.sentinel {
			t.Fatalf("parseURL(%q): both cluster and sentinel", raw)
		}
		if sp.network == "tcp" {
			for _, a := range sp.addrs {
				if _, _, err := net.SplitHostPort(a); err != nil {
					t.Fatalf("parseURL(%q) accepted address %q: %v", raw, a, err)
				}
			}
		}
	})
}

// rawPassword returns the password of raw as written, or "" when there is
// none that can be told.
func rawPassword(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	_, pass, _ := strings.Cut(rest[:at], ":")
	return pass
}

// Open dials, as documented side by side with the go-redis driver's Open,
// which does not: a server nothing listens for is Open's error, the
// refusal, wrapped with the driver's prefix.
func TestOpenUnreachableDials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := Open(ctx, "redis://127.0.0.1:1")
	if err == nil {
		d.Close()
		t.Fatal("Open of an unreachable server succeeded, want the dial error")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Open = %v, want an error wrapping ECONNREFUSED", err)
	}
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("Open = %q, want the prefix %q", err, prefix)
	}
	if ctx.Err() != nil {
		t.Errorf("the refusal took Open's whole deadline: %v", err)
	}
}
