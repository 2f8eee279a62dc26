package sqlcache

import (
	"context"
	"database/sql"
	"time"
)

// Scanner is what a scan function reads a row from: a *sql.Rows, whose
// Scan it calls.
type Scanner interface {
	Scan(dest ...any) error
}

// Querier runs queries: a *sql.DB opened on a Connector, or a *sql.Conn
// or *sql.Tx of one (a transaction's reads are never cached).
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// One runs query, cached for ttl, and returns its first row read by
// scan, or an error that matches sql.ErrNoRows when there is none: one
// object by its id, as the original's SQLAlchemy example did.
//
//	u, err := sqlcache.One(ctx, db, time.Minute, scanUser,
//		"SELECT id, name FROM users WHERE id = $1", id)
//
// The cache holds the rows, not the object: scan runs on every call, and
// a write to the query's tables invalidates it as any cached query.
func One[T any](ctx context.Context, db Querier, ttl time.Duration, scan func(Scanner) (T, error), query string, args ...any) (T, error) {
	var zero T
	rows, err := db.QueryContext(Cache(ctx, ttl), query, args...)
	if err != nil {
		return zero, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return zero, err
		}
		return zero, sql.ErrNoRows
	}
	v, err := scan(rows)
	if err != nil {
		return zero, err
	}
	return v, rows.Close()
}

// List runs query, cached for ttl, and returns every row read by scan: a
// list of objects per query.
func List[T any](ctx context.Context, db Querier, ttl time.Duration, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(Cache(ctx, ttl), query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ByID is a cached query for one object by its id, set up once: its Get
// is One with the query, ttl and scan function it was made with.
type ByID[K any, T any] struct {
	db    Querier
	ttl   time.Duration
	query string
	scan  func(Scanner) (T, error)
}

// NewByID returns a ByID that runs query (which takes the id as its only
// argument) on db, cached for ttl, and reads its row with scan.
func NewByID[K any, T any](db Querier, ttl time.Duration, query string, scan func(Scanner) (T, error)) *ByID[K, T] {
	return &ByID[K, T]{db: db, ttl: ttl, query: query, scan: scan}
}

// Get returns the object of id, or an error that matches sql.ErrNoRows.
func (b *ByID[K, T]) Get(ctx context.Context, id K) (T, error) {
	return One(ctx, b.db, b.ttl, b.scan, b.query, id)
}
