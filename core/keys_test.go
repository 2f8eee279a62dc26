package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/core"
)

func keyOf[A any](t *testing.T, a A) string {
	t.Helper()
	m := core.New(core.WithPrefix("p"))
	k, err := core.Memoize(m, "f", func(context.Context, A) (int, error) { return 0, nil }).Key(a)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type pair struct {
	A, B string
}

type withPtr struct {
	N *int
	M map[string]int
}

type customKey struct{ id, ignored int }

func (c customKey) AppendKey(dst []byte) []byte { return append(dst, byte('0'+c.id)) }

func TestKeyEncoding(t *testing.T) {
	one := 1
	var nilInt *int
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"int", keyOf(t, 42), "p:f:i42"},
		{"negative", keyOf(t, int8(-7)), "p:f:i-7"},
		{"uint", keyOf(t, uint64(1<<63)), "p:f:u9223372036854775808"},
		{"string", keyOf(t, "alice"), "p:f:s5:alice"},
		{"empty string", keyOf(t, ""), "p:f:s0:"},
		{"bool", keyOf(t, true), "p:f:T"},
		{"float", keyOf(t, 1.5), "p:f:f1.5"},
		{"bytes", keyOf(t, []byte("ab")), "p:f:b2:ab"},
		{"any nil", keyOf[any](t, nil), "p:f:n"},
		{"any int", keyOf[any](t, 1), "p:f:i1"},
		{"any string", keyOf[any](t, "1"), "p:f:s1:1"},
		{"struct", keyOf(t, pair{"a:b", ""}), "p:f:(A=s3:a:b,B=s0:)"},
		{"pointer and map", keyOf(t, withPtr{&one, map[string]int{"z": 1, "a": 2}}), "p:f:(N=i1,M=<s1:a=i2,s1:z=i1>)"},
		{"nil pointer", keyOf(t, withPtr{}), "p:f:(N=n,M=<>)"},
		{"slice", keyOf(t, []string{"a", "b"}), "p:f:[s1:a,s1:b]"},
		{"time", keyOf(t, time.Unix(100, 5).In(time.FixedZone("X", 3600))), "p:f:t100.5"},
		{"key appender", keyOf(t, customKey{id: 3, ignored: 9}), "p:f:x1:3"},
		{"named int", keyOf(t, time.Duration(1500)), "p:f:i1500"},
		{"braces", keyOf(t, `{a}\`), `p:f:s4:\(a\)\\`},
		{"any named", keyOf[any](t, time.Duration(2)), "p:f:y13:time.Durationi2"},
		{"any int64", keyOf[any](t, int64(2)), "p:f:y5:int64i2"},
		{"any pointer", keyOf[any](t, &one), "p:f:y4:*inti1"},
		{"any struct", keyOf[any](t, struct{ A int }{1}), "p:f:y13:struct(A int)(A=i1)"},
		{"location", keyOf(t, time.FixedZone("X", 3600)), "p:f:l1:X"},
		{"pointer to nil", keyOf(t, &nilInt), "p:f:*n"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: key = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestKeysNeverCollide(t *testing.T) {
	m := core.New()
	two := core.Memoize2(m, "f", func(context.Context, string, string) (int, error) { return 0, nil })
	oneArg := core.Memoize(core.New(), "f", // a Manager of its own: one live function per prefix and name
		func(context.Context, any) (int, error) { return 0, nil })
	keys := map[string]string{}
	add := func(what, k string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := keys[k]; ok {
			t.Fatalf("%s and %s share the key %q", prev, what, k)
		}
		keys[k] = what
	}
	k, err := oneArg.Key(1)
	add("1", k, err)
	k, err = oneArg.Key("1")
	add(`"1"`, k, err)
	k, err = oneArg.Key(nil)
	add("nil", k, err)
	k, err = oneArg.Key("")
	add(`""`, k, err)
	k, err = oneArg.Key("a:b")
	add(`"a:b"`, k, err)
	k, err = two.Key("a", "b")
	add(`("a","b")`, k, err)
	k, err = two.Key("a,s1:b", "")
	add(`("a,s1:b","")`, k, err)
	k, err = oneArg.Key([]any{"a", "b"})
	add(`["a","b"]`, k, err)
	k, err = oneArg.Key(1.0)
	add("1.0", k, err)
	k, err = oneArg.Key(uint(1))
	add("uint 1", k, err)
	k, err = oneArg.Key(true)
	add("true", k, err)
	k, err = oneArg.Key("T")
	add(`"T"`, k, err)
}

func TestLongKeysAreHashed(t *testing.T) {
	long := strings.Repeat("x", 500)
	k := keyOf(t, long)
	if !strings.HasPrefix(k, "p:f:#") || len(k) > 64 {
		t.Fatalf("long key = %q (%d bytes): want the readable prefix and a hash", k, len(k))
	}
	if keyOf(t, long+"y") == k {
		t.Fatal("two long arguments share a hashed key")
	}
	if keyOf(t, long) != k {
		t.Fatal("hashing is not deterministic")
	}
}

func TestMapKeysAreOrdered(t *testing.T) {
	m := map[int]string{}
	for i := 0; i < 50; i++ {
		m[i] = "v"
	}
	want := keyOf(t, m)
	for i := 0; i < 20; i++ {
		if got := keyOf(t, m); got != want {
			t.Fatal("map key encoding depends on iteration order")
		}
	}
}

func FuzzKeys(f *testing.F) {
	f.Add("a", "b", int64(1), "c")
	f.Add("a:b", "", int64(-1), "")
	f.Add("s1:a", ",", int64(0), "\x00")
	m := core.New()
	two := core.Memoize2(m, "f", func(context.Context, string, string) (int, error) { return 0, nil })
	rec := core.Memoize(m, "g", func(context.Context, any) (int, error) { return 0, nil })
	f.Fuzz(func(t *testing.T, a, b string, n int64, c string) {
		k1, err1 := two.Key(a, b)
		k2, err2 := two.Key(a+b[:len(b)/2], b[len(b)/2:])
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if (k1 == k2) != (len(b)/2 == 0) {
			t.Fatalf("(%q,%q) and a split of it: keys %q %q", a, b, k1, k2)
		}
		v := map[string]any{a: []any{n, b, nil}, c: struct{ X string }{b}}
		r1, err := rec.Key(v)
		if err != nil {
			t.Fatal(err)
		}
		if r2, _ := rec.Key(v); r1 != r2 {
			t.Fatal("the same value gave two keys")
		}
		if s, _ := rec.Key(a); a != c {
			if s2, _ := rec.Key(c); s == s2 {
				t.Fatalf("%q and %q share a key", a, c)
			}
		}
	})
}
