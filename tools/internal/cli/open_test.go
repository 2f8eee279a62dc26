package cli

import (
	"context"
	"errors"
	"testing"

	"github.com/redcache/redcache/conn/conntest"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://localhost:6379":                        "redis://localhost:6379",
		"redis://u:p@localhost:6379/0":                  "redis://u:xxxxx@localhost:6379/0",
		"redis://:p@h":                                  "redis://:xxxxx@h",
		"redis+cluster://u:p@h1:1,h2:2?dial_timeout=1s": "redis+cluster://u:xxxxx@h1:1,h2:2?dial_timeout=1s",
		"rediss://user@h/":                              "rediss://user@h/",
		"unix://u:p@/tmp/redis.sock":                    "unix://u:xxxxx@/tmp/redis.sock",
		"localhost":                                     "(a URL without a scheme)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		driver, url string
		want        error
	}{
		{"goredis", "http://x", ErrBadURL},
		{"radix", "http://x", ErrBadURL},
		{"jedis", "redis://x", ErrUnknownDriver},
		{"goredis", "redis://127.0.0.1:1", ErrUnreachable},
		{"radix", "redis://127.0.0.1:1", ErrUnreachable},
	} {
		d, err := Open(ctx, tt.driver, tt.url)
		if !errors.Is(err, tt.want) {
			t.Errorf("Open(%s, %s) = %v, want %v", tt.driver, tt.url, err, tt.want)
		}
		if d != nil {
			t.Errorf("Open(%s, %s) returned a driver with an error", tt.driver, tt.url)
		}
	}
}

func TestOpen(t *testing.T) {
	url := "redis://" + conntest.RedisAddr(t)
	for _, driver := range Drivers {
		d, err := Open(context.Background(), driver, url)
		if err != nil {
			t.Fatalf("Open(%s): %v", driver, err)
		}
		_ = d.Close()
	}
}
