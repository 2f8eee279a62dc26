package core

import (
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
)

// Stats returns the counters of this function alone; [Manager.Stats]
// sums them over every function of the Manager. NearActive and Breaker
// are the Manager's, as the near cache's subscription and the breakers
// are shared by its functions.
func (c *Memo[A, V]) Stats() Stats { return c.e.statsSnapshot() }

// Stats returns the counters of this function alone; see [Memo.Stats].
func (c *Memo0[V]) Stats() Stats { return c.e.statsSnapshot() }

// Stats returns the counters of this function alone; see [Memo.Stats].
func (c *Memo2[A, B, V]) Stats() Stats { return c.e.statsSnapshot() }

func (e *engine[V]) statsSnapshot() Stats {
	s := e.stats.snapshot()
	s.NearActive = e.m.near.active.Load()
	s.Breaker = e.m.breakerState()
	return s
}

// snapshot reads the counters one by one, without a lock.
func (s *counters) snapshot() Stats {
	near := s.near.Load() // once: NearHits is part of Hits
	return Stats{
		Hits:           s.hits.Load() + near,
		NearHits:       near,
		StaleHits:      s.stale.Load(),
		NegativeHits:   s.negative.Load(),
		Misses:         s.misses.Load(),
		Loads:          s.loads.Load(),
		LoadErrors:     s.loadErrors.Load(),
		LoadPanics:     s.loadPanics.Load(),
		RedisErrors:    s.redisErrors.Load(),
		CorruptEntries: s.corrupt.Load(),
		EncodeErrors:   s.encodeErrors.Load(),
		Bypassed:       s.bypassed.Load(),
		Panics:         s.panics.Load(),
		FencedStores:   s.fenced.Load(),
		FailSafeHits:   s.failSafe.Load(),
		LockWaits:      s.lockWaits.Load(),
		LockFailOpen:   s.lockFailOpen.Load(),
		LockLost:       s.lockLost.Load(),
	}
}

// count adds one to a counter of the Manager and the same counter of
// the function.
func count(manager, function *atomic.Uint64) {
	manager.Add(1)
	function.Add(1)
}

// reported returns the counter a reported error adds to, or nil for the
// reports that the call counts itself (Bypassed).
func (s *counters) reported(op Op, err error) *atomic.Uint64 {
	switch {
	case op == OpLoader:
		return nil // counted as a load error (a loader's panic too)
	case errors.Is(err, ErrPanic):
		return &s.panics
	case errors.Is(err, ErrCorruptEntry):
		return &s.corrupt
	case errors.Is(err, ErrLockLost):
		return nil // counted as LockLost: no Redis call failed
	case op == OpEncode:
		return &s.encodeErrors
	case op == OpBreaker, op == OpResolve:
		return nil
	}
	return &s.redisErrors
}

// countReport counts a reported error in the Manager's counters and in
// those of the function it came from, if any.
func (m *Manager) countReport(cfg *config, op Op, err error) {
	if c := m.stats.reported(op, err); c != nil {
		c.Add(1)
	}
	if fs := cfg.hooks.stats; fs != nil {
		if c := fs.reported(op, err); c != nil {
			c.Add(1)
		}
	}
}

// String returns the counters on one line, the ones that are zero and
// say nothing left out, for logs and the command line:
//
//	12 hits (3 near, 1 stale), 4 misses, 4 loads (1 failed), 2 redis errors, 0.75 hit ratio, breaker closed
func (s Stats) String() string {
	var b strings.Builder
	part := func(n uint64, what string) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(n, 10))
		b.WriteByte(' ')
		b.WriteString(what)
	}
	sub := func(parts ...string) {
		var in []string
		for i := 0; i+1 < len(parts); i += 2 {
			if parts[i] != "0" {
				in = append(in, parts[i]+" "+parts[i+1])
			}
		}
		if len(in) > 0 {
			b.WriteString(" (" + strings.Join(in, ", ") + ")")
		}
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	part(s.Hits, plural(s.Hits, "hit", "hits"))
	sub(u(s.NearHits), "near", u(s.StaleHits), "stale")
	part(s.Misses, plural(s.Misses, "miss", "misses"))
	part(s.Loads, plural(s.Loads, "load", "loads"))
	sub(u(s.LoadErrors), "failed", u(s.LoadPanics), "panicked")
	for _, c := range []struct {
		n    uint64
		what string
	}{
		{s.NegativeHits, "cached errors served"},
		{s.RedisErrors, "redis errors"},
		{s.CorruptEntries, "corrupt entries"},
		{s.EncodeErrors, "encode errors"},
		{s.Bypassed, "bypassed"},
		{s.Panics, "callback panics"},
		{s.FencedStores, "fenced stores"},
		{s.FailSafeHits, "fail-safe values served"},
		{s.LockWaits, "answered after a lock wait"},
		{s.LockFailOpen, "loads without the lock"},
		{s.LockLost, "locks lost"},
	} {
		if c.n != 0 {
			part(c.n, c.what)
		}
	}
	if looked := s.Hits + s.Misses; looked > 0 {
		b.WriteString(", " + strconv.FormatFloat(float64(s.Hits)/float64(looked), 'f', 2, 64) + " hit ratio")
	}
	b.WriteString(", breaker " + s.Breaker.String())
	if s.NearActive {
		b.WriteString(", near cache active")
	}
	return b.String()
}

func plural(n uint64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
