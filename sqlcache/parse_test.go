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
