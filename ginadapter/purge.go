package ginadapter

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redcache/redcache/conn"
)

// Purges work by generation: every cached response's key holds the
// generation of its route and of each prefix of its path ("/", "/a",
// "/a/b", ... up to a depth of 8 segments), read from Redis with one
// MGET before the lookup, unless this process read it within the refresh
// interval (see genCache). A purge moves one of them on, so every entry
// under it becomes unreachable: at once in the process that purged,
// within the refresh interval in the others. Entries are never deleted:
// they expire by their ttl. A generation is moved to the clock in milliseconds, or one past
// its value when that is ahead, so that it never goes back even when its
// key was lost.

var bumpScript = conn.NewScript(`
local v = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local t = tonumber(ARGV[1])
if t <= v then t = v + 1 end
redis.call('SET', KEYS[1], t)
return t`)

// genKeys returns the generation keys of a request: its route's, then
// its path prefixes'.
func (rc *ResponseCache) genKeys(route, path string) []string {
	levels := pathLevels(path, rc.cfg.maxLevels)
	keys := make([]string, 0, len(levels)+1)
	keys = append(keys, rc.genBase+"route:"+route)
	for _, l := range levels {
		keys = append(keys, rc.genBase+"path:"+l)
	}
	return keys
}

// pathLevels returns "/" and every prefix of path that ends at a segment,
// the deepest first cut at max segments.
func pathLevels(path string, max int) []string {
	out := []string{"/"}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	cur := ""
	for i, s := range segs {
		if s == "" || i >= max {
			break
		}
		cur += "/" + s
		out = append(out, cur)
	}
	return out
}

// generations returns the generations of a request, as one string for
// its key: those this process read within the refresh interval, and the
// others read from Redis with one MGET.
func (rc *ResponseCache) generations(ctx context.Context, d conn.Driver, route, path string) (string, error) {
	keys := rc.genKeys(route, path)
	vals := make([]string, len(keys))
	now := time.Now()
	if missing := rc.gens.lookup(d, keys, vals, rc.cfg.refresh, now); len(missing) > 0 {
		want := make([]string, len(missing))
		for j, i := range missing {
			want[j] = keys[i]
		}
		ctx, cancel := context.WithTimeout(ctx, rc.cfg.timeout)
		defer cancel()
		got, err := d.MGet(ctx, want...)
		if err != nil {
			return "", err
		}
		for j, i := range missing {
			v := "0"
			if got[j] != nil {
				v = string(got[j])
			}
			vals[i] = v
			if rc.cfg.refresh > 0 {
				rc.gens.store(d, keys[i], v, now)
			}
		}
	}
	return strings.Join(vals, "."), nil
}

// PurgeRoute makes every cached response of the route (the pattern a
// handler was registered with, gin's c.FullPath(), such as
// "/users/:id") unreachable, in every process that uses a cache of the
// same name on the same Redis. It uses the Redis the cached responses
// are in: the Manager's core.WithDriver, else WithDriver's, else the
// driver of ctx, else the connection stack's, so that a tenant purges
// its own Redis.
func (rc *ResponseCache) PurgeRoute(ctx context.Context, route string) error {
	return rc.bump(ctx, rc.genBase+"route:"+route)
}

// PurgePrefix makes every cached response whose path starts with prefix,
// at a segment boundary, unreachable: "/users/42" purges "/users/42" and
// "/users/42/posts" but not "/users/420". "/" purges every response of
// the cache. A prefix deeper than 8 segments purges its 8-segment
// ancestor. Like PurgeRoute, it reaches every process.
func (rc *ResponseCache) PurgePrefix(ctx context.Context, prefix string) error {
	levels := pathLevels(prefix, rc.cfg.maxLevels)
	return rc.bump(ctx, rc.genBase+"path:"+levels[len(levels)-1])
}

func (rc *ResponseCache) bump(ctx context.Context, key string) error {
	d, err := rc.memo.Driver(rc.context(ctx))
	if err != nil {
		return fmt.Errorf("redcache/ginadapter: purge: %w", err)
	}
	now := time.Now()
	reply, err := d.Eval(ctx, bumpScript, []string{key}, strconv.FormatInt(now.UnixMilli(), 10))
	if err != nil {
		return fmt.Errorf("redcache/ginadapter: purge %s: %w", key, err)
	}
	if n, ok := reply.(int64); ok && rc.cfg.refresh > 0 {
		rc.gens.store(d, key, strconv.FormatInt(n, 10), now) // this process sees it at once
	}
	return nil
}
