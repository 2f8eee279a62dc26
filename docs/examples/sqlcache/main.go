// Command sqlcache is the program of the SQL guide (docs/sql.md), the
// original's SQLAlchemy example redone with package sqlcache: 5,000
// records in SQLite, 1,000 random lookups by id made twice (the first
// pass fills the cache, the second reads it), each pass timed; then an
// UPDATE through the same *sql.DB, and a read that shows the new value.
//
//	go run ./docs/examples/sqlcache    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, in pure Go

	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
	"github.com/redcache/redcache/sqlcache"
)

// Record is a row of the records table.
type Record struct {
	ID    int64
	Name  string
	Value float64
}

func scanRecord(s sqlcache.Scanner) (Record, error) {
	var r Record
	return r, s.Scan(&r.ID, &r.Name, &r.Value)
}

const records, lookups = 5000, 1000

// fill creates the records table with its 5,000 rows, in one transaction.
func fill(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx,
		`CREATE TABLE records (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value REAL NOT NULL)`); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for id := 1; id <= records; id++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO records VALUES (?, ?, ?)`,
			id, fmt.Sprintf("record %d", id), float64(id)/10); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func run(ctx context.Context, w io.Writer, redisURL string) error {
	d, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer d.Close()
	m := core.New(core.WithDriver(d))
	defer m.Close()

	dir, err := os.MkdirTemp("", "redcache-sqlcache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The database, opened through the cache: every statement runs on
	// SQLite as before; the queries asked to be cached are kept in Redis.
	db, err := sqlcache.Open("sqlite", filepath.Join(dir, "records.db"), m)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := fill(ctx, db); err != nil {
		return err
	}

	// One record by its id, cached for ten minutes.
	byID := sqlcache.NewByID[int64](db, 10*time.Minute,
		`SELECT id, name, value FROM records WHERE id = ?`, scanRecord)

	ids := make([]int64, lookups)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range ids {
		ids[i] = r.Int64N(records) + 1
	}
	for _, pass := range []string{"first pass (from SQLite, stored in Redis)", "second pass (from Redis)"} {
		start := time.Now()
		for _, id := range ids {
			rec, err := byID.Get(ctx, id)
			if err != nil {
				return err
			}
			if rec.ID != id {
				return fmt.Errorf("record %d read as %d", id, rec.ID)
			}
		}
		fmt.Fprintf(w, "%s: %d lookups in %v\n", pass, lookups, time.Since(start).Round(time.Millisecond))
	}

	rec, err := byID.Get(ctx, 42)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "record 42: %s = %.2f\n", rec.Name, rec.Value)
	// A write through the same *sql.DB invalidates every cached result
	// that reads the records table, in every process.
	if _, err := db.ExecContext(ctx, `UPDATE records SET value = ? WHERE id = ?`, 99.5, 42); err != nil {
		return err
	}
	fmt.Fprintln(w, "UPDATE records SET value = 99.5 WHERE id = 42")
	if rec, err = byID.Get(ctx, 42); err != nil {
		return err
	}
	fmt.Fprintf(w, "record 42: %s = %.2f\n", rec.Name, rec.Value)
	return nil
}

func main() {
	redisURL, stop, err := devredis.URL() // $REDIS_URL, or an embedded Redis
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	if err := run(context.Background(), os.Stdout, redisURL); err != nil {
		log.Fatal(err)
	}
}
