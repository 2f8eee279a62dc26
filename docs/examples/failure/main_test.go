package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "cache:failure.*")
	logs := &syncBuffer{} // go-redis logs from goroutines of its own
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	redis.SetLogger(goRedisLog{logger})
	var out bytes.Buffer
	if err := run(context.Background(), &out, url, logger); err != nil {
		t.Fatal(err)
	}
	const want = `Redis down:
  values [1 4 9 16 25 36 49 64]
  8 loads, 5 redis errors, 3 bypassed, breaker open
  reported: 5 generation reads, 1 breaker opening
Redis hangs:
  10 calls in under a second: true; 3 timed out, 7 bypassed, breaker open
a corrupt entry:
  2 calls, 1 load: the corrupt entry was a miss, then overwritten; 1 reported corrupt
a loader panics:
  error: redcache: loader panicked: runtime error: index out of range [1] with length 0 (ErrPanic: true, stack: true)
  cached: false <nil>
the caller gives up:
  the caller: context deadline exceeded
  later: cached true 16 <nil>
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	// The error handler logged through slog, with the step that failed.
	for _, s := range []string{`msg="cache trouble" op=generation func=failure.square`, `op=breaker`} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("the log has no %q:\n%s", s, logs.String())
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
