package bench

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn/conntest"
)

// TestRunTiny runs every workload for a few milliseconds against the
// test Redis and checks that the report has every section and sane
// figures. It asserts no timing: speed is for the full run to show.
func TestRunTiny(t *testing.T) {
	addr := conntest.RedisAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := Run(ctx, Config{Mode: tiny, Redis: addr, Progress: &progress, Command: "redcache bench --test"})
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}

	wantTables := []string{"hit1", "hit64", "miss", "zipf64", "zipf", "stampede", "batch", "sql", "sqlcache", "paginate", "http", "ginresp"}
	if len(rep.Tables) != len(wantTables) {
		t.Errorf("got %d tables, want %d", len(rep.Tables), len(wantTables))
	}
	for _, id := range wantTables {
		tb := rep.Table(id)
		if tb == nil {
			t.Errorf("no table %q", id)
			continue
		}
		if len(tb.Rows) < 2 {
			t.Errorf("%s: %d rows, want a comparison", id, len(tb.Rows))
		}
		redcache := 0
		for _, r := range tb.Rows {
			if r.Failed != "" {
				t.Errorf("%s/%s did not run: %s", id, r.Subject, r.Failed)
				continue
			}
			if r.Ops <= 0 || r.OpsPerSec <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.AllocsPerOp < 0 {
				t.Errorf("%s/%s: insane figures: ops %d, ops/s %.1f, p50 %v, p99 %v, allocs/op %.1f",
					id, r.Subject, r.Ops, r.OpsPerSec, r.P50, r.P99, r.AllocsPerOp)
			}
			if r.Redcache {
				redcache++
				// redcache never fails a call for Redis trouble: an error
				// here is a harness or core bug.
				if r.Errors != 0 {
					t.Errorf("%s/%s: %d errors: %v", id, r.Subject, r.Errors, r.Notes)
				}
			} else if r.Errors != 0 {
				t.Logf("%s/%s: %d errors: %v", id, r.Subject, r.Errors, r.Notes)
			}
		}
		if redcache < 2 {
			t.Errorf("%s: %d redcache rows, want one per driver at least", id, redcache)
		}
	}

	st := rep.Table("stampede")
	for _, name := range []string{"redcache/goredis", "redcache/radix"} {
		r := st.Row(name)
		if r == nil {
			t.Errorf("stampede: no row %s", name)
			continue
		}
		for i, calls := range r.LoaderCalls {
			if calls != 1 {
				t.Errorf("stampede %d, %s: %d loader calls, want exactly 1", i, name, calls)
			}
		}
		if len(r.LoaderCalls) == 0 {
			t.Errorf("stampede, %s: no loader call counted", name)
		}
	}
	if raw := st.Row("raw go-redis GET+decode"); raw != nil && sum(raw.LoaderCalls) <= 1 {
		t.Errorf("stampede, raw go-redis: %v loader calls; without stampede control it should run the loader for many callers", raw.LoaderCalls)
	}

	if len(rep.Targets) != 7 {
		t.Errorf("got %d targets, want 7", len(rep.Targets))
	}
	for _, tg := range rep.Targets {
		if tg.Status == "" || tg.Figure == "" {
			t.Errorf("target %q: status %q, figure %q", tg.Goal, tg.Status, tg.Figure)
		}
		if strings.HasPrefix(tg.Goal, "Stampede") && tg.Status != Met {
			t.Errorf("stampede target: %s (%s)", tg.Status, tg.Figure)
		}
	}
	if rep.RedisVersion == "" || rep.RedisVersion == "unknown" {
		t.Errorf("RedisVersion = %q", rep.RedisVersion)
	}

	md := string(rep.Markdown("performance.svg"))
	for _, want := range []string{
		"# Performance", "## Targets", "## Machine and versions", "## How to reproduce", "## Fairness notes", "## Workloads",
		"![Cache hits, 64 goroutines", "(performance.svg)", "redcache bench --test",
		"### Hit path, 1 goroutine", "### Hit path, 64 goroutines", "### Miss and fill", "### 90% reads",
		"### Stampede", "### Batch of 100 keys", "### SQL query", "### Page fetch at depth", "### HTTP cached route",
		"paginate/radix, depth",
		"github.com/go-redis/cache/v9", "shared", "x go-redis/cache",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	svg := string(rep.SVG())
	if !strings.HasPrefix(svg, "<svg ") || !strings.HasSuffix(svg, "</svg>\n") || !strings.Contains(svg, "redcache/radix") {
		t.Errorf("SVG malformed:\n%s", svg)
	}
	if t.Failed() {
		t.Logf("Markdown:\n%s", md)
	}
}

