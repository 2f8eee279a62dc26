package radix

import (
	"errors"
	"reflect"
	"strings"
	"testing"
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

func TestParseURLErrors(t *testing.T) {
	for _, u := range []string{
		"",
		"localhost:6379",
		"http://localhost",
		"redis:localhost",
		"redis://h:notaport",
		"redis://h:0",
		"redis://h:70000",
		"redis://h/x",
		"redis://h/-1",
		"redis://h?db=1",
		"redis://h?pool_size=0",
		"redis+cluster://h1:7000?cluster=false",
		"redis+cluster://h1:7000/2",
		"redis://h?pool_size=x",
		"redis://h?protocol=4",
		"redis://h?timeout=1s",
		"redis://h?skip_verify=true",
		"redis://h?cluster=maybe",
		"redis://h1,h2?cluster=false",
		"redis://h1,h2/1",
		"redis://h?addr=",
		"redis://::1",
		"redis://h#frag",
		"unix://",
		"unix:///",
		"unix://host/sock",
		"unix:///s?addr=h:1",
		"redis://u:hunter2@h:1 2",
	} {
		_, err := parseURL(u)
		if !errors.Is(err, ErrBadURL) {
			t.Errorf("parseURL(%q) = %v, want ErrBadURL", u, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("parseURL(%q) error shows the password: %v", u, err)
		}
	}
}
