package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/redcache/redcache/core"
)

// BenchmarkKey measures building a key, the only work a cache hit does
// before its GET.
func BenchmarkKey(b *testing.B) {
	m := core.New(core.WithPrefix("p"))
	type filter struct {
		Category string
		MaxPrice float64
		Since    time.Time
		Tags     map[string]bool
	}
	str := core.Memoize(m, "str", func(context.Context, string) (int, error) { return 0, nil })
	num := core.Memoize(m, "num", func(context.Context, int) (int, error) { return 0, nil })
	anyf := core.Memoize(m, "any", func(context.Context, any) (int, error) { return 0, nil })
	st := core.Memoize(m, "struct", func(context.Context, filter) (int, error) { return 0, nil })
	f := filter{"widgets", 10, time.Unix(1e9, 0), map[string]bool{"a": true, "b": false}}
	for _, bc := range []struct {
		name string
		key  func() (string, error)
	}{
		{"int", func() (string, error) { return num.Key(42) }},
		{"string", func() (string, error) { return str.Key("user-1234") }},
		{"any-named", func() (string, error) { return anyf.Key(userID(7)) }},
		{"struct", func() (string, error) { return st.Key(f) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.key(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
