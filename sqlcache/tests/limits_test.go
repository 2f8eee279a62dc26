package tests_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/sqlcache"
)

// countingConnector counts the queries that reach the database and holds
// each for a while: a hook between the wrapper and a real driver.
type countingConnector struct {
	driver.Connector
	queries atomic.Int64
	hold    time.Duration
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	bc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: bc, c: c}, nil
}

type countingConn struct {
	driver.Conn
	c *countingConnector
}

func (cc *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cc.c.queries.Add(1)
	time.Sleep(cc.c.hold)
	return cc.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (cc *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return cc.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (cc *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := cc.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// countedEnv is an env whose cached database counts its queries.
func countedEnv(t *testing.T, db database, d conn.Driver, hold time.Duration, opts ...sqlcache.Option) (*env, *countingConnector) {
	t.Helper()
	base := db.base(t)
	cc := &countingConnector{Connector: base, hold: hold}
	m := newManager(t, d)
	c, err := sqlcache.NewConnector(cc, m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, base: base, m: m, c: c, sql: sql.OpenDB(c), raw: sql.OpenDB(base)}
	e.sql.SetMaxOpenConns(64)
	t.Cleanup(func() { _ = e.sql.Close(); _ = e.raw.Close() })
	return e, cc
}

// TestStampede: concurrent identical cached queries make one database
// query; every caller gets the rows.
func TestStampede(t *testing.T) {
	each(t, func(t *testing.T, db database, d conn.Driver) {
		e, cc := countedEnv(t, db, d, 300*time.Millisecond)
		e.users(t, 3)
		ctx := sqlcache.Cache(testCtx(t), time.Minute)
		const callers = 24
		var wg sync.WaitGroup
		names := make([]string, callers)
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var s string
				if err := e.sql.QueryRowContext(ctx, e.q("SELECT name FROM users WHERE id = ?"), 2).Scan(&s); err != nil {
					t.Error(err)
				}
				names[i] = s
			}()
		}
		wg.Wait()
		for i, s := range names {
			if s != "user2" {
				t.Fatalf("caller %d read %q", i, s)
			}
		}
		if n := cc.queries.Load(); n != 1 {
			t.Fatalf("%d concurrent identical cached queries reached the database %d times, want 1", callers, n)
		}
	})
}

// TestLimits: a result over the row or byte limit, or with more than one
// result set, is returned whole and uncached.
func TestLimits(t *testing.T) {
	each(t, func(t *testing.T, db database, d conn.Driver) {
		e, cc := countedEnv(t, db, d, 0, sqlcache.WithMaxRows(10), sqlcache.WithMaxBytes(2000))
		e.users(t, 30)
		ctx := sqlcache.Cache(testCtx(t), time.Minute)
		count := func(query string, args ...any) int {
			t.Helper()
			rows, err := e.sql.QueryContext(ctx, e.q(query), args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, tc := range []struct {
			query  string
			rows   int
			cached bool
		}{
			{"SELECT name FROM users WHERE id <= 10 ORDER BY id", 10, true},
			{"SELECT name FROM users ORDER BY id", 30, false},
			{"SELECT name FROM users WHERE id <= 5 ORDER BY id", 5, true},
		} {
			before := cc.queries.Load()
			for range 2 {
				if n := count(tc.query); n != tc.rows {
					t.Fatalf("%s: %d rows, want %d", tc.query, n, tc.rows)
				}
			}
			reached := cc.queries.Load() - before
			if cached := reached == 1; cached != tc.cached {
				t.Errorf("%s: reached the database %d times in two calls: cached = %v, want %v", tc.query, reached, cached, tc.cached)
			}
		}
		// Over the byte limit: 5 rows of 600 bytes.
		e.mustExec(t, e.raw, "UPDATE users SET name = ? WHERE id <= 5", strings.Repeat("x", 600))
		before := cc.queries.Load()
		for range 2 {
			if n := count("SELECT name FROM users WHERE id <= 5 AND 3 = 3"); n != 5 {
				t.Fatalf("large rows: %d, want 5", n)
			}
		}
		if reached := cc.queries.Load() - before; reached != 2 {
			t.Errorf("a result over the byte limit reached the database %d times in two calls, want 2 (uncached)", reached)
		}
		// Several result sets, where the driver gives them, pass
		// through whole: as many sets and rows as the database's.
		sets := func(sdb *sql.DB, ctx context.Context) []int {
			rows, err := sdb.QueryContext(ctx, "SELECT name FROM users WHERE id <= 2; SELECT name FROM users WHERE id <= 3")
			if err != nil {
				return nil // a driver that refuses two statements in a query
			}
			defer rows.Close()
			var out []int
			for {
				n := 0
				for rows.Next() {
					n++
				}
				out = append(out, n)
				if !rows.NextResultSet() {
					break
				}
			}
			return out
		}
		want := sets(e.raw, testCtx(t))
		for range 2 {
			if got := sets(e.sql, ctx); !slices.Equal(got, want) {
				t.Fatalf("result sets through the cache: %v, the database's: %v", got, want)
			}
		}
	})
}

// TestRedisDown: with Redis gone, reads return the database's answer and
// writes succeed; the trouble goes to core's error handler (reads) and to
// sqlcache's (invalidations).
func TestRedisDown(t *testing.T) {
	for _, db := range databases() {
		for _, drv := range []string{"goredis", "radix"} {
			t.Run(db.name+"/"+drv, func(t *testing.T) {
				p := conntest.StartRedis(t)
				var d conn.Driver
				if drv == "goredis" {
					d = openGoredis(t, "redis://"+p.Addr())
				} else {
					d = openRadix(t, "redis://"+p.Addr())
				}
				var coreReports, sqlReports atomic.Int64
				base := db.base(t)
				m := newManager(t, d, core.WithTimeout(300*time.Millisecond),
					core.WithErrorHandler(func(context.Context, *core.Error) { coreReports.Add(1) }))
				c, err := sqlcache.NewConnector(base, m, sqlcache.WithErrorHandler(func(_ context.Context, err *core.Error) {
					if !errors.Is(err, sqlcache.ErrInvalidation) {
						t.Errorf("reported: %v, want ErrInvalidation", err)
					}
					sqlReports.Add(1)
				}))
				if err != nil {
					t.Fatal(err)
				}
				e := &env{db: db, sql: sql.OpenDB(c), raw: sql.OpenDB(base)}
				t.Cleanup(func() { _ = e.sql.Close(); _ = e.raw.Close() })
				e.users(t, 2)
				ctx := testCtx(t)
				cached := sqlcache.Cache(ctx, time.Minute)
				if got := e.name(t, cached, e.sql, 1); got != "user1" {
					t.Fatalf("with Redis up: %q", got)
				}
				p.Kill()
				for i := range 5 {
					name := "down" + itoa(i)
					if _, err := e.sql.ExecContext(ctx, e.q("UPDATE users SET name = ? WHERE id = 1"), name); err != nil {
						t.Fatalf("a write with Redis down: %v", err)
					}
					if got := e.name(t, cached, e.sql, 1); got != name {
						t.Fatalf("a cached read with Redis down: %q, want the database's %q", got, name)
					}
				}
				if coreReports.Load() == 0 || sqlReports.Load() == 0 {
					t.Fatalf("reports: core %d, sqlcache %d; want both", coreReports.Load(), sqlReports.Load())
				}
				if st := c.Stats(); st.FailedInvalidations != 5 || st.Cache.RedisErrors == 0 && st.Cache.Bypassed == 0 {
					t.Fatalf("stats: %d failed invalidations (want 5), %d Redis errors, %d bypassed", st.FailedInvalidations, st.Cache.RedisErrors, st.Cache.Bypassed)
				}
			})
		}
	}
}
