package tests_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/sqlcache"
)

// The optional interfaces database/sql looks for, at each level.
var (
	connInterfaces = []reflect.Type{
		reflect.TypeFor[driver.Pinger](),
		reflect.TypeFor[driver.ExecerContext](),
		reflect.TypeFor[driver.QueryerContext](),
		reflect.TypeFor[driver.ConnPrepareContext](),
		reflect.TypeFor[driver.ConnBeginTx](),
		reflect.TypeFor[driver.SessionResetter](),
		reflect.TypeFor[driver.Validator](),
		reflect.TypeFor[driver.NamedValueChecker](),
	}
	stmtInterfaces = []reflect.Type{
		reflect.TypeFor[driver.StmtExecContext](),
		reflect.TypeFor[driver.StmtQueryContext](),
		reflect.TypeFor[driver.NamedValueChecker](),
		reflect.TypeFor[driver.ColumnConverter](), //nolint:staticcheck // still looked for by database/sql
	}
	connectorInterfaces = []reflect.Type{
		reflect.TypeFor[io.Closer](),
	}
	rowsInterfaces = []reflect.Type{
		reflect.TypeFor[driver.RowsNextResultSet](),
		reflect.TypeFor[driver.RowsColumnTypeDatabaseTypeName](),
		reflect.TypeFor[driver.RowsColumnTypeScanType](),
		reflect.TypeFor[driver.RowsColumnTypeLength](),
		reflect.TypeFor[driver.RowsColumnTypeNullable](),
		reflect.TypeFor[driver.RowsColumnTypePrecisionScale](),
	}
)

// TestOptionalInterfaces: whatever optional interface a base connector,
// connection or statement implements, the wrapped one implements too.
func TestOptionalInterfaces(t *testing.T) {
	d := targets()[0].open(t)
	for _, db := range databases() {
		t.Run(db.name, func(t *testing.T) {
			ctx := testCtx(t)
			base := db.base(t)
			c, err := sqlcache.NewConnector(base, newManager(t, d))
			if err != nil {
				t.Fatal(err)
			}
			check := func(level string, ifaces []reflect.Type, b, w any) {
				t.Helper()
				for _, it := range ifaces {
					bt, wt := reflect.TypeOf(b), reflect.TypeOf(w)
					if bt.Implements(it) && !wt.Implements(it) {
						t.Errorf("%s: the base %v implements %v, the wrapped %v does not", level, bt, it, wt)
					}
				}
			}
			check("connector", connectorInterfaces, base, c)
			bc, err := base.Connect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer bc.Close()
			wc, err := c.Connect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer wc.Close()
			check("conn", connInterfaces, bc, wc)
			bs, err := bc.Prepare("SELECT 1")
			if err != nil {
				t.Fatal(err)
			}
			defer bs.Close()
			ws, err := wc.Prepare("SELECT 1")
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			check("stmt", stmtInterfaces, bs, ws)

			query := func(c driver.Conn, ctx context.Context, q string) driver.Rows {
				t.Helper()
				rows, err := c.(driver.QueryerContext).QueryContext(ctx, q, nil)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return rows
			}
			if _, err := bc.(driver.ExecerContext).ExecContext(ctx, "CREATE TABLE r (id INTEGER)", nil); err != nil {
				t.Fatal(err)
			}
			baseRows := query(bc, ctx, "SELECT 1 AS one")
			_ = baseRows.Close() // its type is what counts
			for _, w := range []struct {
				name string
				ctx  context.Context
				q    string
			}{
				{"uncached rows", ctx, "SELECT 1 AS one"},
				{"cached rows (load)", sqlcache.Cache(ctx, time.Minute), "SELECT 2 AS two"},
				{"cached rows (hit)", sqlcache.Cache(ctx, time.Minute), "SELECT 2 AS two"},
				{"RETURNING rows", ctx, "INSERT INTO r (id) VALUES (1) RETURNING id"},
			} {
				rows := query(wc, w.ctx, w.q)
				check(w.name, rowsInterfaces, baseRows, rows)
				_ = rows.Close()
			}
		})
	}
}

// bareConnector hides every optional interface of SQLite's connections
// and statements: what a minimal driver offers.
type bareConnector struct{ base driver.Connector }

func (b bareConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := b.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return bareConn{c}, nil
}
func (b bareConnector) Driver() driver.Driver { return b.base.Driver() }

type bareConn struct{ c driver.Conn }

func (b bareConn) Prepare(q string) (driver.Stmt, error) {
	s, err := b.c.Prepare(q)
	if err != nil {
		return nil, err
	}
	return bareStmt{s}, nil
}
func (b bareConn) Close() error              { return b.c.Close() }
func (b bareConn) Begin() (driver.Tx, error) { return b.c.Begin() } //nolint:staticcheck // the minimal interface

type bareStmt struct{ s driver.Stmt }

