package devredis

import (
	"context"
	"testing"

	"github.com/redcache/redcache/conn/goredis"
)

// Without $REDIS_URL, URL starts an embedded Redis that answers.
func TestURLEmbedded(t *testing.T) {
	t.Setenv(EnvURL, "")
	url, stop, err := URL()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	d, err := goredis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if v, err := d.Do(context.Background(), "PING"); err != nil || v != "PONG" {
		t.Fatalf("PING = %v, %v", v, err)
	}
}

func TestURLFromEnv(t *testing.T) {
	t.Setenv(EnvURL, "redis://example.invalid:6379/0")
	url, stop, err := URL()
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if url != "redis://example.invalid:6379/0" {
		t.Fatalf("URL() = %q", url)
	}
}

func TestClean(t *testing.T) {
	url := TestURL(t)
	d, err := goredis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	for _, k := range []string{"devredis-test:a", "devredis-test:b", "devredis-keep"} {
		if err := d.Set(ctx, k, []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
	}
	defer d.Del(ctx, "devredis-keep")
	Clean(t, url, "devredis-test:*")
	vals, err := d.MGet(ctx, "devredis-test:a", "devredis-test:b", "devredis-keep")
	if err != nil {
		t.Fatal(err)
	}
	if vals[0] != nil || vals[1] != nil || string(vals[2]) != "x" {
		t.Fatalf("after Clean: %q", vals)
	}
}
