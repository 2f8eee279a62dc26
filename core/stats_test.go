package core_test

import (
	"testing"

	"github.com/redcache/redcache/core"
)

func TestStatsString(t *testing.T) {
	for _, c := range []struct {
		s    core.Stats
		want string
	}{
		{core.Stats{}, "0 hits, 0 misses, 0 loads, breaker closed"},
		{core.Stats{Hits: 1, Misses: 1, Loads: 1}, "1 hit, 1 miss, 1 load, 0.50 hit ratio, breaker closed"},
		{
			core.Stats{Hits: 12, NearHits: 3, StaleHits: 1, Misses: 4, Loads: 4, LoadErrors: 1, RedisErrors: 2, Breaker: core.BreakerOpen, NearActive: true},
			"12 hits (3 near, 1 stale), 4 misses, 4 loads (1 failed), 2 redis errors, 0.75 hit ratio, breaker open, near cache active",
		},
		{
			core.Stats{Misses: 2, Loads: 2, LoadErrors: 2, LoadPanics: 1, NegativeHits: 5, CorruptEntries: 1, EncodeErrors: 1, Bypassed: 9, Panics: 1, FencedStores: 3, Breaker: core.BreakerHalfOpen},
			"0 hits, 2 misses, 2 loads (2 failed, 1 panicked), 5 cached errors served, 1 corrupt entries, 1 encode errors, 9 bypassed, 1 callback panics, 3 fenced stores, 0.00 hit ratio, breaker half-open",
		},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("String() =\n%q\nwant\n%q", got, c.want)
		}
	}
}
