package tests_test

import (
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redcache/redcache/conn"
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

// TestTypedHelpers: One and ByID read an object by id (sql.ErrNoRows when
// there is none), List a list per query; all are cached and invalidated
// as any cached query.
func TestTypedHelpers(t *testing.T) {
	each(t, func(t *testing.T, db database, d conn.Driver) {
		e, cc := countedEnv(t, db, d, 0)
		e.users(t, 5)
		ctx := testCtx(t)
		byID := sqlcache.NewByID[int64](e.sql, time.Minute, e.q("SELECT id, name FROM users WHERE id = ?"), scanUser)
		for range 2 {
			u, err := byID.Get(ctx, 3)
			if err != nil || u != (user{3, "user3"}) {
				t.Fatalf("ByID.Get(3) = %+v, %v", u, err)
			}
			if _, err := byID.Get(ctx, 99); !errors.Is(err, sql.ErrNoRows) {
				t.Fatalf("ByID.Get(99): %v, want sql.ErrNoRows", err)
			}
		}
		if n := cc.queries.Load(); n != 2 {
			t.Fatalf("two ids read twice reached the database %d times, want 2", n)
		}
		u, err := sqlcache.One(ctx, e.sql, time.Minute, scanUser, e.q("SELECT id, name FROM users WHERE name = ?"), "user2")
		if err != nil || u != (user{2, "user2"}) {
			t.Fatalf("One = %+v, %v", u, err)
		}
		list := func() []user {
			t.Helper()
			l, err := sqlcache.List(ctx, e.sql, time.Minute, scanUser, e.q("SELECT id, name FROM users WHERE id > ? ORDER BY id"), 3)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		if diff := cmp.Diff([]user{{4, "user4"}, {5, "user5"}}, list()); diff != "" {
			t.Fatalf("List (-want +got):\n%s", diff)
		}
		e.mustExec(t, e.sql, "UPDATE users SET name = 'five' WHERE id = 5")
		if diff := cmp.Diff([]user{{4, "user4"}, {5, "five"}}, list()); diff != "" {
			t.Fatalf("List after a write (-want +got):\n%s", diff)
		}
	})
}
