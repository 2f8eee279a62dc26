// Package sqlcache caches the results of database/sql queries in Redis,
// for any driver, and invalidates them when a statement writes their
// tables.
//
// It wraps a driver's connector: the *sql.DB opened on the wrapper runs
// every statement on the driver as before, and caches the results of the
// queries asked to be cached, through a core.Manager (its Redis, prefix,
// timeouts, circuit breaker and error handler):
//
//	c, err := sqlcache.NewConnector(base, m) // base: the driver's connector
//	db := sql.OpenDB(c)
//	// or: db, err := sqlcache.Open("pgx", dsn, m)
//
// # Opting in
//
// Nothing is cached by default. A query is cached when its context says
// so, with Cache(ctx, ttl), or when its text holds a comment addressed to
// this package:
//
//	SELECT name FROM users WHERE id = $1 /* redcache: ttl=5m */
//	SELECT ... FROM report_view /* redcache: ttl=1m tables=orders,users */
//
// The comment's keys are ttl (a Go duration), tables (the tables the
// result depends on, in place of the parsed ones) and the bare word off.
// A comment that starts with "redcache" and cannot be read fails the
// query with ErrBadAnnotation, rather than caching something else.
//
// # Keys
//
// A result's key is the query's text, with comments dropped and spaces
// collapsed, and its arguments after the driver converted them, each
// typed and delimited, so that no two different queries share a key.
//
// # Invalidation
//
// Each cached result is tagged with the tables it reads (the names after
// FROM and JOIN, at every depth). A statement that writes (INSERT, UPDATE,
// DELETE, MERGE, TRUNCATE, ALTER, DROP, ..., also inside a CTE or in a
// batch of statements) invalidates the tags of the tables it writes, in
// every process. A write whose tables cannot be parsed invalidates every
// cached result of the Connector; a read whose tables cannot be parsed is
// invalidated by every write. Tables (a context) and the tables= key name
// them where parsing cannot: views, triggers, stored procedures.
//
// Inside a transaction, reads bypass the cache (they see the
// transaction's own writes) and the writes invalidate at Commit, not at
// Rollback. Other processes see an invalidation within their
// core.WithGenerationRefresh interval; a load in flight when its tables
// were invalidated returns its rows but does not store them.
//
// # Results
//
// A cached result keeps its column names, each column's database type
// name, nullability, length, precision, scale and scan type as the driver
// gave them, and every value exactly (int64, float64, bool, []byte,
// string, time.Time with its location, nil; other types through
// WithValueCodec). A result over WithMaxRows or WithMaxBytes, or with
// several result sets, is returned whole and not cached. Concurrent
// identical cached queries make one database query per process.
//
// One, List and ByID read objects through cached queries with a scan
// function.
//
// # Redis trouble
//
// Every query returns the database's answer whatever Redis does: a read
// that cannot use Redis goes to the database, and the trouble goes to the
// Manager's error handler and stats; a write whose invalidation fails
// succeeds, and the failure goes to WithErrorHandler as ErrInvalidation.
package sqlcache
