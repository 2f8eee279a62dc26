package sqlcache

import (
	"context"
	"time"
)

type ctxKey int

const (
	ttlKey ctxKey = iota
	tablesKey
)

// Cache returns a context whose queries through a wrapped database are
// cached for ttl. Nothing is cached without it (or a "redcache: ttl="
// comment in the query, which wins over it); ttl <= 0 turns caching off
// for the context's queries.
//
//	rows, err := db.QueryContext(sqlcache.Cache(ctx, time.Minute), "SELECT ...")
//
// Queries inside a transaction are never cached, whatever the context.
func Cache(ctx context.Context, ttl time.Duration) context.Context {
	return context.WithValue(ctx, ttlKey, ttl)
}

// Tables returns a context that names the tables of its statements, in
// place of the ones parsed from their text: the tables a cached query's
// result depends on (say, those under a view), or those a write changes
// (say, through a trigger or a stored procedure). Names are compared
// without their schema and case, as parsed ones are.
func Tables(ctx context.Context, tables ...string) context.Context {
	names := make([]string, 0, len(tables))
	for _, t := range tables {
		if n := normalTable(t); n != "" {
			names = append(names, n)
		}
	}
	return context.WithValue(ctx, tablesKey, names)
}

func ctxTTL(ctx context.Context) time.Duration {
	d, _ := ctx.Value(ttlKey).(time.Duration)
	return d
}

func ctxTables(ctx context.Context) ([]string, bool) {
	t, ok := ctx.Value(tablesKey).([]string)
	return t, ok
}
