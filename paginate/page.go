package paginate

import (
	"math"
	"strconv"
)

// Page is one page of a list, with what a client needs to page on. A
// page past the end has no items, and says so: HasNext is false, Total
// still counts the whole list.
type Page[E any] struct {
	// Items are the page's items, in the list's order.
	Items []E
	// Number is the 1-based page number of a [List.Page] or
	// [Sorted.Page]; 0 for a window read by offset or cursor.
	Number int
	// Size is the page size asked for; len(Items) is smaller on the
	// last page.
	Size int
	// Total is the length of the whole list (for a [Sorted.ByScore]
	// page, of the whole list too, not of the score range).
	Total int
	// HasPrev is true when items precede this page (always, for a
	// page read with After: its cursor was taken after an item).
	HasPrev bool
	// HasNext is true when items follow this page.
	HasNext bool
	// Next is the cursor right after the last item, for After; empty
	// when the page has no items.
	Next Cursor
}

// Scored is an item of a [Sorted] list, with its score.
type Scored[T any] struct {
	Item  T
	Score float64
}

// pageBounds checks a page request and returns its rank range.
func pageBounds(number, size int) (start, stop int64, err error) {
	if size <= 0 {
		return 0, 0, badArg("page size %d, must be at least 1", size)
	}
	if number < 1 {
		return 0, 0, badArg("page number %d, pages are numbered from 1", number)
	}
	if int64(number-1) > (math.MaxInt64-int64(size))/int64(size) {
		return 0, 0, badArg("page %d of size %d is past any list", number, size)
	}
	start = int64(number-1) * int64(size)
	return start, start + int64(size) - 1, nil
}

// rangeBounds checks a window request by offset and returns its ranks.
func rangeBounds(offset, limit int) (start, stop int64, err error) {
	if limit <= 0 {
		return 0, 0, badArg("limit %d, must be at least 1", limit)
	}
	if offset < 0 {
		return 0, 0, badArg("offset %d, must be at least 0", offset)
	}
	if int64(offset) > math.MaxInt64-int64(limit) {
		return 0, 0, badArg("offset %d is past any list", offset)
	}
	return int64(offset), int64(offset) + int64(limit) - 1, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
