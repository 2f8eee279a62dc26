package paginate

import (
	"errors"
	"fmt"

	"github.com/redcache/redcache/conn"
)

var (
	// ErrMiss reports that the list is not in Redis: it was never
	// written, it expired, or it was deleted. A page that holds an item
	// that cannot be read (see [ErrCorruptItem]) is a miss too: the
	// error matches both, so a cache in front of a loader fills the list
	// again rather than serve a page with a hole or a wrong item.
	ErrMiss = errors.New("redcache/paginate: list not in Redis")

	// ErrCorruptItem reports an item whose bytes are not an entry of this
	// list: corrupt, written by another list or another codec, or missing
	// from the item hash. It never comes alone: the error also matches
	// [ErrMiss], and wraps the cause (format.ErrCorruptEntry,
	// format.ErrNewerEntry, or the codec's codec.ErrDecode).
	ErrCorruptItem = errors.New("redcache/paginate: corrupt or foreign item")

	// ErrBadCursor reports a cursor that this list did not issue: not a
	// cursor at all, altered, or issued by another list. Cursors are
	// signed (see [Cursor]), so a forged cursor is always this error and
	// never a page.
	ErrBadCursor = errors.New("redcache/paginate: bad cursor")

	// ErrStaleCursor reports a cursor issued for a version of the list
	// that a Replace has since replaced (or that expired): its positions
	// mean nothing in the new list. Start again from the first page. It
	// matches [ErrBadCursor] too, since a cursor whose version is gone
	// can no longer be verified.
	ErrStaleCursor = fmt.Errorf("%w: the list was replaced since the cursor was issued", ErrBadCursor)

	// ErrIncomplete reports a Replace whose new version did not reach
	// Redis whole (a command of its pipeline failed, or its staging keys
	// expired). The list was not switched: readers still see the old
	// version.
	ErrIncomplete = errors.New("redcache/paginate: replace incomplete, the old list is kept")
)

// badArg returns an error matching conn.ErrBadArg, the one sentinel for
// arguments refused before anything reaches Redis.
func badArg(format string, args ...any) error {
	return fmt.Errorf("redcache/paginate: %w: %s", conn.ErrBadArg, fmt.Sprintf(format, args...))
}

// corruptItem is the error of a page holding an unreadable item.
func corruptItem(id string, cause error) error {
	return fmt.Errorf("%w (%w): item %q: %w", ErrMiss, ErrCorruptItem, id, cause)
}