func TestParseAddr(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"127.0.0.1:6379", "127.0.0.1:6379", nil},
		{"localhost:7000", "localhost:7000", nil},
		{"[::1]:6379", "[::1]:6379", nil},
		{"127.3.2.1:1", "127.3.2.1:1", nil},
		{"redis://127.0.0.1:7001", "127.0.0.1:7001", nil},
		{"redis://127.0.0.1", "127.0.0.1:6379", nil},
		{"redis://localhost:7001/0", "localhost:7001", nil},
		{"10.0.0.5:6379", "", ErrNotLoopback},
		{"192.168.1.2:6379", "", ErrNotLoopback},
		{"8.8.8.8:6379", "", ErrNotLoopback},
		{"redis://10.1.2.3:6379", "", ErrNotLoopback},
	} {
		got, err := ParseAddr(ctx, tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("ParseAddr(%q) = %q, %v; want %v", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "127.0.0.1", "127.0.0.1:port", "rediss://127.0.0.1:6379", "redis://u:p@127.0.0.1:6379", "redis://127.0.0.1:6379/3"} {
		if got, err := ParseAddr(ctx, bad); err == nil {
			t.Errorf("ParseAddr(%q) = %q, nil; want an error", bad, got)
		}
	}
}

func TestStartRedis(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("no redis-server on PATH")
	}
	s, err := startRedis(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(s.addr); err != nil {
		t.Errorf("PING %s: %v", s.addr, err)
	}
	if !strings.HasPrefix(s.addr, "127.0.0.1:") {
		t.Errorf("started on %s, want loopback", s.addr)
	}
	s.stop()
	if err := ping(s.addr); err == nil {
		t.Errorf("redis-server on %s still answers after stop", s.addr)
	}
}

func TestResultFigures(t *testing.T) {
	r := result{ops: 1000, elapsed: 2 * time.Second, mallocs: 3500}
	for i := 1; i <= 100; i++ {
		r.lat = append(r.lat, time.Duration(101-i)*time.Microsecond)
	}
	r.finish()
	if got := r.percentile(50); got != 50*time.Microsecond {
		t.Errorf("p50 = %v, want 50µs", got)
	}
	if got := r.percentile(99); got != 99*time.Microsecond {
		t.Errorf("p99 = %v, want 99µs", got)
	}
	if got := r.opsPerSec(); got != 500 {
		t.Errorf("ops/s = %v, want 500", got)
	}
	if got := r.allocsPerOp(); got != 3.5 {
		t.Errorf("allocs/op = %v, want 3.5", got)
	}
	var m result
	for _, rate := range []float64{100, 900, 300, 200, 250} {
		m.merge(result{ops: int64(rate), elapsed: time.Second})
	}
	if got := m.opsPerSec(); got != 250 {
		t.Errorf("median of rounds = %v, want 250", got)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{thousands(1234567.4), "1,234,567"},
		{thousands(999), "999"},
		{thousands(4.25), "4.2"},
		{ratio(1.314), "1.31x"},
		{ratio(12.34), "12.3x"},
		{ratio(250.4), "250x"},
		{dur(850 * time.Nanosecond), "850ns"},
		{dur(23456 * time.Nanosecond), "23.5µs"},
		{dur(1234567 * time.Nanosecond), "1.23ms"},
		{compact(250000), "250k"},
		{compact(1500000), "1.5M"},
		{cell("a|b\nc"), `a\|b c`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
