package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
)

// result is what one run of the command gave.
type result struct {
	stdout, stderr string
	code           int
}

// runCmd runs the command line args in-process with the environment env
// (nothing else of the real environment leaks in).
func runCmd(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut, func(k string) string { return env[k] })
	return result{out.String(), errOut.String(), code}
}

// want checks the exit status and that stdout and stderr contain the
// given texts.
func (r result) want(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

func TestHelp(t *testing.T) {
	var names []string
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)

	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := runCmd(t, nil, args...)
		r.want(t, exitOK, append([]string{"Usage:", "Commands:", "--url URL", "REDIS_URL", "Exit status"}, names...), nil)
		// The list is the registry: a command appears once its file registers it.
		listed := regexp.MustCompile(`(?m)^  ([a-z]+)  +\S`).FindAllStringSubmatch(r.stdout, -1)
		var got []string
		for _, m := range listed {
			got = append(got, m[1])
		}
		if !slices.Equal(got, names) {
			t.Errorf("%v lists %v, want the registry's %v", args, got, names)
		}
	}
	for _, name := range names {
		r := runCmd(t, nil, "help", name)
		r.want(t, exitOK, []string{"redcache " + name, "Flags:", "--url URL", "--driver NAME"}, nil)
		r2 := runCmd(t, nil, name, "-h")
		if r2.code != exitOK || r2.stdout != r.stdout {
			t.Errorf("%s -h differs from help %s (exit %d)", name, name, r2.code)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		stderr string
	}{
		{"no command", nil, nil, "Usage:"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown help", nil, []string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"keys", "--frob"}, "flag provided but not defined: --frob"},
		{"unknown top flag", nil, []string{"--frob", "keys"}, "flag provided but not defined: --frob"},
		{"no url", nil, []string{"keys"}, "no Redis: pass --url or set REDIS_URL"},
		{"no url stats", nil, []string{"stats"}, "no Redis: pass --url or set REDIS_URL"},
		{"bad scheme", nil, []string{"keys", "--url", "http://localhost"}, `bad Redis URL: unknown scheme "http"`},
		{"bad scheme from env", map[string]string{"REDIS_URL": "http://localhost"}, []string{"keys"}, "(from REDIS_URL)"},
		{"no scheme", nil, []string{"--url", "localhost:6379", "stats"}, "bad Redis URL"},
		{"bad port", nil, []string{"keys", "--url", "redis://localhost:notaport"}, "bad Redis URL"},
		{"bad radix url", nil, []string{"keys", "--driver", "radix", "--url", "http://x"}, "bad Redis URL"},
		{"bad driver", nil, []string{"keys", "--driver", "jedis", "--url", "redis://localhost"}, `--driver "jedis"`},
		{"inspect without key", nil, []string{"inspect"}, "missing KEY"},
		{"invalidate without name", nil, []string{"invalidate"}, "missing NAME"},
		{"invalidate name and all", nil, []string{"invalidate", "--all", "x"}, "exclude each other"},
		{"invalidate a key", nil, []string{"invalidate", "cache:users.get:i1"}, "give the name, not the key"},
		{"demo delay", nil, []string{"demo", "--delay", "-1s"}, "--delay -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, tt.env, tt.args...)
			r.want(t, exitUsage, nil, []string{tt.stderr})
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
				t.Errorf("stderr has a stack:\n%s", r.stderr)
			}
		})
	}
}

func TestPasswordNotShown(t *testing.T) {
	r := runCmd(t, nil, "keys", "--url", "redis://user:hunter2@127.0.0.1:1")
	r.want(t, exitFailure, nil, []string{"cannot reach Redis at redis://user:xxxxx@127.0.0.1:1"})
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("stderr shows the password:\n%s", r.stderr)
	}
}

func TestUnreachable(t *testing.T) {
	for _, tt := range []struct{ driver, url string }{
		{"goredis", "redis://127.0.0.1:1"},
		{"goredis", "redis+cluster://127.0.0.1:1,127.0.0.1:2"},
		{"radix", "redis://127.0.0.1:1"},
	} {
		t.Run(tt.driver+" "+tt.url, func(t *testing.T) {
			start := time.Now()
			r := runCmd(t, nil, "--driver", tt.driver, "stats", "--url", tt.url)
			r.want(t, exitFailure, nil, []string{"redcache stats: cannot reach Redis at " + tt.url + ": "})
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %s to give up", el)
			}
			if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
				t.Errorf("stderr has %d lines, want 1:\n%s", n+1, r.stderr)
			}
		})
	}
}

func TestGlobEscape(t *testing.T) {
	for in, want := range map[string]string{
		"cache":     "cache",
		"a*b?c[d]e": `a\*b\?c\[d\]e`,
		`x\y`:       `x\\y`,
	} {
		if got := globEscape(in); got != want {
			t.Errorf("globEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

// redisURL returns the URL of the test Redis (standalone), or skips.
func redisURL(t *testing.T) string {
	t.Helper()
	return "redis://" + conntest.RedisAddr(t)
}

// clusterURL returns the URL of the test Redis Cluster, or skips.
func clusterURL(t *testing.T) string {
	t.Helper()
	return "redis+cluster://" + strings.Join(conntest.ClusterAddrs(t), ",")
}

// openDriver opens url for a test and closes it at the end.
func openDriver(t *testing.T, url string) conn.Driver {
	t.Helper()
	d, err := goredis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// uniquePrefix returns a key prefix no other test uses, and deletes its
// keys when the test ends.
func uniquePrefix(t *testing.T, d conn.Driver) string {
	t.Helper()
	name := regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")
	p := fmt.Sprintf("rctest-%s-%d", name, time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var keys []string
		_ = scanKeys(ctx, d, globEscape(p)+":*", 1000, nil, func(k string) error {
			keys = append(keys, k)
			return nil
		})
		for _, k := range keys {
			_, _ = d.Del(ctx, k)
		}
	})
	return p
}
