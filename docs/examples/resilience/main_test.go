package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "shop:*")
	var out bytes.Buffer
	if err := run(context.Background(), &out, url); err != nil {
		t.Fatal(err)
	}
	const want = `a miss, then a hit:
  api: price widget
  widget: 1999
  widget: 1999
the price expired and the API is down: the expired price is served
  api: price widget
  reported (loader): pricing API unavailable
  widget: 1999
within the throttle, the API is left alone:
  widget: 1999
the API is back but slow: the expired price at the soft timeout
  api: price widget
  widget: 1999
the slow answer was stored when it came:
  widget: 2499
a discontinued product is cached for a minute only:
  api: price discontinued
  discontinued: 0
  kept for about 1m0s, then an hour of fail-safe
stats: 2 hits, 3 fail-safe values served, 4 loads (1 failed)
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
