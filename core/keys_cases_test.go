package core_test

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/core"
)

// ptrKey chooses its key with a pointer receiver: only id counts.
type ptrKey struct{ id, ignored int }

func (p *ptrKey) AppendKey(dst []byte) []byte { return strconv.AppendInt(dst, int64(p.id), 10) }

// braceKey appends key bytes that look like a Redis Cluster hash tag.
type braceKey struct{ s string }

func (b braceKey) AppendKey(dst []byte) []byte { return append(dst, b.s...) }

type (
	userID  int64
	orderID int64
	stamp   time.Time
)

type withTime struct {
	at   time.Time
	when stamp
	in   map[string]time.Time
	any  any
}

type withPtrKey struct {
	K  ptrKey
	k  ptrKey
	M  map[string]ptrKey
	P  *ptrKey
	If any
}

// argKey is the argument part of a key built by keyOf.
func argKey[A any](t *testing.T, a A) string {
	t.Helper()
	return strings.TrimPrefix(keyOf(t, a), "p:f:")
}

func TestKeyAppenderWithPointerReceiver(t *testing.T) {
	want := "x1:3"
	for name, got := range map[string]string{
		"value":     argKey(t, ptrKey{id: 3, ignored: 9}),
		"pointer":   argKey(t, &ptrKey{id: 3, ignored: 8}),
		"interface": argKey[any](t, ptrKey{id: 3, ignored: 7}),
	} {
		if !strings.HasSuffix(got, want) {
			t.Errorf("%s: key %q does not end with the appender's %q", name, got, want)
		}
	}
	a := withPtrKey{K: ptrKey{3, 1}, k: ptrKey{4, 1}, M: map[string]ptrKey{"a": {5, 1}}, P: &ptrKey{6, 1}, If: ptrKey{7, 1}}
	b := withPtrKey{K: ptrKey{3, 2}, k: ptrKey{4, 2}, M: map[string]ptrKey{"a": {5, 2}}, P: &ptrKey{6, 2}, If: ptrKey{7, 2}}
	if ka, kb := argKey(t, a), argKey(t, b); ka != kb {
		t.Errorf("fields the appender leaves out changed the key:\n%s\n%s", ka, kb)
	}
	if ka, kc := argKey(t, a), argKey(t, withPtrKey{K: ptrKey{30, 1}, k: ptrKey{4, 1}, M: map[string]ptrKey{"a": {5, 1}}, P: &ptrKey{6, 1}, If: ptrKey{7, 1}}); ka == kc {
		t.Errorf("different appender keys share the key %q", ka)
	}
}

func TestTimeKeysAreInstants(t *testing.T) {
	now := time.Now() // carries a monotonic clock reading
	zone := time.FixedZone("X", 5*3600)
	variants := []time.Time{now, now.Round(0), now.In(zone), now.UTC(), now.Add(time.Hour).Add(-time.Hour)}
	var keys []string
	for _, tm := range variants {
		keys = append(keys, argKey(t, withTime{
			at:   tm,
			when: stamp(tm),
			in:   map[string]time.Time{"a": tm},
			any:  tm,
		}))
	}
	for i, k := range keys {
		if k != keys[0] {
			t.Errorf("variant %d of one instant: key\n%s\nwant\n%s", i, k, keys[0])
		}
		if strings.Contains(k, "wall") || strings.Contains(k, "ext") {
			t.Errorf("variant %d: key %q reads time.Time's internals", i, k)
		}
	}
	if a, b := argKey(t, withTime{at: now}), argKey(t, withTime{at: now.Add(1)}); a == b {
		t.Errorf("instants 1ns apart share the key %q", a)
	}
	if got, want := argKey(t, stamp(time.Unix(100, 5))), "t100.5"; got != want {
		t.Errorf("named time type: key %q, want %q", got, want)
	}
}

func TestMapKeysThatEncodeAlike(t *testing.T) {
	nan := map[float64]int{}
	for i := 0; i < 40; i++ {
		nan[math.NaN()] = i
	}
	zone := time.FixedZone("X", 3600)
	at := time.Unix(100, 0)
	times := map[time.Time]int{at: 1, at.In(zone): 2, at.UTC(): 3}
	for name, key := range map[string]func() string{
		"NaN":   func() string { return argKey(t, nan) },
		"times": func() string { return argKey(t, times) },
	} {
		want := key()
		for i := 0; i < 200; i++ {
			if got := key(); got != want {
				t.Fatalf("%s: one map, two keys:\n%s\n%s", name, want, got)
			}
		}
	}
}

