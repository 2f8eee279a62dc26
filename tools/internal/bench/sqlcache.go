package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for PostgreSQL
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/sqlcache"
)

// sqlcacheItems is the size of the items table of the sqlcache workload
// (100 rows per category), every row of which is warmed in the cache.
func (e *env) sqlcacheItems() int {
	if e.mode == tiny {
		return 1_000
	}
	return 10_000
}

// sqlcacheSubject is one row of the sqlcache workload: one query, cached
// through one driver or not.
type sqlcacheSubject struct {
	name     string
	redcache bool
	db       *sql.DB
	cached   bool
	query    string
	rows     int
	arg      func(r *rand.Rand) any
	res      result
}

// sqlcacheQueries measures package sqlcache: a query cached in Redis (a
// hit) against the same query on the database, on SQLite (a local file)
// and on PostgreSQL (the one REDCACHE_TEST_POSTGRES names, when set): a
// lookup by primary key, and a list of 100 rows by an indexed column.
func sqlcacheQueries(e *env) (*Table, error) {
	const id = "sqlcache"
	ctx, cancel := context.WithTimeout(e.stop, 5*time.Minute)
	defer cancel()
	gd, err := goredis.Open(ctx, "redis://"+e.addr)
	if err != nil {
		return nil, err
	}
	defer gd.Close()
	rd, err := radix.Open(ctx, "redis://"+e.addr)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	dir, err := os.MkdirTemp("", "redcache-bench-sqlcache-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	type database struct {
		name, driver, dsn string
		param             func(n int) string
	}
	dbs := []database{{"SQLite", "sqlite", "file:" + filepath.Join(dir, "items.db") + "?_pragma=journal_mode(wal)", func(int) string { return "?" }}}
	skippedPG := ""
	if dsn := os.Getenv("REDCACHE_TEST_POSTGRES"); dsn != "" {
		dbs = append(dbs, database{"PostgreSQL", "pgx", dsn, func(n int) string { return fmt.Sprintf("$%d", n) }})
	} else {
		skippedPG = "PostgreSQL not measured: REDCACHE_TEST_POSTGRES is not set (tools/test.sh sets it)."
	}
	var subs []*sqlcacheSubject
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	items := e.sqlcacheItems()
	table := "rcbench_items_" + fmt.Sprint(time.Now().UnixNano()%1e9)
	for _, dbi := range dbs {
		raw, err := sql.Open(dbi.driver, dbi.dsn)
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() {
			_, _ = raw.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+table)
			_ = raw.Close()
		})
		e.logf("   filling %s with %s rows", dbi.name, thousands(float64(items)))
		if err := fillItems(ctx, raw, table, items, dbi.param); err != nil {
			return nil, fmt.Errorf("%s: %w", dbi.name, err)
		}
		pk := fmt.Sprintf("SELECT id, category, name, price FROM %s WHERE id = %s", table, dbi.param(1))
		list := fmt.Sprintf("SELECT id, category, name, price FROM %s WHERE category = %s ORDER BY id", table, dbi.param(1))
		pkArg := func(r *rand.Rand) any { return r.IntN(items) + 1 }
		listArg := func(r *rand.Rand) any { return r.IntN(items / 100) }
		subs = append(subs,
			&sqlcacheSubject{name: dbi.name + " PK lookup, uncached", db: raw, query: pk, rows: 1, arg: pkArg},
			&sqlcacheSubject{name: dbi.name + " 100-row list, uncached", db: raw, query: list, rows: 100, arg: listArg})
		for _, dr := range []struct {
			name string
			d    conn.Driver
		}{{"goredis", gd}, {"radix", rd}} {
			m := core.New(core.WithDriver(dr.d), core.WithPrefix(e.prefix+":"+id+":"+dr.name))
			closers = append(closers, func() { _ = m.Close() })
			cdb, err := sqlcache.Open(dbi.driver, dbi.dsn, m, sqlcache.WithName(dbi.driver))
			if err != nil {
				return nil, err
			}
			closers = append(closers, func() { _ = cdb.Close() })
			subs = append(subs,
				&sqlcacheSubject{name: dbi.name + " PK lookup, sqlcache/" + dr.name, redcache: true, db: cdb, cached: true, query: pk, rows: 1, arg: pkArg},
				&sqlcacheSubject{name: dbi.name + " 100-row list, sqlcache/" + dr.name, redcache: true, db: cdb, cached: true, query: list, rows: 100, arg: listArg})
		}
	}
	run := func(ctx context.Context, s *sqlcacheSubject, arg any) error {
		if s.cached {
			ctx = sqlcache.Cache(ctx, e.ttl)
		}
		rows, err := s.db.QueryContext(ctx, s.query, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		var (
			iid, cat int64
			name     string
			price    float64
		)
		for rows.Next() {
			if err := rows.Scan(&iid, &cat, &name, &price); err != nil {
				return err
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n != s.rows {
			return errWrongValue
		}
		return nil
	}
	// Warm every cached key, so that the clock measures hits.
	for _, s := range subs {
		if !s.cached {
			continue
		}
		n := items
		if s.rows == 100 {
			n = items / 100
		}
		for i := range n {
			arg := any(i + 1)
			if s.rows == 100 {
				arg = i
			}
			if err := run(ctx, s, arg); err != nil {
				return nil, fmt.Errorf("warming %s: %w", s.name, err)
			}
		}
	}
	for r := range e.p.rounds {
		for i := range subs {
			s := subs[(i+r)%len(subs)]
			if e.stop.Err() != nil {
				break
			}
			e.logf("   %s (round %d of %d)", s.name, r+1, e.p.rounds)
			res := measure(e.stop, runSpec{workers: 1, dur: e.p.runTime, maxOps: e.p.maxOps, samples: e.p.samples,
				seed: uint64(r)<<32 | uint64(i),
				op:   func(w *worker) error { return run(context.Background(), s, s.arg(w.rng)) }})
			s.res.merge(res)
		}
	}
	t := &Table{ID: id, Unit: "query", Title: "sqlcache: cached and uncached queries",
		What: fmt.Sprintf("One operation runs a query through database/sql and scans its rows, 1 goroutine: a lookup by primary key, "+
			"or a list of 100 rows by an indexed column, from a table of %s rows. The uncached rows ask the database "+
			"(SQLite: modernc.org/sqlite on a local file; PostgreSQL: pgx on loopback); the sqlcache rows are hits, "+
			"read from Redis through the driver named, every key warmed before the clock starts.", thousands(float64(items)))}
	if skippedPG != "" {
		t.Notes = append(t.Notes, skippedPG)
	}
	byName := map[string]*Row{}
	for _, s := range subs {
		s.res.finish()
		row := Row{Subject: s.name, Codec: "sqlcache rows", Redcache: s.redcache, Ops: s.res.ops,
			OpsPerSec: s.res.opsPerSec(), AllocsPerOp: s.res.allocsPerOp(), CPUPerOp: s.res.cpuPerOp(), Errors: s.res.errs}
		row.P50, row.P99 = s.res.percentile(50), s.res.percentile(99)
		if s.res.firstErr != nil {
			row.Notes = append(row.Notes, fmt.Sprintf("%d errors, the first: %v", s.res.errs, s.res.firstErr))
		}
		t.Rows = append(t.Rows, row)
		byName[s.name] = &t.Rows[len(t.Rows)-1]
	}
	for _, dbi := range dbs {
		for _, q := range []string{"PK lookup", "100-row list"} {
			un := byName[dbi.name+" "+q+", uncached"]
			for _, dr := range []string{"goredis", "radix"} {
				c := byName[dbi.name+" "+q+", sqlcache/"+dr]
				if un != nil && c != nil && c.P50 > 0 {
					t.Notes = append(t.Notes, fmt.Sprintf("%s %s: a hit through %s takes %.2fx the time of the uncached query (p50 %v against %v)",
						dbi.name, q, dr, float64(c.P50)/float64(un.P50), c.P50, un.P50))
				}
			}
		}
	}
	return t, nil
}

// fillItems creates table with n rows and an index on category (100 rows
// per category).
func fillItems(ctx context.Context, db *sql.DB, table string, n int, param func(int) string) error {
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+
		" (id INTEGER PRIMARY KEY, category INTEGER NOT NULL, name TEXT NOT NULL, price REAL NOT NULL)"); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "CREATE INDEX "+table+"_category ON "+table+" (category)"); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, fmt.Sprintf("INSERT INTO %s VALUES (%s, %s, %s, %s)", table, param(1), param(2), param(3), param(4)))
	if err != nil {
		return err
	}
	for id := 1; id <= n; id++ {
		if _, err := stmt.ExecContext(ctx, id, id%(n/100), fmt.Sprintf("item %d", id), float64(id)/100); err != nil {
			return err
		}
	}
	return tx.Commit()
}
