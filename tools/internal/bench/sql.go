package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"

	_ "modernc.org/sqlite" // the pure Go SQLite driver, "sqlite"
)

// categories is how many distinct queries the SQL and HTTP workloads ask.
const categories = 50

// ProductRow is one row of the SQL workload's result.
type ProductRow struct {
	ID    int64
	Name  string
	Price float64
}

// sqliteDB is the SQLite database of the SQL and HTTP workloads, made once
// per run in a temporary folder.
type sqliteDB struct {
	once sync.Once
	db   *sql.DB
	dir  string
	err  error
}

// database returns the run's SQLite database, creating it on first use:
// a products table of e.p.sqlRows rows in categories categories, without
// an index on category, so that the query scans the table as an
// unplanned report query does.
func (e *env) database() (*sql.DB, error) {
	s := e.sqlite
	s.once.Do(func() {
		s.dir, s.err = os.MkdirTemp("", "redcache-bench-sqlite-")
		if s.err != nil {
			return
		}
		s.db, s.err = sql.Open("sqlite", filepath.Join(s.dir, "bench.db"))
		if s.err != nil {
			return
		}
		s.db.SetMaxOpenConns(max(e.p.sqlWorkers, e.p.httpWorkers))
		s.err = fill(e.stop, s.db, e.p.sqlRows)
	})
	return s.db, s.err
}

func (s *sqliteDB) close() {
	if s.db != nil {
		s.db.Close()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func fill(ctx context.Context, db *sql.DB, n int) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE products (
		id INTEGER PRIMARY KEY, category INTEGER NOT NULL, name TEXT NOT NULL,
		price REAL NOT NULL, description TEXT NOT NULL)`); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO products VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	for id := range n {
		p := newProduct(id)
		if _, err := stmt.ExecContext(ctx, id, r.IntN(categories), p.Name, p.Price, p.Description[:200]); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// topProducts is the query the SQL and HTTP workloads cache: the ten
// dearest products of a category.
func topProducts(db *sql.DB) loader[[]ProductRow] {
	return func(ctx context.Context, category int) ([]ProductRow, error) {
		rows, err := db.QueryContext(ctx, `SELECT id, name, price FROM products WHERE category = ? ORDER BY price DESC LIMIT 10`, category)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := make([]ProductRow, 0, 10)
		for rows.Next() {
			var p ProductRow
			if err := rows.Scan(&p.ID, &p.Name, &p.Price); err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		return out, rows.Err()
	}
}

// sqlQuery measures a database/sql query cached against uncached.
func sqlQuery(e *env) (*Table, error) {
	const id = "sql"
	db, err := e.database()
	if err != nil {
		return nil, fmt.Errorf("SQLite: %w", err)
	}
	libs := []lib{libUncached, libRCGoRedis, libRCRadix, libGoRedisCache}
	subs := setup(e, id, libs, topProducts(db))
	defer teardown(e, id, subs)
	warm(e, subs, func(ctx context.Context, s *subjectRun[[]ProductRow]) error {
		for c := range categories {
			if _, err := s.c.Get(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	measureAll(e, subs, func(s *subjectRun[[]ProductRow]) runSpec {
		return runSpec{workers: e.p.sqlWorkers, dur: e.p.runTime, maxOps: e.p.maxOps, samples: e.p.samples,
			op: func(w *worker) error {
				_, err := s.c.Get(context.Background(), w.rng.IntN(categories))
				return err
			}}
	})
	return &Table{ID: id, Unit: "query",
		Title: fmt.Sprintf("SQL query, cached and uncached, %d goroutines", e.p.sqlWorkers),
		What: fmt.Sprintf("The ten dearest products of one of %d categories, from a SQLite table of %s rows without an index on the category "+
			"(modernc.org/sqlite, pure Go, on a temporary file), through database/sql. The cached rows memoize the query function "+
			"(core.Memoize; go-redis/cache Once), warmed before the clock starts. This is core.Memoize around a plain query; the sqlcache table measures the database/sql wrapper.",
			categories, thousands(float64(e.p.sqlRows))),
		Rows: rows(subs)}, nil
}