func (b bareStmt) Close() error                                    { return b.s.Close() }
func (b bareStmt) NumInput() int                                   { return b.s.NumInput() }
func (b bareStmt) Exec(args []driver.Value) (driver.Result, error) { return b.s.Exec(args) }  //nolint:staticcheck // the minimal interface
func (b bareStmt) Query(args []driver.Value) (driver.Rows, error)  { return b.s.Query(args) } //nolint:staticcheck // the minimal interface

// TestBareDriver: over a driver without any optional interface, the
// wrapper does what database/sql does without them: queries go through
// prepared statements, cached or not, and transactions work with their
// default options only.
func TestBareDriver(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			ctx := testCtx(t)
			base := bareConnector{sqliteBase(t)}
			c, err := sqlcache.NewConnector(base, newManager(t, tg.open(t)))
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(c)
			defer db.Close()
			raw := sql.OpenDB(base)
			defer raw.Close()
			e := &env{db: databases()[0], sql: db, raw: raw}
			e.users(t, 3)
			cached := sqlcache.Cache(ctx, time.Minute)
			if got := e.name(t, cached, db, 1); got != "user1" {
				t.Fatalf("cached read: %q", got)
			}
			e.mustExec(t, raw, "UPDATE users SET name = 'behind' WHERE id = 1")
			if got := e.name(t, cached, db, 1); got != "user1" {
				t.Fatalf("second cached read: %q, want the cached user1", got)
			}
			if got := e.name(t, ctx, db, 1); got != "behind" {
				t.Fatalf("uncached read: %q", got)
			}
			if _, err := db.ExecContext(ctx, "UPDATE users SET name = 'through' WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			if got := e.name(t, cached, db, 1); got != "through" {
				t.Fatalf("cached read after a write: %q", got)
			}
			if err := db.PingContext(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			_, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
			if err == nil {
				t.Fatal("a non-default isolation level on a driver without ConnBeginTx: no error")
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "UPDATE users SET name = 'tx' WHERE id = 2"); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if got := e.name(t, cached, db, 2); got != "tx" {
				t.Fatalf("read after commit: %q", got)
			}
		})
	}
}

// TestCachedUntilWritten: a cached query is served from Redis (a write
// behind the wrapper's back is not seen), until a write through the
// wrapper invalidates it; a query without opt-in is never cached.
func TestCachedUntilWritten(t *testing.T) {
	each(t, func(t *testing.T, db database, d conn.Driver) {
		e := newEnv(t, db, d)
		e.users(t, 3)
		ctx := testCtx(t)
		cached := sqlcache.Cache(ctx, time.Minute)
		if got := e.name(t, cached, e.sql, 1); got != "user1" {
			t.Fatalf("first read: %q", got)
		}
		e.mustExec(t, e.raw, "UPDATE users SET name = 'behind' WHERE id = 1")
		if got := e.name(t, cached, e.sql, 1); got != "user1" {
			t.Fatalf("cached read: %q, want the cached user1", got)
		}
		if got := e.name(t, ctx, e.sql, 1); got != "behind" {
			t.Fatalf("a read without opt-in: %q, want the database's", got)
		}
		e.mustExec(t, e.sql, "UPDATE users SET name = ? WHERE id = ?", "through", 1)
		if got := e.name(t, cached, e.sql, 1); got != "through" {
			t.Fatalf("cached read after a write through the wrapper: %q", got)
		}
	})
}

// TestOpenByName wraps a registered driver by its name.
func TestOpenByName(t *testing.T) {
	d := targets()[0].open(t)
	cases := []struct{ driver, dsn func(t *testing.T) string }{
		{func(*testing.T) string { return "sqlite" }, func(t *testing.T) string { return "file:" + filepath.Join(t.TempDir(), "x.db") }},
		{func(*testing.T) string { return "pgx" }, func(t *testing.T) string { return postgresDSN(t) }},
	}
	for _, tc := range cases {
		t.Run("", func(t *testing.T) {
			ctx := testCtx(t)
			dsn := tc.dsn(t)
			db, err := sqlcache.Open(tc.driver(t), dsn, newManager(t, d))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			if err := db.QueryRowContext(sqlcache.Cache(ctx, time.Minute), "SELECT 41 + 1").Scan(&n); err != nil || n != 42 {
				t.Fatalf("SELECT 41 + 1 = %d, %v", n, err)
			}
		})
	}
	_, err := sqlcache.Open("no-such-driver", "", newManager(t, d))
	if err == nil {
		t.Fatal("Open of an unregistered driver: no error")
	}
	m := newManager(t, d)
	first, err := sqlcache.NewConnector(sqliteBase(t), m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlcache.NewConnector(sqliteBase(t), m); !errors.Is(err, core.ErrDuplicateName) {
		t.Fatalf("a second Connector under the same name: %v, want ErrDuplicateName", err)
	}
	if _, err := sqlcache.NewConnector(sqliteBase(t), m, sqlcache.WithName("other")); err != nil {
		t.Fatalf("a second Connector under another name: %v", err)
	}
	runtime.KeepAlive(first)
}
