package sqlcache

import (
	"context"
	"time"

	"github.com/redcache/redcache/core"
)

// The tags of cached results. A result is tagged with each table it
// reads, with allTag, and with unknownTag when its tables are not known;
// a write invalidates the tags of the tables it writes and unknownTag,
// and allTag when its own tables are not known.
const (
	allTag     = "table:*"
	unknownTag = "table:?"
)

// tableTag is the tag of a table's cached results.
func tableTag(table string) string { return "table:" + table }

// readOpts are the call options of a cached read.
func (cn *Connector) readOpts(ttl time.Duration, tags []string) []core.CallOption {
	return []core.CallOption{core.TTL(ttl), core.Tags(tags...)}
}

// invalidate drops the cached results tagged with any of tags, in every
// process: one generation bump per tag (core's tags), O(1) whatever the
// number of results.
func (cn *Connector) invalidate(ctx context.Context, tags []string) error {
	return cn.m.InvalidateTag(ctx, tags...)
}
