package sqlcache

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestParseAnnotation(t *testing.T) {
	cases := []struct {
		sql    string
		ttl    time.Duration
		tables []string
		off    bool
		bad    bool
	}{
		{sql: "SELECT 1"},
		{sql: "SELECT 1 /* just a comment */ -- and another"},
		{sql: "SELECT 1 /* redcache: ttl=30s */", ttl: 30 * time.Second},
		{sql: "/*redcache:ttl=2m tables=a,public.B*/ SELECT 1", ttl: 2 * time.Minute, tables: []string{"a", "b"}},
		{sql: "SELECT 1 -- redcache: off", off: true},
		{sql: "SELECT '/* redcache: nonsense */'"}, // in a string: not a comment
		{sql: "SELECT 1 /* redcache ttl=1s */", bad: true},
		{sql: "SELECT 1 /* redcache: ttl=0s */", bad: true},
		{sql: "SELECT 1 /* redcache: ttl */", bad: true},
		{sql: "SELECT 1 /* redcache: size=3 */", bad: true},
		{sql: "SELECT 1 /* redcache: */", bad: true},
		{sql: "SELECT 1 /* Redcache: ttl=1x */", bad: true},
	}
	for _, c := range cases {
		a, err := parseAnnotation(lex(c.sql))
		if c.bad {
			if !errors.Is(err, ErrBadAnnotation) {
				t.Errorf("%q: %v, want ErrBadAnnotation", c.sql, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.sql, err)
			continue
		}
		if a.ttl != c.ttl || !slices.Equal(a.tables, c.tables) || a.nocache != c.off {
			t.Errorf("%q: ttl %v tables %q off %v, want %v %q %v", c.sql, a.ttl, a.tables, a.nocache, c.ttl, c.tables, c.off)
		}
	}
}

func TestNormalize(t *testing.T) {
	same := [][]string{
		{"SELECT a FROM t WHERE id = $1", "select  a\n\tFROM t   WHERE id=$1 /* redcache: ttl=1m */", "SELECT a -- note\nFROM t WHERE id = $1"},
	}
	for _, group := range same {
		want := normalize(lex(group[0]))
		for _, q := range group[1:] {
			if got := normalize(lex(q)); got != want {
				t.Errorf("%q normalizes to %q, %q to %q", group[0], want, q, got)
			}
		}
	}
	differ := [][2]string{
		{"SELECT 'a b'", "SELECT 'a  b'"},
		{"SELECT 'A'", "SELECT 'a'"},
		{`SELECT "A" FROM t`, `SELECT "a" FROM t`},
		{"SELECT a FROM t WHERE x = 1", "SELECT a FROM t WHERE x = 10"},
		{"SELECT $$a b$$", "SELECT $$a  b$$"},
	}
	for _, d := range differ {
		if normalize(lex(d[0])) == normalize(lex(d[1])) {
			t.Errorf("%q and %q normalize alike: %q", d[0], d[1], normalize(lex(d[0])))
		}
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		sql     string
		write   bool
		tables  []string
		unknown bool
	}{
		{sql: "SELECT * FROM users WHERE id = 1", tables: []string{"users"}},
		{sql: "select u.name, o.total from public.users u join \"Orders\" o on o.user_id = u.id", tables: []string{"users", "orders"}},
		{sql: "SELECT * FROM a, b AS bb, (SELECT x FROM c) s LEFT JOIN d USING (id)", tables: []string{"a", "b", "c", "d"}},
		{sql: "WITH recent AS (SELECT * FROM orders WHERE total > 1) SELECT * FROM recent JOIN users ON true", tables: []string{"orders", "recent", "users"}},
		{sql: "SELECT 1", unknown: true},
		{sql: "SELECT * FROM generate_series(1, 3)", unknown: true},
		{sql: "SELECT extract(year FROM now())", unknown: true}, // now() taken for a table function: conservative
		{sql: "SELECT * FROM users FOR UPDATE", tables: []string{"users"}},
		{sql: "INSERT INTO users (id) VALUES (1)", write: true, tables: []string{"users"}},
		{sql: "insert or replace into main.users values (1)", write: true, tables: []string{"users"}},
		{sql: "REPLACE INTO `Users` VALUES (1)", write: true, tables: []string{"users"}},
		{sql: "INSERT INTO users VALUES (1) ON CONFLICT (id) DO UPDATE SET name = 'x'", write: true, tables: []string{"users"}},
		{sql: "UPDATE ONLY public.users SET name = 'x' FROM orders WHERE orders.user_id = users.id", write: true, tables: []string{"users"}},
		{sql: "update or ignore users set name = 'x'", write: true, tables: []string{"users"}},
		{sql: "DELETE FROM \"my schema\".\"Users\" WHERE id = 1", write: true, tables: []string{"users"}},
		{sql: "MERGE INTO accounts a USING updates u ON a.id = u.id WHEN MATCHED THEN UPDATE SET x = 1 WHEN NOT MATCHED THEN INSERT VALUES (u.id)", write: true, tables: []string{"accounts"}},
		{sql: "TRUNCATE TABLE a, public.b", write: true, tables: []string{"a", "b"}},
		{sql: "ALTER TABLE IF EXISTS users ADD COLUMN x int", write: true, tables: []string{"users"}},
		{sql: "DROP TABLE IF EXISTS a, b CASCADE", write: true, tables: []string{"a", "b"}},
		{sql: "DROP VIEW v", write: true, unknown: true},
		{sql: "CREATE INDEX i ON users (name)", write: true},
		{sql: "WITH gone AS (DELETE FROM orders WHERE total = 0 RETURNING user_id) UPDATE users SET name = 'x' WHERE id IN (SELECT user_id FROM gone)", write: true, tables: []string{"orders", "users"}},
		{sql: "WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone", write: true, tables: []string{"orders"}},
		{sql: "UPDATE a SET x = 1; DELETE FROM b; SELECT * FROM c", write: true, tables: []string{"a", "b"}},
		{sql: "SELECT * FROM a; SELECT * FROM b", tables: []string{"a", "b"}},
		{sql: "DO $$ BEGIN UPDATE a SET x = 1; END $$", write: true, unknown: true},
		{sql: "CALL refresh_totals()", write: true, unknown: true},
		{sql: "SELECT ';' FROM a WHERE b = 'DELETE FROM x'", tables: []string{"a"}},
		{sql: "/* DELETE FROM x */ SELECT * FROM a -- UPDATE y SET", tables: []string{"a"}},
		{sql: "EXPLAIN ANALYZE DELETE FROM a", write: true, tables: []string{"a"}},
		{sql: "SET search_path = x", unknown: true},
		{sql: "SELECT * INTO archive FROM orders", write: true, unknown: true},
		{sql: "insert ignore into t values (1)", write: true, tables: []string{"t"}}, // reads no table: were it cached, any write would drop it
	}
	for _, c := range cases {
		st := classify(lex(c.sql))
		if st.write != c.write || !slices.Equal(st.tables, c.tables) || st.unknown != c.unknown {
			t.Errorf("%q: write %v tables %q unknown %v, want %v %q %v", c.sql, st.write, st.tables, st.unknown, c.write, c.tables, c.unknown)
		}
	}
}
