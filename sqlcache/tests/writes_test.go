package tests_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/sqlcache"
)

// cachedTotal is the cached count of orders; cachedName the cached name
// of a user (see env.name).
func (e *env) cachedTotal(t *testing.T, ctx context.Context) int {
	t.Helper()
	var n int
	if err := e.sql.QueryRowContext(sqlcache.Cache(ctx, time.Minute), "SELECT count(*) FROM orders").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWritesInvalidateTheirTables: a write through the wrapper
// invalidates the cached results of the tables it writes, and only those;
// an explicit list replaces the parsed one; a write that cannot be parsed
// invalidates everything.
func TestWritesInvalidateTheirTables(t *testing.T) {
	each(t, func(t *testing.T, db database, d conn.Driver) {
		e := newEnv(t, db, d)
		e.users(t, 2)
		ctx := testCtx(t)
		cached := sqlcache.Cache(ctx, time.Minute)
		prime := func() {
			t.Helper()
			e.name(t, cached, e.sql, 1)
			e.cachedTotal(t, ctx)
			// Behind the cache's back: the cached results are now stale,
			// and show whether an invalidation reached them.
			e.mustExec(t, e.raw, "UPDATE users SET name = ? WHERE id = 1", "raw-"+randomHex(3))
			e.mustExec(t, e.raw, "INSERT INTO orders (id, user_id, total) VALUES (?, 1, 1)", time.Now().UnixNano()%1e9)
		}
		check := func(stmt string, usersGone, ordersGone bool) {
			t.Helper()
			wantName := e.name(t, ctx, e.raw, 1)
			var wantTotal int
			if err := e.raw.QueryRowContext(ctx, "SELECT count(*) FROM orders").Scan(&wantTotal); err != nil {
				t.Fatal(err)
			}
			if got := e.name(t, cached, e.sql, 1); (got == wantName) != usersGone {
				t.Errorf("after %q: users' cached result invalidated = %v, want %v", stmt, got == wantName, usersGone)
			}
			if got := e.cachedTotal(t, ctx); (got == wantTotal) != ordersGone {
				t.Errorf("after %q: orders' cached result invalidated = %v, want %v", stmt, got == wantTotal, ordersGone)
			}
		}
		for _, tc := range []struct {
			ctx                   context.Context
			stmt                  string
			usersGone, ordersGone bool
		}{
			{ctx, "UPDATE orders SET total = total WHERE id = -1", false, true},
			{ctx, "DELETE FROM users WHERE id = -1", true, false},
			{ctx, "INSERT INTO orders (id, user_id, total) SELECT -1, 1, 1 WHERE 1 = 0", false, true},
			{ctx, "UPDATE orders SET total = 0 WHERE id = -1; DELETE FROM users WHERE id = -1", true, true},
			{ctx, "WITH x AS (SELECT 1 AS one) UPDATE users SET name = name WHERE id = -1", true, false},
			{ctx, `UPDATE "users" SET name = name WHERE id = -1`, true, false},
			{ctx, "UPDATE orders SET total = 0 WHERE id = -1 /* redcache: tables=users */", true, false},
			{sqlcache.Tables(ctx, "orders"), "DELETE FROM users WHERE id = -1", false, true},
			{ctx, "SELECT 1", false, false},
		} {
			prime()
			if _, err := e.sql.ExecContext(tc.ctx, tc.stmt); err != nil {
				t.Fatalf("%s: %v", tc.stmt, err)
			}
			check(tc.stmt, tc.usersGone, tc.ordersGone)
		}
		// An INSERT ... RETURNING run as a query invalidates too.
		prime()
		rows, err := e.sql.QueryContext(ctx, e.q("INSERT INTO orders (id, user_id, total) VALUES (?, 1, 1) RETURNING id"), time.Now().UnixNano()%1e9+1e9)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		rows.Close()
		check("INSERT ... RETURNING", false, true)
		if db.name == "postgres" {
			// A statement the parser cannot read invalidates every result.
			prime()
			stmt := "DO $$ BEGIN PERFORM 1; END $$"
			if _, err := e.sql.ExecContext(ctx, stmt); err != nil {
				t.Fatal(err)
			}
			check(stmt, true, true)
		}
		// So does InvalidateTables, for writes made around the wrapper.
		prime()
		if err := e.c.InvalidateTables(ctx, "public.Users"); err != nil {
			t.Fatal(err)
		}
		check("InvalidateTables(users)", true, false)
	})
}

// TestTransactions: inside a transaction reads bypass the cache and see
// the transaction's writes; the writes invalidate at Commit, not before,
// and not at Rollback.
func TestTransactions(t *testing.T) {
	each(t, func(t *testing.T, db database, d conn.Driver) {
		e := newEnv(t, db, d)
		e.users(t, 2)
		ctx := testCtx(t)
		cached := sqlcache.Cache(ctx, time.Minute)
		e.name(t, cached, e.sql, 1) // cached: user1
		e.mustExec(t, e.raw, "UPDATE users SET name = 'behind' WHERE id = 1")

		tx, err := e.sql.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, e.q("UPDATE users SET name = ? WHERE id = 1"), "in-tx"); err != nil {
			t.Fatal(err)
		}
		if got := e.name(t, cached, tx, 1); got != "in-tx" {
			t.Fatalf("a cached read inside the transaction: %q, want its own write", got)
		}
		if got := e.name(t, cached, e.sql, 1); got != "user1" {
			t.Fatalf("a cached read outside, before commit: %q, want the cached user1 (no invalidation yet)", got)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if got := e.name(t, cached, e.sql, 1); got != "user1" {
			t.Fatalf("after rollback: %q, want the cached user1 (a rollback invalidates nothing)", got)
		}

		tx, err = e.sql.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, e.q("UPDATE users SET name = ? WHERE id = 1"), "committed"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := e.name(t, cached, e.sql, 1); got != "committed" {
			t.Fatalf("after commit: %q, want committed", got)
		}
	})
}

// TestCrossProcess: a write through one process's wrapper invalidates the
// result another process cached, within that process's generation
// refresh interval.
func TestCrossProcess(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			db := databases()[1]
			base := db.base(t)
			prefix := "sqlx" + randomHex(4)
			open := func() *sql.DB {
				m := core.New(core.WithDriver(tg.open(t)), core.WithPrefix(prefix),
					core.WithGenerationRefresh(50*time.Millisecond), core.WithTimeout(2*time.Second))
				t.Cleanup(func() { _ = m.Close() })
				c, err := sqlcache.NewConnector(base, m)
				if err != nil {
					t.Fatal(err)
				}
				sdb := sql.OpenDB(c)
				t.Cleanup(func() { _ = sdb.Close() })
				return sdb
			}
			a, b := open(), open()
			e := &env{db: db, sql: a, raw: sql.OpenDB(base)}
			t.Cleanup(func() { _ = e.raw.Close() })
			e.users(t, 1)
			ctx := testCtx(t)
			cached := sqlcache.Cache(ctx, time.Minute)
			if got := e.name(t, cached, b, 1); got != "user1" {
				t.Fatalf("process b: %q", got)
			}
			if _, err := a.ExecContext(ctx, "UPDATE users SET name = 'from-a' WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Second)
			for {
				got := e.name(t, cached, b, 1)
				if got == "from-a" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("process b still reads %q 2s after process a's write", got)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestInFlightLoadDoesNotUndoAWrite: a cached query that read the old row
// before a write, and stores after the write invalidated its table,
// does not put the old row back.
func TestInFlightLoadDoesNotUndoAWrite(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			db := databases()[1]
			e := newEnv(t, db, tg.open(t))
			e.users(t, 1)
			ctx := testCtx(t)
			cached := sqlcache.Cache(ctx, time.Minute)
			// The read takes its snapshot, then sleeps before returning.
			slow := "SELECT name FROM users, pg_sleep(0.4) WHERE id = 1 /* redcache: tables=users */"
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				var s string
				if err := e.sql.QueryRowContext(cached, slow).Scan(&s); err != nil {
					t.Error(err)
				}
			}()
			time.Sleep(150 * time.Millisecond)
			if _, err := e.sql.ExecContext(ctx, "UPDATE users SET name = 'new' WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			var s string
			if err := e.sql.QueryRowContext(cached, slow).Scan(&s); err != nil {
				t.Fatal(err)
			}
			if s != "new" {
				t.Fatalf("after the write, the cached query reads %q: the load in flight stored the old row", s)
			}
		})
	}
}
