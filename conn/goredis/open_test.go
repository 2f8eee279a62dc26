package goredis

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseURLSingle(t *testing.T) {
	tests := []struct {
		url      string
		network  string
		addr     string
		db       int
		user     string
		password string
		tls      bool
		protocol int
	}{
		{"redis://localhost:6380/2", "tcp", "localhost:6380", 2, "", "", false, 2},
		{"redis://h", "tcp", "h:6379", 0, "", "", false, 2},
		{"REDIS://h:1", "tcp", "h:1", 0, "", "", false, 2},
		{"redis://u:p%40ss@h:1/0?db=4", "tcp", "h:1", 4, "u", "p@ss", false, 2},
		{"redis://:secret@[::1]:7000", "tcp", "[::1]:7000", 0, "", "secret", false, 2},
		{"rediss://u:p@cache.example:6380", "tcp", "cache.example:6380", 0, "u", "p", true, 2},
		{"redis://h:1?protocol=3&dial_timeout=2s", "tcp", "h:1", 0, "", "", false, 3},
		{"unix:///run/redis.sock?db=3", "unix", "/run/redis.sock", 3, "", "", false, 2},
	}
	for _, tt := range tests {
		tg, err := parseURL(tt.url)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.url, err)
			continue
		}
		o := tg.single
		if o == nil {
			t.Errorf("parseURL(%q) did not give a single-node client", tt.url)
			continue
		}
		if o.Network != tt.network || o.Addr != tt.addr || o.DB != tt.db ||
			o.Username != tt.user || o.Password != tt.password ||
			(o.TLSConfig != nil) != tt.tls || o.Protocol != tt.protocol || !o.ContextTimeoutEnabled {
			t.Errorf("parseURL(%q) = network %q addr %q db %d user %q password %q tls %v protocol %d ctx %v",
				tt.url, o.Network, o.Addr, o.DB, o.Username, o.Password, o.TLSConfig != nil, o.Protocol, o.ContextTimeoutEnabled)
		}
	}
}

func TestParseURLCluster(t *testing.T) {
	tests := []struct {
		url   string
		addrs []string
		user  string
		tls   bool
	}{
		{"redis+cluster://h1:7000", []string{"h1:7000"}, "", false},
		{"redis+cluster://h1:7000,h2:7001,h3:7002", []string{"h1:7000", "h2:7001", "h3:7002"}, "", false},
		{"redis+cluster://u:p@h1:7000,h2:7001/?addr=h3:7002&read_timeout=1s", []string{"h1:7000", "h2:7001", "h3:7002"}, "u", false},
		{"rediss+cluster://u:p@h1:7000,[::1]:7001", []string{"h1:7000", "[::1]:7001"}, "u", true},
		{"redis+cluster://h1:7000/0", []string{"h1:7000"}, "", false},
	}
	for _, tt := range tests {
		tg, err := parseURL(tt.url)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.url, err)
			continue
		}
		o := tg.cluster
		if o == nil {
			t.Errorf("parseURL(%q) did not give a cluster client", tt.url)
			continue
		}
		if strings.Join(o.Addrs, " ") != strings.Join(tt.addrs, " ") || o.Username != tt.user ||
			(o.TLSConfig != nil) != tt.tls || o.Protocol != 2 || !o.ContextTimeoutEnabled {
			t.Errorf("parseURL(%q) = addrs %q user %q tls %v protocol %d ctx %v",
				tt.url, o.Addrs, o.Username, o.TLSConfig != nil, o.Protocol, o.ContextTimeoutEnabled)
		}
	}
}

func TestParseURLSentinel(t *testing.T) {
	tg, err := parseURL("redis+sentinel://su:sp@s1:26379,s2:26380/3?master_name=mymaster&username=mu&password=mp")
	if err != nil {
		t.Fatal(err)
	}
	o := tg.failover
	if o == nil {
		t.Fatal("not a failover client")
	}
	if o.MasterName != "mymaster" || strings.Join(o.SentinelAddrs, " ") != "s1:26379 s2:26380" ||
		o.SentinelUsername != "su" || o.SentinelPassword != "sp" || o.Username != "mu" || o.Password != "mp" ||
		o.DB != 3 || o.Protocol != 2 || !o.ContextTimeoutEnabled || o.TLSConfig != nil {
		t.Fatalf("parsed %+v", o)
	}
	tg, err = parseURL("rediss+sentinel://s1:26379?master_name=m")
	if err != nil || tg.failover == nil || tg.failover.TLSConfig == nil {
		t.Fatalf("rediss+sentinel: %+v, %v", tg.failover, err)
	}
}

func TestParseURLBad(t *testing.T) {
	bad := []string{
		"",
		"localhost:6379",
		"http://h:80",
		"redis+ring://h:1",
		"unix+cluster:///tmp/s",
		"redis://h1:1,h2:2",            // several hosts without +cluster
		"redis+cluster://h1:1,,h2:2",   // empty host
		"redis+cluster://h1:1,h2",      // no port in the list
		"redis+cluster://h1:1/3",       // no databases on a cluster
		"redis+sentinel://s1:26379",    // no master name
		"redis://h:1?no_such_option=1", // go-redis refuses unknown options
		"redis://h:1/notanumber",       // database
		"redis://u:secret@h:1/x/y",     // path
		"redis://u:secret@[::1:6379",   // url.Parse error, which quotes the URL
		"redis://u:secret@h:1?dial_timeout=soon",
		"redis://h:1/-1", // negative database
		"unix://",
	}
	for _, u := range bad {
		_, err := Open(context.Background(), u)
		if !errors.Is(err, ErrBadURL) {
			t.Errorf("Open(%q) = %v, want ErrBadURL", u, err)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) error shows the password: %v", u, err)
		}
	}
}

func TestOpenOwnsClient(t *testing.T) {
	d, err := Open(context.Background(), "redis://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if !d.owns {
		t.Fatal("a driver from Open must own its client")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// Open does not connect, as documented side by side with the radix
// driver's Open, which dials: a server nothing listens for is no error of
// Open's, and the first call fails at once with the refusal, wrapped with
// the driver's prefix.
func TestOpenUnreachableIsLazy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := Open(ctx, "redis://127.0.0.1:1")
	if err != nil {
		t.Fatalf("Open of an unreachable server = %v, want a driver: Open does not connect", err)
	}
	defer d.Close()
	callCtx, callCancel := context.WithTimeout(ctx, time.Second)
	defer callCancel()
	_, err = d.Get(callCtx, "k")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("first call = %v, want an error wrapping ECONNREFUSED", err)
	}
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("first call = %q, want the prefix %q", err, prefix)
	}
	if callCtx.Err() != nil {
		t.Errorf("the refusal took the call's whole deadline: %v", err)
	}
}
