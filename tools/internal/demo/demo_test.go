package demo

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn/conntest"
)

// played returns the CACHE column of the demo's request lines.
func played(out string) []string {
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^ +\d+ +[\d.]+s  (MISS|HIT) +[\d.]+ms +\d+  `).FindAllStringSubmatch(out, -1) {
		got = append(got, m[1])
	}
	return got
}

func TestRun(t *testing.T) {
	tests := []struct {
		name   string
		url    func(*testing.T) string
		driver string
		says   string
	}{
		{"embedded", func(*testing.T) string { return "" }, "goredis", "embedded miniredis at 127.0.0.1:"},
		{"embedded radix", func(*testing.T) string { return "" }, "radix", "embedded miniredis at 127.0.0.1:"},
		{"redis", func(t *testing.T) string { return "redis://" + conntest.RedisAddr(t) }, "goredis", "(goredis driver)"},
		{"redis radix", func(t *testing.T) string { return "redis://" + conntest.RedisAddr(t) }, "radix", "(radix driver)"},
		{"cluster", func(t *testing.T) string {
			return "redis+cluster://" + strings.Join(conntest.ClusterAddrs(t), ",")
		}, "goredis", "(goredis driver)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out bytes.Buffer
			prefix := fmt.Sprintf("rctest-demo-%d", time.Now().UnixNano())
			start := time.Now()
			err := Run(ctx, &out, url, WithTTL(500*time.Millisecond), WithLoadDelay(50*time.Millisecond),
				WithPrefix(prefix), WithDriver(tt.driver))
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("Run took %s", el)
			}
			text := out.String()
			for _, s := range []string{tt.says, "key " + prefix + ":load_something", "waiting ", "for the 500ms TTL to run out",
				"the loader ran: slow", "served from Redis: fast", "expired: the loader ran again",
				"7 requests, 2 loads, 2 misses, 5 hits"} {
				if !strings.Contains(text, s) {
					t.Errorf("output lacks %q:\n%s", s, text)
				}
			}
			if want := []string{"MISS", "HIT", "HIT", "HIT", "MISS", "HIT", "HIT"}; !slices.Equal(played(text), want) {
				t.Errorf("played %v, want %v:\n%s", played(text), want, text)
			}
			if strings.Contains(text, "unexpected") || strings.Contains(text, "cache trouble") {
				t.Errorf("the demo went wrong:\n%s", text)
			}
		})
	}
}

func TestRunUnreachable(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), &out, "redis://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "cannot reach Redis at redis://127.0.0.1:1") {
		t.Fatalf("Run against nothing: %v", err)
	}
}

func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	err := Run(ctx, &out, "", WithTTL(5*time.Second))
	if err == nil {
		t.Fatal("Run with a short context: no error")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Run took %s to notice its context ended", el)
	}
}
