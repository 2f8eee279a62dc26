package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/redcache/redcache/tools/internal/bench"
)

func runBench(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(k string) string { return env[k] })
	return code, stdout.String(), stderr.String()
}

func TestHelp(t *testing.T) {
	code, out, _ := runBench(t, nil, "-h")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, s := range []string{"redcache-bench [--quick]", "--url URL", "--redis", "--quick", "--out FILE", "--svg FILE", "targets are information"} {
		if !strings.Contains(out, s) {
			t.Errorf("help lacks %q:\n%s", s, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		env    map[string]string
		args   []string
		stderr string
	}{
		{"unknown flag", nil, []string{"--frob"}, "flag provided but not defined: --frob"},
		{"argument", nil, []string{"now"}, `unexpected argument "now"`},
		{"not loopback", nil, []string{"--url", "redis://10.1.2.3:6379"}, "(from --url)"},
		{"redis alias", nil, []string{"--redis", "10.1.2.3:6379"}, "(from --url)"},
		{"env", map[string]string{"REDIS_URL": "redis://10.1.2.3:6379"}, nil, "(from REDIS_URL)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runBench(t, tt.env, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.stderr)
			}
		})
	}
}

// The targets are printed once, as information.
func TestPrintTargets(t *testing.T) {
	var out bytes.Buffer
	printTargets(&out, []bench.Target{
		{Goal: "hits at least as fast as go-redis/cache", Status: bench.NotMet, Figure: "0.9x"},
		{Goal: "no allocation per hit", Status: bench.Met, Figure: "0 allocs"},
	})
	text := out.String()
	if n := strings.Count(text, "not met"); n != 1 {
		t.Errorf("%q is printed %d times, want once:\n%s", "not met", n, text)
	}
	if !strings.Contains(text, "for information") {
		t.Errorf("the targets are not labelled as information:\n%s", text)
	}
}
