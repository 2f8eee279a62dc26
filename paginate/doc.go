// Package paginate keeps lists in Redis item by item and reads them page
// by page, at a cost of O(log N + page size) however deep the page: the
// original's "lists of individual objects retrieved according to
// pagination options", for a Go program.
//
// A [List] is an ordered list (a query's result, a catalogue); a [Sorted]
// is ordered by score, highest first (a feed by time, a leaderboard).
// Both are written whole with Replace, edited with Append, Prepend, Add,
// Remove or SetScore, and read with Page (a page number and size), Range
// (an offset and limit), ByScore, or After (a [Cursor]):
//
//	l, err := paginate.NewList("products", func(p Product) string { return p.SKU })
//	err = l.Replace(ctx, products, time.Hour)
//	page, err := l.Page(ctx, 3, 20) // page.Items, .Total, .HasNext, .Next ...
//	more, err := l.After(ctx, page.Next, 20)
//
// Each call resolves its driver as core does (WithDriver, else the
// context's conn.With, else the connection stack), so a tenant's list
// lives in the tenant's Redis.
//
// # The structure, and why
//
// A plain Redis list (LRANGE) costs O(offset + page): page 50,000 of a
// long list walks 50,000 nodes. A list here is three keys that share the
// hash tag {name}, so that every script touching them runs on one
// Cluster node:
//
//	<prefix>:{<name>}:ptr            the current version and its cursor secret
//	<prefix>:{<name>}:<version>:z    sorted set: item id -> position (List) or score (Sorted)
//	<prefix>:{<name>}:<version>:h    hash: item id -> encoded item
//
// A sorted set answers "the items of ranks i to j" (ZRANGE) in
// O(log N + M) from its skip list, and a hash returns M fields (HMGET) in
// O(M), so a page is O(log N + M) at any depth; one Lua script reads the
// pointer, the page's ids and their items, and the total, in one round
// trip. A List's positions are the scores: Replace numbers the items
// 0..N-1, Append scores an item one above the last (O(log N)), Prepend one
// below the first, and Remove leaves a gap that ranks ignore. Chunks of
// items (a key per 100 items) were the other candidate: as cheap to read,
// but Prepend and Remove would rewrite a chunk, and a cursor could not
// name a place that survives them.
//
// Replace is atomic: it builds the new version under fresh keys, in
// pipelines of up to 1,000 items a command, then a script switches the
// pointer to it once it holds every item, and unlinks the old version.
// A reader, whose page is one script, sees the whole old list or the
// whole new one: never a mix, never an empty gap. A Replace that fails
// half way leaves the old list in place ([ErrIncomplete]), and its
// staging keys expire on their own.
//
// # Items
//
// Each item is encoded on its own with the list's codec (codec.Gob by
// default, as core's), behind core's entry header (package
// github.com/redcache/redcache/core/format): a version, the codec's ID,
// the list's identity, and a CRC-32C over it all. A page decodes only its
// own items. An item that is corrupt, of another list, or of another
// codec makes its page a miss ([ErrMiss] and [ErrCorruptItem]), never a
// wrong item.
//
// # Cursors
//
// Page numbers shift when items are added at the front. A [Cursor] names
// the place after an item by its position (List) or its score and id
// (Sorted), so After stays put while items are appended, prepended,
// removed or rescored. Cursors are signed with HMAC-SHA256 and carry the
// list's identity and version: a forged, altered or foreign cursor is
// [ErrBadCursor], and one from before a Replace is [ErrStaleCursor].
//
// # Costs
//
// Page, Range, After: O(log N + M), one round trip. ByScore: O(log N +
// offset + M). Append, Prepend, Add, Remove, SetScore: O(log N) per item,
// one round trip. Len: O(1). Replace of N items: O(N), in pipelines of
// about 8 MiB each, plus one script. The benchmarks in this module's
// tests module measure page 1 against page 500,000 of a 1,000,000-item
// list; see docs/pagination.md.
package paginate
