package sqlcache

import "errors"

var (
	// ErrBadAnnotation is the error of a query whose "redcache:" comment
	// cannot be read (an unknown key, a ttl that is not a positive
	// duration, a ttl on a statement that writes): the query is not run,
	// so that a typo never caches, or fails to invalidate, something else
	// than what was asked.
	ErrBadAnnotation = errors.New("redcache/sqlcache: bad redcache annotation")

	// ErrUnsupportedValue reports a column value of a type that has no
	// codec (see [WithValueCodec]). The query's rows are returned
	// uncached, and the error goes to the error handler.
	ErrUnsupportedValue = errors.New("redcache/sqlcache: a column value of a type without a codec")

	// ErrInvalidation reports that a write could not invalidate the
	// cached results of the tables it touched (Redis was down): they
	// stay until their ttl ends. It goes to the error handler; the write
	// itself succeeded.
	ErrInvalidation = errors.New("redcache/sqlcache: a write could not invalidate cached results")
)

// errTooLarge is the loader's error for a result over the limits, or
// with more than one result set: it is not cached, and each caller runs
// the query uncached.
var errTooLarge = errors.New("redcache/sqlcache: result passes uncached")
