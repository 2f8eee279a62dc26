package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "obs:obs.*")
	var out bytes.Buffer
	if err := run(context.Background(), &out, url); err != nil {
		t.Fatal(err)
	}
	const want = `counters:
level=INFO msg=cache all="2 hits, 3 misses, 3 loads, 0.40 hit ratio, breaker closed" users="2 hits, 2 misses, 2 loads, 0.50 hit ratio, breaker closed"
a throttled log of a Redis that is down:
  50 calls, 50 redis errors, 10 log lines
OpenTelemetry:
  span redcache.redis generation
  span redcache.redis load, child of redcache.get obs.traced
  span redcache.load obs.traced, child of redcache.get obs.traced
  span redcache.redis save, child of redcache.get obs.traced
  span redcache.get obs.traced (miss)
  span redcache.redis load, child of redcache.get obs.traced
  span redcache.get obs.traced (hit)
  metric redcache.gets: hit=1 miss=1
an observer of your own:
  misses of obs.counted: 3 in 6 calls
`
	// A load that found its key empty stores with one script that checks
	// the generation; one that found an entry there (left by an earlier
	// run against the same Redis, in an older generation) reads the
	// generation first. Both are right: the trace is compared without
	// that read.
	got := strings.ReplaceAll(out.String(), "  span redcache.redis generation, child of redcache.get obs.traced\n", "")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
