package tests_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/sqlcache"
)

// TestOptIn: a query is cached only when its context or its comment asks;
// the comment wins over the context, and "off" turns caching off.
func TestOptIn(t *testing.T) {
	each(t, func(t *testing.T, db database, d conn.Driver) {
		e := newEnv(t, db, d)
		e.users(t, 3)
		ctx := testCtx(t)
		read := func(query string, cached bool) {
			t.Helper()
			var got string
			if err := e.sql.QueryRowContext(ctx, e.q(query), 1).Scan(&got); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			e.mustExec(t, e.raw, "UPDATE users SET name = ? WHERE id = 1", "changed-"+randomHex(3))
			var again string
			if err := e.sql.QueryRowContext(ctx, e.q(query), 1).Scan(&again); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			if (again == got) != cached {
				t.Errorf("%s: read %q then %q after a write behind the cache: cached = %v, want %v", query, got, again, again == got, cached)
			}
		}
		read("SELECT name FROM users WHERE id = ?", false)
		read("SELECT name FROM users WHERE id = ? /* redcache: ttl=1m */", true)
		read("-- redcache: ttl=1m\nSELECT name FROM users WHERE id = ? AND 1 = 1", true)
		read("SELECT name FROM users WHERE id = ? /* an ordinary comment */", false)

		ctx = sqlcache.Cache(ctx, time.Minute)
		read("SELECT name FROM users WHERE id = ? AND 2 = 2", true)
		read("SELECT name FROM users WHERE ? = id /* redcache: off */", false)
		ctx = sqlcache.Cache(ctx, 0)
		read("SELECT name FROM users WHERE id = ? + 0", false)
	})
}

// TestBadAnnotation: a "redcache" comment that cannot be read fails the
// query (or the write), whatever the context says, and nothing is cached.
func TestBadAnnotation(t *testing.T) {
	each(t, func(t *testing.T, db database, d conn.Driver) {
		e := newEnv(t, db, d)
		e.users(t, 1)
		ctx := sqlcache.Cache(testCtx(t), time.Minute)
		for _, query := range []string{
			"SELECT name FROM users /* redcache ttl=1m */",
			"SELECT name FROM users /* redcache: ttl=1 */",
			"SELECT name FROM users /* redcache: ttl=-1s */",
			"SELECT name FROM users /* redcache: ttl=abc */",
			"SELECT name FROM users /* redcache: tll=1m */",
			"SELECT name FROM users /* redcache: */",
			"SELECT name FROM users /* redcache: ttl= */",
			"SELECT name FROM users /* redcache: tables=users, */",
			"SELECT name FROM users /* redcache: off ttl=1m */",
			"SELECT name FROM users /* redcache: ttl=1m */ /* redcache: ttl=2m */",
			"-- REDCACHE ttl=1m\nSELECT name FROM users",
		} {
			rows, err := e.sql.QueryContext(ctx, query)
			if err == nil {
				rows.Close()
			}
			if !errors.Is(err, sqlcache.ErrBadAnnotation) {
				t.Errorf("%q: %v, want ErrBadAnnotation", query, err)
			}
		}
		for _, stmt := range []string{
			"UPDATE users SET name = 'x' /* redcache: ttl=1m */",
			"UPDATE users SET name = 'x' /* redcache: tables= */",
		} {
			if _, err := e.sql.ExecContext(ctx, stmt); !errors.Is(err, sqlcache.ErrBadAnnotation) {
				t.Errorf("%q: %v, want ErrBadAnnotation", stmt, err)
			}
		}
		if got := e.name(t, testCtx(t), e.raw, 1); got != "user1" {
			t.Fatalf("a statement with a bad annotation ran: the name is %q", got)
		}
	})
}
