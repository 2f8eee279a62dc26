package core

import (
	"time"

	"github.com/redcache/redcache/core/format"
)

// Expiries. An entry's header says when its value turns stale (the soft
// expiry) and when it ends (the expiry); Redis keeps it a little longer
// when fail-safe asks for it. For a value stored at w with ttl:
//
//	soft expiry   w + fraction*ttl with WithEagerRefresh, else w + ttl with
//	              WithStaleWhileRevalidate, else none
//	expiry        w + ttl + the stale-while-revalidate window: the logical
//	              end of the value
//	Redis TTL     the expiry + the fail-safe window
//
// A read past the soft expiry serves the value and refreshes it in the
// background: an eager refresh while it is before w + ttl (the expiry
// less the stale window), a stale hit after. A read past the expiry
// finds a value that only fail-safe may serve (failsafe.go). The format
// needs nothing new: a reader tells the three apart with the header's
// two times and its own settings.

// WithEagerRefresh refreshes a value before it expires: a read past
// fraction of the value's TTL still gets the value at once, a fresh hit,
// and starts one background reload of the key (however many readers,
// as for [WithStaleWhileRevalidate]), so that a key read often never
// expires under its readers. Only keys that are read are refreshed. It
// needs a TTL; fraction must be in (0, 1), anything else turns it off
// (the default). 0.8 reloads a value in the last fifth of its life.
//
// The reload is stored only over the entry it saw (it is fenced as any
// load) and ends with [Manager.Close]. A near copy ([WithNearCache])
// lives until the eager-refresh point at most, so that the read that
// triggers the refresh reaches Redis.
func WithEagerRefresh(fraction float64) Option {
	return option(func(c *config) {
		if fraction <= 0 || fraction >= 1 {
			fraction = 0
		}
		c.eager = fraction
	})
}

// expiries sets the soft expiry and the expiry of ent, stored now for
// ttl (0: for ever), and returns the TTL to store it for in Redis and
// the time a near copy must be gone by (0: none).
func (e *engine[V]) expiries(ent *format.Entry, ttl time.Duration, now time.Time) (redisTTL time.Duration, until int64) {
	if ttl <= 0 {
		return 0, 0
	}
	switch {
	case e.cfg.eager > 0:
		ent.SoftExpiry = now.Add(max(time.Duration(e.cfg.eager*float64(ttl)), time.Millisecond))
	case e.cfg.stale > 0:
		ent.SoftExpiry = now.Add(ttl)
	}
	life := ttl + e.cfg.stale
	ent.Expiry = now.Add(life)
	until = ent.Expiry.UnixNano()
	if !ent.SoftExpiry.IsZero() {
		until = ent.SoftExpiry.UnixNano()
	}
	return life + e.cfg.failSafe, until
}

// aged is what a read at now makes of the times of the value entry ent:
// statusHit while it is fresh, statusEager past its eager-refresh point,
// statusStale in its stale-while-revalidate window, statusExpired past
// its expiry (Redis still holds it for fail-safe).
func (e *engine[V]) aged(ent format.Entry, now int64) status {
	if !ent.Expiry.IsZero() && now >= ent.Expiry.UnixNano() {
		return statusExpired
	}
	if ent.SoftExpiry.IsZero() || now < ent.SoftExpiry.UnixNano() {
		return statusHit
	}
	if e.cfg.eager > 0 && !ent.Expiry.IsZero() && now < ent.Expiry.UnixNano()-int64(e.cfg.stale) {
		return statusEager
	}
	return statusStale
}

// readAged ends a read that found a value due for an eager refresh (a
// hit, refreshed in the background by finish) or expired (a miss, with
// the value as the fail-safe fallback when fail-safe is on).
func (e *engine[V]) readAged(v V, p pending, st status) (V, pending, error) {
	if st == statusEager {
		count(&e.m.stats.hits, &e.stats.hits)
		p.stale, p.outcome = true, OutcomeHit
		return v, p, nil
	}
	count(&e.m.stats.misses, &e.stats.misses)
	p.load, p.store = true, true
	if e.cfg.failSafe > 0 {
		p.fallback = true
		return v, p, nil
	}
	var zero V
	return zero, p, nil
}