func TestInterfaceKeysCarryTheType(t *testing.T) {
	values := map[string]any{
		"userID(7)":  userID(7),
		"orderID(7)": orderID(7),
		"int64(7)":   int64(7),
		"int(7)":     7,
		"int32(7)":   int32(7),
		"uint(7)":    uint(7),
		"float64(7)": 7.0,
		"float32(7)": float32(7),
		"nil":        nil,
		"(*int)nil":  (*int)(nil),
		"[]byte":     []byte("7"),
		"string":     "7",
	}
	for _, wrap := range []struct {
		name string
		key  func(v any) string
	}{
		{"any", func(v any) string { return argKey(t, v) }},
		{"field", func(v any) string { return argKey(t, struct{ V any }{v}) }},
		{"slice", func(v any) string { return argKey(t, []any{v}) }},
		{"map", func(v any) string { return argKey(t, map[string]any{"k": v}) }},
	} {
		seen := map[string]string{}
		for name, v := range values {
			k := wrap.key(v)
			if prev, ok := seen[k]; ok {
				t.Errorf("%s: %s and %s share the key %q", wrap.name, prev, name, k)
			}
			seen[k] = name
		}
	}
	// The common types keep their short form.
	for v, want := range map[any]string{7: "i7", "7": "s1:7", 1.5: "f1.5", true: "T"} {
		if got := argKey(t, v); got != want {
			t.Errorf("any(%#v): key %q, want %q", v, got, want)
		}
	}
}

func TestPointersToNil(t *testing.T) {
	var nilInt *int
	if a, b := argKey(t, (**int)(nil)), argKey(t, &nilInt); a == b {
		t.Errorf("a nil **int and a pointer to a nil *int share the key %q", a)
	}
	var nilAny any
	if a, b := argKey(t, (*any)(nil)), argKey(t, &nilAny); a == b {
		t.Errorf("a nil *any and a pointer to a nil any share the key %q", a)
	}
}

func TestArgumentsNeverMakeAHashTag(t *testing.T) {
	m := core.New(core.WithPrefix("p"))
	str := core.Memoize(m, "f", func(context.Context, string) (int, error) { return 0, nil })
	anyf := core.Memoize(m, "g", func(context.Context, any) (int, error) { return 0, nil })
	two := core.Memoize2(m, "h", func(context.Context, string, []byte) (int, error) { return 0, nil })
	type G[X any] struct{ X X }
	keys := map[string]string{}
	add := func(what, k string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(k, "{}") {
			t.Errorf("%s: key %q has a brace", what, k)
		}
		if prev, ok := keys[k]; ok {
			t.Errorf("%s and %s share the key %q", prev, what, k)
		}
		keys[k] = what
	}
	for _, s := range []string{"{a}", "{", "}", "\\", "\\(", "\\)", "\\\\", "(", "x{}y", "{user1000}"} {
		k, err := str.Key(s)
		add(strconv.Quote(s), k, err)
		k, err = anyf.Key(s)
		add("any "+strconv.Quote(s), k, err)
		k, err = anyf.Key(braceKey{s})
		add("appender "+strconv.Quote(s), k, err)
		k, err = two.Key(s, []byte(s))
		add("two "+strconv.Quote(s), k, err)
	}
	k, err := anyf.Key(map[string]int{"a": 1})
	add("map", k, err)
	k, err = anyf.Key(G[struct{}]{})
	add("generic", k, err)
	k, err = anyf.Key(struct{ A map[int]int }{map[int]int{1: 2}})
	add("struct type", k, err)
	k, err = anyf.Key(strings.Repeat("{a}", 100))
	add("long", k, err)

	// A prefix may carry a deliberate hash tag.
	tagged := core.Memoize(core.New(core.WithPrefix("{app}")), "f", func(context.Context, string) (int, error) { return 0, nil })
	k, err = tagged.Key("{b}")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k, "{app}:f:") || strings.ContainsAny(k[len("{app}:f:"):], "{}") {
		t.Errorf("tagged prefix: key %q", k)
	}
}
