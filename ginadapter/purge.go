package ginadapter

import (
	"context"
	"fmt"
	"strings"
)

// Purges work by core's tags: every cached response carries a tag for its
// route and one for each prefix of its path ("/", "/a", "/a/b", ... up to
// a depth of 8 segments, WithMaxLevels aside), and a purge invalidates
// one tag with Manager.InvalidateTag. Every response that carries it
// becomes a miss: at once in the process that purged, within the
// generation refresh interval (WithPurgeRefresh) in the others. Entries
// are never deleted: they expire by their ttl. A handler that was
// running during a purge does not store its response (core's fence).

// routeTag is the tag of the responses of route, in the cache named name.
func routeTag(name, route string) string { return "gin:" + name + ":route:" + route }

// pathTag is the tag of the responses whose path is at or below the
// path prefix level, in the cache named name.
func pathTag(name, level string) string { return "gin:" + name + ":path:" + level }

// tags returns the tags of a request's response: its route's, then its
// path prefixes'.
func (rc *ResponseCache) tags(route, path string) []string {
	levels := pathLevels(path, rc.cfg.maxLevels)
	tags := make([]string, 0, len(levels)+1)
	tags = append(tags, routeTag(rc.cfg.name, route))
	for _, l := range levels {
		tags = append(tags, pathTag(rc.cfg.name, l))
	}
	return tags
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

// PurgeRoute makes every cached response of the route (the pattern a
// handler was registered with, gin's c.FullPath(), such as
// "/users/:id") unreachable, in every process that uses a cache of the
// same name with a Manager of the same prefix on the same Redis. It
// uses the Redis the cached responses are in: the Manager's
// core.WithDriver, else WithDriver's, else the driver of ctx, else the
// connection stack's, so that a tenant purges its own Redis.
func (rc *ResponseCache) PurgeRoute(ctx context.Context, route string) error {
	return rc.purge(ctx, routeTag(rc.cfg.name, route))
}

// PurgePrefix makes every cached response whose path starts with prefix,
// at a segment boundary, unreachable: "/users/42" purges "/users/42" and
// "/users/42/posts" but not "/users/420". "/" purges every response of
// the cache. A prefix deeper than 8 segments purges its 8-segment
// ancestor. Like PurgeRoute, it reaches every process.
func (rc *ResponseCache) PurgePrefix(ctx context.Context, prefix string) error {
	levels := pathLevels(prefix, rc.cfg.maxLevels)
	return rc.purge(ctx, pathTag(rc.cfg.name, levels[len(levels)-1]))
}

func (rc *ResponseCache) purge(ctx context.Context, tag string) error {
	ctx = rc.context(ctx)
	if _, err := rc.memo.Driver(ctx); err != nil {
		return fmt.Errorf("redcache/ginadapter: purge: %w", err)
	}
	if err := rc.memo.InvalidateTag(ctx, tag); err != nil {
		return fmt.Errorf("redcache/ginadapter: purge %s: %w", tag, err)
	}
	return nil
}
