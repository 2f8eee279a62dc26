package codec_test

import (
	"bytes"
	"encoding/gob"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/codec"
)

// The Unmarshal fuzz targets feed arbitrary bytes to a codec, decoding into
// several types, and check that it never panics and fails only with
// ErrDecode. What does decode must marshal again and decode to the same
// value.

// targets are the types the fuzzers decode into.
var targets = []func() any{
	func() any { return new(record) },
	func() any { return new(*item) },
	func() any { return new(int) },
	func() any { return new(string) },
	func() any { return new([]byte) },
	func() any { return new([]int) },
	func() any { return new(map[string]int) },
	func() any { return new(any) },
	func() any { return new(time.Time) },
	func() any { return new([]map[string]*item) },
}

// seeds are values whose encodings start the corpora.
func seeds() []any {
	n := 5
	a := any(item{Name: "in any"})
	return []any{
		sample, &sample, record{}, item{Tags: []string{"a"}}, 42, -1, "text", "",
		[]byte{0, 255}, []int{1, 2, 3}, map[string]int{"a": 1}, &a, &n,
		time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600)),
		[]map[string]*item{{"k": {Name: "v"}}}, (*int)(nil), 1.5,
	}
}

func addSeeds(f *testing.F, c codec.Codec) {
	f.Helper()
	for _, v := range seeds() {
		if data, err := c.Marshal(v); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{1})
	f.Add([]byte("garbage"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
}

// checkUnmarshal decodes data into every target with c.
func checkUnmarshal(t *testing.T, c codec.Codec, data []byte) {
	t.Helper()
	for _, newTarget := range targets {
		p := newTarget()
		err := c.Unmarshal(data, p)
		if err != nil {
			if !errors.Is(err, codec.ErrDecode) {
				t.Fatalf("Unmarshal into %T: %v, not ErrDecode", p, err)
			}
			continue
		}
		// What decoded must survive a round trip unchanged. Marshal the
		// pointer: gob stores a *any as an interface, an any as its
		// concrete value.
		got := reflect.ValueOf(p).Elem().Interface()
		again, err := c.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal of the decoded %#v: %v", got, err)
		}
		p2 := newTarget()
		if err := c.Unmarshal(again, p2); err != nil {
			t.Fatalf("Unmarshal of the marshaled %#v: %v", got, err)
		}
		if diff := cmp.Diff(got, reflect.ValueOf(p2).Elem().Interface(), cmpOpts...); diff != "" {
			t.Fatalf("second round trip of %T changed it (-first +second):\n%s", p, diff)
		}
	}
}

func FuzzGobUnmarshal(f *testing.F) {
	addSeeds(f, codec.Gob)
	addStreamSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkUnmarshal(t, codec.Gob, data)
		// Whatever path Gob takes (a primed decoder or a new one), it
		// decodes as a new gob.Decoder given the whole stream.
		for _, newTarget := range primedTargets {
			checkLikeReference(t, data, newTarget)
		}
	})
}

