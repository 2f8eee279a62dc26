package sqlcache_test

import (
	"context"
	"database/sql"
	"log"
	"os"
	"time"

	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/sqlcache"
)

type user struct {
	ID   int64
	Name string
}

func scanUser(s sqlcache.Scanner) (user, error) {
	var u user
	return u, s.Scan(&u.ID, &u.Name)
}

// Opening a cached database on a registered driver (here pgx's "pgx",
// imported for its side effect by the program), then reading through it.
func Example() {
	ctx := context.Background()
	m := core.New() // the Redis of the context or the connection stack (conn.Use)
	db, err := sqlcache.Open("pgx", os.Getenv("DATABASE_URL"), m)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// Cached for a minute, through the context...
	var name string
	err = db.QueryRowContext(sqlcache.Cache(ctx, time.Minute),
		"SELECT name FROM users WHERE id = $1", 42).Scan(&name)
	if err != nil {
		log.Fatal(err)
	}
	// ... or through a comment in the query.
	rows, err := db.QueryContext(ctx, "SELECT id, name FROM users ORDER BY id LIMIT 10 /* redcache: ttl=30s */")
	if err != nil {
		log.Fatal(err)
	}
	rows.Close()

	// A write invalidates every cached result that reads users, in
	// every process.
	if _, err := db.ExecContext(ctx, "UPDATE users SET name = $1 WHERE id = $2", "Ada", 42); err != nil {
		log.Fatal(err)
	}
}

// One object per id, and a list per query, each read by a scan function.
func ExampleNewByID() {
	var db *sql.DB // opened with sqlcache.Open or on a sqlcache.Connector
	ctx := context.Background()

	users := sqlcache.NewByID[int64](db, 5*time.Minute, "SELECT id, name FROM users WHERE id = $1", scanUser)
	u, err := users.Get(ctx, 42) // an error that matches sql.ErrNoRows when there is none
	if err != nil {
		log.Fatal(err)
	}
	_ = u

	recent, err := sqlcache.List(ctx, db, time.Minute, scanUser,
		"SELECT id, name FROM users ORDER BY id DESC LIMIT $1", 20)
	if err != nil {
		log.Fatal(err)
	}
	_ = recent
}

// A write the parser cannot see through (a trigger, a procedure) names
// its tables; so does a read of a view.
func ExampleTables() {
	var db *sql.DB
	ctx := context.Background()
	if _, err := db.ExecContext(sqlcache.Tables(ctx, "orders", "order_totals"), "CALL close_day()"); err != nil {
		log.Fatal(err)
	}
}
