package sqlcache

import (
	"database/sql/driver"
	"math"
	"testing"
	"time"
)

type named string

func (n named) Value() (driver.Value, error) { return string(n), nil }

func TestKeysAreUnambiguous(t *testing.T) {
	cfg := newConfig(nil)
	key := func(query string, args ...driver.NamedValue) string {
		t.Helper()
		b, ok := cfg.appendArgs(appendLen([]byte{'q'}, normalize(lex(query))), args)
		if !ok {
			t.Fatalf("%q %v: not keyable", query, args)
		}
		return string(b)
	}
	pos := func(vs ...any) []driver.NamedValue {
		out := make([]driver.NamedValue, len(vs))
		for i, v := range vs {
			out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
		}
		return out
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	differ := [][2][]driver.NamedValue{
		{pos(int64(1)), pos("1")},
		{pos(int64(1)), pos(1.0)},
		{pos(true), pos(int64(1))},
		{pos("a,b"), pos("a", "b")},
		{pos("a", "b"), pos("a;$2=s1:b")},
		{pos(nil), pos("")},
		{pos(""), pos([]byte{})},
		{pos([]byte{}), pos([]byte(nil))},
		{pos([]byte(nil)), pos(nil)},
		{pos(0.0), pos(math.Copysign(0, -1))},
		{pos(now), pos(now.In(paris))},
		{pos(now), pos(now.Add(time.Nanosecond))},
		{pos(named("x")), pos("x")},
		{pos(int32(1)), pos(uint32(1))},
		{pos([]int64{1, 2}), pos([]int64{12})},
		{pos([]string{"a", "b"}), pos([]string{"a,b"})},
		{[]driver.NamedValue{{Name: "a", Value: int64(1)}}, pos(int64(1))},
		{[]driver.NamedValue{{Name: "a", Value: int64(1)}}, []driver.NamedValue{{Name: "b", Value: int64(1)}}},
		{pos(), pos(nil)},
	}
	for _, d := range differ {
		a, b := key("SELECT ?", d[0]...), key("SELECT ?", d[1]...)
		if a == b {
			t.Errorf("%v and %v share the key %q", d[0], d[1], a)
		}
	}
	if key("SELECT 1", pos(int64(1))...) == key("SELECT 2", pos(int64(1))...) {
		t.Error("two queries share a key")
	}
	if key("select  x FROM t /* c */", pos("v")...) != key("SELECT x\nFROM t", pos("v")...) {
		t.Error("one query laid out twice has two keys")
	}
	// A value the driver takes but this package cannot encode: uncached.
	if _, ok := cfg.appendArgs(nil, pos(map[string]int{"a": 1})); ok {
		t.Error("a map argument was keyed")
	}
}
