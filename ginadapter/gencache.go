package ginadapter

import (
	"reflect"
	"sync"
	"time"

	"github.com/redcache/redcache/conn"
)

// genCache keeps the purge generations this process read, per driver, for
// the refresh interval (WithPurgeRefresh): a request whose generations
// are all known reads none from Redis, so a hit costs one round trip.
// A purge made by this process is known at once; one made by another
// process is seen within the interval, as core's tags are. It holds at
// most genCacheMax generations: beyond that, arbitrary ones are dropped
// and read again when needed, so a site with millions of paths does not
// grow it without bound.
type genCache struct {
	mu sync.Mutex
	m  map[genCacheKey]genEntry
}

const genCacheMax = 1 << 16

type genCacheKey struct {
	d   conn.Driver
	key string
}

type genEntry struct {
	val string
	at  time.Time
}

// genCacheable reports whether d can be a map key.
func genCacheable(d conn.Driver) bool { return d != nil && reflect.TypeOf(d).Comparable() }

// lookup fills vals with the generations of keys known within maxAge,
// and returns the indexes of those it does not know.
func (g *genCache) lookup(d conn.Driver, keys []string, vals []string, maxAge time.Duration, now time.Time) (missing []int) {
	if maxAge <= 0 || !genCacheable(d) {
		missing = make([]int, len(keys))
		for i := range keys {
			missing[i] = i
		}
		return missing
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, k := range keys {
		e, ok := g.m[genCacheKey{d, k}]
		if ok && now.Sub(e.at) < maxAge {
			vals[i] = e.val
			continue
		}
		missing = append(missing, i)
	}
	return missing
}

// store records the generation val of key on d, read (or written) at
// the time at. A value older than the one known is not adopted:
// generations only move forward.
func (g *genCache) store(d conn.Driver, key, val string, at time.Time) {
	if !genCacheable(d) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = make(map[genCacheKey]genEntry)
	}
	k := genCacheKey{d, key}
	if old, ok := g.m[k]; ok && genLess(val, old.val) {
		g.m[k] = genEntry{old.val, at}
		return
	}
	if len(g.m) >= genCacheMax {
		n := 0
		for k := range g.m { // map order: arbitrary victims
			delete(g.m, k)
			if n++; n >= genCacheMax/8 {
				break
			}
		}
	}
	g.m[k] = genEntry{val, at}
}

// genLess compares two generations written as decimal numbers.
func genLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
