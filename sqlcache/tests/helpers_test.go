package tests_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/sqlcache"
	"modernc.org/sqlite"
)

// target is one Redis the tests run against, through one driver.
type target struct {
	name string
	open func(tb testing.TB) conn.Driver
}

// targets are both drivers on both servers of the test runner.
func targets() []target {
	standalone := func(tb testing.TB) string { return "redis://" + conntest.RedisAddr(tb) }
	cluster := func(tb testing.TB) string {
		return "redis+cluster://" + strings.Join(conntest.ClusterAddrs(tb), ",")
	}
	return []target{
		{"goredis-standalone", func(tb testing.TB) conn.Driver { return openGoredis(tb, standalone(tb)) }},
		{"goredis-cluster", func(tb testing.TB) conn.Driver { return openGoredis(tb, cluster(tb)) }},
		{"radix-standalone", func(tb testing.TB) conn.Driver { return openRadix(tb, standalone(tb)) }},
		{"radix-cluster", func(tb testing.TB) conn.Driver { return openRadix(tb, cluster(tb)) }},
	}
}

func openGoredis(tb testing.TB, url string) conn.Driver {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := goredis.Open(ctx, url)
	if err != nil {
		tb.Fatalf("goredis.Open(%s): %v", url, err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

func openRadix(tb testing.TB, url string) conn.Driver {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := radix.Open(ctx, url)
	if err != nil {
		tb.Fatalf("radix.Open(%s): %v", url, err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

// database is one kind of database the tests run against.
type database struct {
	name string
	// base opens a connector of the database's driver on a fresh,
	// empty database (a SQLite file, a PostgreSQL schema of its own).
	base func(tb testing.TB) driver.Connector
	// param is the placeholder for the n-th argument.
	param func(n int) string
}

func databases() []database {
	return []database{
		{"sqlite", sqliteBase, func(int) string { return "?" }},
		{"postgres", postgresBase, func(n int) string { return "$" + itoa(n) }},
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// sqliteBase is a SQLite database in a file of the test's temp folder,
// so that every connection of a pool sees the same one.
func sqliteBase(tb testing.TB) driver.Connector {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "test.db")
	return dsnConnector{dsn: "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)", drv: &sqlite.Driver{}}
}

// dsnConnector is database/sql's connector for a driver without
// DriverContext, such as modernc.org/sqlite.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (d dsnConnector) Connect(context.Context) (driver.Conn, error) { return d.drv.Open(d.dsn) }
func (d dsnConnector) Driver() driver.Driver                        { return d.drv }

// postgresDSN is the runner's PostgreSQL (tools/postgres.sh), or a skip
// (a failure under the runner).
func postgresDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("REDCACHE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("REDCACHE_TEST_REQUIRE") == "1" {
			tb.Fatal("REDCACHE_TEST_POSTGRES is not set, and REDCACHE_TEST_REQUIRE=1: tools/test.sh starts PostgreSQL")
		}
		tb.Skip("no PostgreSQL: set REDCACHE_TEST_POSTGRES to a DSN, or run tools/test.sh (tools/postgres.sh starts one)")
	}
	return dsn
}

// postgresBase is a pgx connector whose connections work in a schema of
// the test's own, dropped at the end.
func postgresBase(tb testing.TB) driver.Connector {
	tb.Helper()
	dsn := postgresDSN(tb)
	schema := "t_" + randomHex(6)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = admin.Close() })
	ctx := testCtx(tb)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = schema
	return stdlib.GetConnector(*cfg)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func testCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// env is one test's setting: a database, cached through one Redis.
type env struct {
	db   database
	base driver.Connector
	m    *core.Manager
	c    *sqlcache.Connector
	sql  *sql.DB // the cached database
	raw  *sql.DB // the same database, without the cache: writes behind its back
}

// newEnv opens a cached and a raw *sql.DB on a fresh database, with a
// Manager of its own prefix on d.
func newEnv(tb testing.TB, db database, d conn.Driver, opts ...sqlcache.Option) *env {
	tb.Helper()
	base := db.base(tb)
	m := newManager(tb, d)
	c, err := sqlcache.NewConnector(base, m, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{db: db, base: base, m: m, c: c, sql: sql.OpenDB(c), raw: sql.OpenDB(base)}
	tb.Cleanup(func() { _ = e.sql.Close(); _ = e.raw.Close() })
	return e
}

func newManager(tb testing.TB, d conn.Driver, opts ...core.ManagerOption) *core.Manager {
	tb.Helper()
	opts = append([]core.ManagerOption{core.WithDriver(d), core.WithPrefix("sqlt" + randomHex(5)), core.WithTimeout(2 * time.Second)}, opts...)
	m := core.New(opts...)
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

// each runs fn for every database and every Redis target.
func each(t *testing.T, fn func(t *testing.T, db database, d conn.Driver)) {
	t.Helper()
	for _, db := range databases() {
		for _, tg := range targets() {
			t.Run(db.name+"/"+tg.name, func(t *testing.T) { fn(t, db, tg.open(t)) })
		}
	}
}

// q rewrites "?" placeholders for the database.
func (e *env) q(query string) string {
	if e.db.name != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString(e.db.param(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (e *env) mustExec(tb testing.TB, db *sql.DB, query string, args ...any) {
	tb.Helper()
	if _, err := db.ExecContext(testCtx(tb), e.q(query), args...); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
}

// name returns the name column of the row of id, through db.
func (e *env) name(tb testing.TB, ctx context.Context, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id int) string {
	tb.Helper()
	var s string
	if err := db.QueryRowContext(ctx, e.q("SELECT name FROM users WHERE id = ?"), id).Scan(&s); err != nil {
		tb.Fatalf("select user %d: %v", id, err)
	}
	return s
}

// users creates the users table with n rows ("user1"...).
func (e *env) users(tb testing.TB, n int) {
	tb.Helper()
	e.mustExec(tb, e.raw, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
	e.mustExec(tb, e.raw, "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, total INTEGER NOT NULL)")
	for i := 1; i <= n; i++ {
		e.mustExec(tb, e.raw, "INSERT INTO users (id, name) VALUES (?, ?)", i, "user"+itoa(i))
	}
}