// addStreamSeeds adds values as earlier releases wrote them (a plain gob
// stream with the writer's own type ids) and as Gob writes them now.
func addStreamSeeds(f *testing.F) {
	f.Helper()
	for _, v := range primedValues() {
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(v); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
		data, err := codec.Gob.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// primedValues are values of types that Gob decodes with primed decoders,
// and primedTargets what the fuzzers decode into.
func primedValues() []any {
	return []any{
		benchProduct(1), streamValues["order"].want, streamValues["tree"].want,
		[]legacyLine{{"x", 1, 2}}, map[string]legacyCustomer{"c": {"n", "e"}}, 7,
	}
}

var primedTargets = []func() any{
	func() any { return new(product) },
	func() any { return new(legacyOrder) },
	func() any { return new(*tree) },
	func() any { return new([]legacyLine) },
	func() any { return new(map[string]legacyCustomer) },
	func() any { return new(int) },
}

// FuzzGobPrimedValue puts arbitrary bytes behind the type definitions
// Gob writes for one of primedValues: a corrupt value message reaches the
// primed decoders, which must fail as a new Decoder fails, or decode what
// it decodes, and never panic.
func FuzzGobPrimedValue(f *testing.F) {
	values := primedValues()
	defs := make([][]byte, len(values))
	for i, v := range values {
		data, err := codec.Gob.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		at, ok := codec.GobSplit(data)
		if !ok {
			f.Fatalf("%T: no single value message", v)
		}
		defs[i] = data[:at]
		f.Add(uint8(i), data[at:])
		f.Add(uint8(i), data[at:len(data)-1])
	}
	f.Add(uint8(0), []byte{0x03, 0xff, 0x80, 0x00})
	f.Add(uint8(1), []byte{0x01, 0x00})
	f.Fuzz(func(t *testing.T, which uint8, msg []byte) {
		i := int(which) % len(values)
		data := append(bytes.Clone(defs[i]), msg...)
		checkLikeReference(t, data, primedTargets[i])
		// A value that reaches a primed decoder of another type fails or
		// decodes as a new Decoder says too.
		checkLikeReference(t, data, primedTargets[(i+1)%len(values)])
	})
}

func FuzzJSONUnmarshal(f *testing.F) {
	addSeeds(f, codec.JSON)
	f.Add([]byte(`{"ID":1e400}`))
	f.Add([]byte(`[{"k":null}]`))
	f.Add([]byte(`"\ud800"`))
	f.Fuzz(func(t *testing.T, data []byte) { checkUnmarshal(t, codec.JSON, data) })
}

func FuzzCompressUnmarshal(f *testing.F) {
	small := codec.Compress(codec.Gob, codec.WithThreshold(0))
	addSeeds(f, small)
	for _, v := range seeds() {
		if data, err := codec.Compress(codec.JSON, codec.WithThreshold(0)).Marshal(v); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkUnmarshal(t, small, data)
		// Raw accepts any inflated bytes, so this reaches the flate checks
		// alone.
		var b []byte
		if err := codec.Compress(codec.Raw).Unmarshal(data, &b); err != nil && !errors.Is(err, codec.ErrDecode) {
			t.Fatalf("raw+flate: %v, not ErrDecode", err)
		}
	})
}

func FuzzRawUnmarshal(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("text"))
	f.Add([]byte{0, 0xff, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b []byte
		if err := codec.Raw.Unmarshal(data, &b); err != nil {
			t.Fatal(err)
		}
		if b == nil || string(b) != string(data) {
			t.Fatalf("Unmarshal into *[]byte = %#v, want %#v", b, data)
		}
		var s string
		if err := codec.Raw.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		if s != string(data) {
			t.Fatalf("Unmarshal into *string = %q, want %q", s, data)
		}
		if again, err := codec.Raw.Marshal(s); err != nil || string(again) != s {
			t.Fatalf("Marshal(%q) = %q, %v", s, again, err)
		}
	})
}

// FuzzRoundTrip marshals fuzzed values with every codec and checks that
// they come back as each codec's documentation says.
func FuzzRoundTrip(f *testing.F) {
	f.Add("name", []byte("data"), int64(42), 1.5, true)
	f.Add("", []byte{}, int64(0), 0.0, false)
	f.Add("\xff", []byte(nil), int64(math.MinInt64), math.Inf(1), true)
	f.Add("日本", []byte{0}, int64(math.MaxInt64), math.NaN(), false)
	f.Fuzz(func(t *testing.T, s string, b []byte, i int64, fl float64, ok bool) {
		in := record{
			ID:     i,
			Item:   item{Name: s, Tags: []string{s, ""}, Score: fl},
			Items:  []item{{Name: s}},
			ByName: map[string]item{s: {Score: fl}},
			Data:   b,
		}
		if ok {
			in.Ptr = &item{Name: s}
		}

		gobWant := in
		if len(b) == 0 {
			gobWant.Data = nil // gob: empty slices come back nil
		}
		for _, c := range []codec.Codec{codec.Gob, codec.Compress(codec.Gob, codec.WithThreshold(0))} {
			roundTrip(t, c, in, gobWant)
		}

		if utf8.ValidString(s) && !math.IsNaN(fl) && !math.IsInf(fl, 0) {
			for _, c := range []codec.Codec{codec.JSON, codec.Compress(codec.JSON, codec.WithThreshold(0))} {
				roundTrip(t, c, in, in)
			}
		}

		rawWant := b
		if rawWant == nil {
			rawWant = []byte{} // raw: nil comes back empty
		}
		for _, c := range []codec.Codec{codec.Raw, codec.Compress(codec.Raw, codec.WithThreshold(0))} {
			roundTrip(t, c, b, rawWant)
			roundTrip(t, c, s, s)
		}
	})
}

func roundTrip[T any](t *testing.T, c codec.Codec, in, want T) {
	t.Helper()
	data, err := c.Marshal(in)
	if err != nil {
		t.Fatalf("%s.Marshal: %v", c.Name(), err)
	}
	var got T
	if err := c.Unmarshal(data, &got); err != nil {
		t.Fatalf("%s.Unmarshal: %v", c.Name(), err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Fatalf("%s round trip (-want +got):\n%s", c.Name(), diff)
	}
}
