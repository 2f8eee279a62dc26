package demo

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/docs/examples/quickstart/app"
)

// played returns the CACHE column of the demo's request lines.
func played(out string) []string {
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^ +\d+ +[\d.]+s  (MISS|HIT) +[\d.]+ms  `).FindAllStringSubmatch(out, -1) {
		got = append(got, m[1])
	}
	return got
}

// The demo plays the README's program: its function, name, codec and key,
// with either driver, on a Redis, a cluster or the embedded one.
func TestRun(t *testing.T) {
	key, err := app.LoadSomething().Key("42")
	if err != nil {
		t.Fatal(err)
	}
	if key != "cache:something:s2:42" {
		t.Fatalf("the quick start's key is %q, the README says cache:something:s2:42", key)
	}
	tests := []struct {
		name   string
		url    func(*testing.T) string
		driver string
		says   string
	}{
		{"embedded", func(*testing.T) string { return "" }, "goredis", "embedded, in-process Redis (miniredis) at 127.0.0.1:"},
		{"redis radix", func(t *testing.T) string { return "redis://" + conntest.RedisAddr(t) }, "radix", "(radix driver)"},
		{"cluster", func(t *testing.T) string {
			return "redis+cluster://" + strings.Join(conntest.ClusterAddrs(t), ",")
		}, "goredis", "(goredis driver)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out bytes.Buffer
			err := Run(ctx, &out, url, WithLoadDelay(50*time.Millisecond), WithDriver(tt.driver))
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			text := out.String()
			for _, s := range []string{tt.says, "key " + key + ", Gob codec",
				`core.Memoize(core.Default, "something", loadSomethingFromSomewhere, core.WithTTL(5*time.Second))`,
				"waiting ", "for the 5s TTL to run out",
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

// With WithFallback, a Redis that does not answer is replaced by the
// embedded one, and the demo says so.
func TestRunFallback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := Run(ctx, &out, "redis://127.0.0.1:1", WithFallback(true), WithLoadDelay(10*time.Millisecond), WithDriver("radix"))
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	for _, s := range []string{"cannot reach Redis at redis://127.0.0.1:1", "playing on an embedded Redis instead",
		"embedded, in-process Redis (miniredis) at 127.0.0.1:", "the Redis given does not answer", "7 requests, 2 loads"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	err := Run(ctx, &out, "")
	if err == nil {
		t.Fatal("Run with a short context: no error")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Run took %s to notice its context ended", el)
	}
}
