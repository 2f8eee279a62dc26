package codec_test

import (
	"bytes"
	"encoding/gob"
	"errors"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York on machines without zoneinfo

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/redcache/redcache/codec"
)

// Test types.

type item struct {
	Name  string
	Tags  []string
	Score float64
}

type record struct {
	ID      int64
	Item    item
	Ptr     *item
	Items   []item
	ByName  map[string]item
	Data    []byte
	When    time.Time
	Any     any
	private string // never stored: gob and json skip unexported fields
}

func init() {
	// gob needs the concrete types that travel in interface fields.
	gob.Register(item{})
}

var sample = record{
	ID:      42,
	Item:    item{Name: "a", Tags: []string{"x", "y"}, Score: 1.5},
	Ptr:     &item{Name: "p"},
	Items:   []item{{Name: "i0"}, {Name: "i1", Tags: []string{"t"}}},
	ByName:  map[string]item{"k": {Name: "v", Score: -2}},
	Data:    []byte{0, 1, 2, 255},
	When:    time.Date(2024, 3, 10, 12, 30, 0, 123456789, time.UTC),
	Any:     "text",
	private: "secret",
}

// sampleBack is sample as every codec gives it back: without the
// unexported field.
func sampleBack() record {
	r := sample
	r.private = ""
	return r
}

// rtCase is one round trip: in is marshaled, then unmarshaled into a new
// value of want's type (or into what ptr returns), which must equal want.
type rtCase struct {
	name string
	in   any
	want any
	ptr  func() any // target; default: a new pointer to want's type
}

var cmpOpts = []cmp.Option{cmp.AllowUnexported(record{}), cmpopts.EquateNaNs()}

func ptrTo[T any]() func() any { return func() any { return new(T) } }

func runRoundTrips(t *testing.T, c codec.Codec, cases []rtCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := c.Marshal(tc.in)
			if err != nil {
				t.Fatalf("%s.Marshal(%#v): %v", c.Name(), tc.in, err)
			}
			var p any
			if tc.ptr != nil {
				p = tc.ptr()
			} else {
				p = reflect.New(reflect.TypeOf(tc.want)).Interface()
			}
			if err := c.Unmarshal(data, p); err != nil {
				t.Fatalf("%s.Unmarshal(%q): %v", c.Name(), data, err)
			}
			got := reflect.ValueOf(p).Elem().Interface()
			if diff := cmp.Diff(tc.want, got, cmpOpts...); diff != "" {
				t.Errorf("%s round trip (-want +got):\n%s", c.Name(), diff)
			}
		})
	}
}

// commonCases come back the same from gob and json.
func commonCases() []rtCase {
	n := 7
	pn := &n
	return []rtCase{
		{name: "int", in: 7, want: 7},
		{name: "zero int", in: 0, want: 0},
		{name: "string", in: "héllo", want: "héllo"},
		{name: "empty string", in: "", want: ""},
		{name: "bool", in: true, want: true},
		{name: "float", in: 3.25, want: 3.25},
		{name: "struct", in: sample, want: sampleBack()},
		{name: "pointer to struct", in: &sample, want: sampleBack()},
		{name: "struct into pointer", in: sample, want: ptr(sampleBack())},
		{name: "zero struct", in: record{}, want: record{}},
		{name: "pointer", in: pn, want: pn},
		{name: "pointer to pointer", in: &pn, want: &pn},
		{name: "nil pointer", in: (*int)(nil), want: (*int)(nil)},
		{name: "nil pointer to struct", in: (*record)(nil), want: (*record)(nil)},
		{name: "untyped nil into pointer", in: nil, want: (*record)(nil)},
		{name: "nil into any", in: nil, ptr: ptrTo[any](), want: any(nil)},
		{name: "nil slice", in: []int(nil), want: []int(nil)},
		{name: "nil map", in: map[string]int(nil), want: map[string]int(nil)},
		{name: "slice", in: []int{3, 1, 2}, want: []int{3, 1, 2}},
		{name: "slice of structs", in: []item{{Name: "a"}, {Name: "b"}}, want: []item{{Name: "a"}, {Name: "b"}}},
		{name: "map", in: map[string]int{"a": 1, "b": 0}, want: map[string]int{"a": 1, "b": 0}},
		{name: "empty map", in: map[string]int{}, want: map[string]int{}},
		{name: "int map keys", in: map[int]string{1: "one", -1: "minus"}, want: map[int]string{1: "one", -1: "minus"}},
		{name: "nested maps", in: map[string]map[string][]int{"a": {"b": {1}}}, want: map[string]map[string][]int{"a": {"b": {1}}}},
		{name: "bytes", in: []byte("bytes\x00\xff"), want: []byte("bytes\x00\xff")},
	}
}

func ptr[T any](v T) *T { return &v }

func TestGobRoundTrip(t *testing.T) {
	anyInt := any(5)
	cases := append(commonCases(),
		// gob does not tell empty slices from nil ones.
		rtCase{name: "empty slice", in: []int{}, want: []int(nil)},
		rtCase{name: "struct with empty slice", in: item{Tags: []string{}}, want: item{}},
		rtCase{name: "empty bytes", in: []byte{}, want: []byte(nil)},
		// A non-nil map comes back non-nil; a nil one inside a struct nil.
		rtCase{name: "struct with empty map", in: record{ByName: map[string]item{}}, want: record{ByName: map[string]item{}}},
		rtCase{name: "struct with nil map", in: record{}, want: record{}},
		// Interface values keep their concrete type (registered ones).
		rtCase{name: "any field", in: record{Any: item{Name: "in any"}}, want: record{Any: item{Name: "in any"}}},
		rtCase{name: "any field int", in: record{Any: 5}, want: record{Any: 5}},
		rtCase{name: "*any", in: &anyInt, ptr: ptrTo[any](), want: any(5)},
		// Pointers are flattened: T and *T are interchangeable.
		rtCase{name: "pointer into value", in: &item{Name: "x"}, want: item{Name: "x"}},
		rtCase{name: "int64 into int8", in: int64(100), want: int8(100)},
		rtCase{name: "nil slice in slice", in: [][]int{nil, {}, {1}}, want: [][]int{nil, nil, {1}}},
		rtCase{name: "nil map in slice", in: []map[string]int{nil, {}}, want: []map[string]int{{}, {}}},
		rtCase{name: "nil slice in map", in: map[string][]int{"a": nil, "b": {}}, want: map[string][]int{"a": nil, "b": nil}},
	)
	runRoundTrips(t, codec.Gob, cases)
	t.Run("compressed", func(t *testing.T) {
		runRoundTrips(t, codec.Compress(codec.Gob, codec.WithThreshold(0)), cases)
	})
}

func TestJSONRoundTrip(t *testing.T) {
	cases := append(commonCases(),
		// JSON keeps nil and empty apart.
		rtCase{name: "empty slice", in: []int{}, want: []int{}},
		rtCase{name: "struct with empty slice", in: item{Tags: []string{}}, want: item{Tags: []string{}}},
		rtCase{name: "empty bytes", in: []byte{}, want: []byte{}},
		// JSON loses Go types in interfaces.
		rtCase{name: "int into any", in: 5, ptr: ptrTo[any](), want: any(5.0)},
		rtCase{name: "any field struct", in: record{Any: item{Name: "n"}}, want: record{Any: map[string]any{"Name": "n", "Tags": nil, "Score": 0.0}}},
		rtCase{name: "big int64 into any", in: int64(1<<53 + 1), ptr: ptrTo[any](), want: any(float64(1 << 53))},
		rtCase{name: "slice into any", in: []int{1}, ptr: ptrTo[any](), want: any([]any{1.0})},
		rtCase{name: "invalid UTF-8", in: "a\xffb", want: "a\uFFFDb"},
	)
	runRoundTrips(t, codec.JSON, cases)
	t.Run("compressed", func(t *testing.T) {
		runRoundTrips(t, codec.Compress(codec.JSON, codec.WithThreshold(0)), cases)
	})
}

func TestTimeLocation(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	inNY := time.Date(2024, 7, 4, 9, 15, 30, 987654321, ny)
	for _, c := range []codec.Codec{codec.Gob, codec.JSON, codec.Compress(codec.Gob, codec.WithThreshold(0))} {
		t.Run(c.Name(), func(t *testing.T) {
			for _, in := range []time.Time{inNY, inNY.UTC(), time.Now(), {}} {
				data, err := c.Marshal(in)
				if err != nil {
					t.Fatal(err)
				}
				var got time.Time
				if err := c.Unmarshal(data, &got); err != nil {
					t.Fatal(err)
				}
				// The instant survives, to the nanosecond.
				if !got.Equal(in) {
					t.Errorf("got %v, want %v", got, in)
				}
				// So does the offset...
				_, wantOff := in.Zone()
				if _, off := got.Zone(); off != wantOff {
					t.Errorf("%v: offset %d, want %d", in, off, wantOff)
				}
				// ...but not the location.
				if in.Location() == ny && got.Location().String() == "America/New_York" {
					t.Errorf("location survived: the docs say it does not")
				}
				if in.Location() == time.UTC && got.Location() != time.UTC {
					t.Errorf("UTC came back as %v", got.Location())
				}
			}
		})
	}
}

// TestUnmarshalReplaces checks that Unmarshal does not merge into what the
// target held, as gob and json would on their own.
func TestUnmarshalReplaces(t *testing.T) {
	for _, c := range allCodecs() {
		if strings.HasPrefix(c.Name(), "raw") {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			data, err := c.Marshal(item{Name: "new"})
			if err != nil {
				t.Fatal(err)
			}
			got := item{Name: "old", Tags: []string{"old"}, Score: 9}
			if err := c.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(item{Name: "new"}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}

			m := map[string]int{"stale": 1}
			data, err = c.Marshal(map[string]int{"fresh": 2})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]int{"fresh": 2}, m); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}

			p := &item{Name: "old"}
			data, err = c.Marshal((*item)(nil))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Unmarshal(data, &p); err != nil {
				t.Fatal(err)
			}
			if p != nil {
				t.Errorf("nil came back as %#v", p)
			}
		})
	}
}

// TestNoAliasing checks the Codec contract: Marshal's result is the
// caller's, and the decoded value does not share memory with data.
func TestNoAliasing(t *testing.T) {
	for _, c := range allCodecs() {
		t.Run(c.Name(), func(t *testing.T) {
			in := bytes.Repeat([]byte("abcdefgh"), 300)
			data, err := c.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			in[0] = 'X'
			var got []byte
			if err := c.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			for i := range data {
				data[i] = 0
			}
			want := bytes.Repeat([]byte("abcdefgh"), 300)
			if !bytes.Equal(got, want) {
				t.Errorf("decoded value changed with data or input")
			}
		})
	}
}

func allCodecs() []codec.Codec {
	return []codec.Codec{
		codec.Gob, codec.JSON, codec.Raw,
		codec.Compress(codec.Gob), codec.Compress(codec.JSON), codec.Compress(codec.Raw),
		codec.Compress(codec.Gob, codec.WithThreshold(0)),
	}
}

func TestBigValues(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, 1<<20)
	rng.Read(random)
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", (1<<20)/45))
	for _, c := range allCodecs() {
		for name, in := range map[string][]byte{"random": random, "text": text} {
			t.Run(c.Name()+"/"+name, func(t *testing.T) {
				data, err := c.Marshal(in)
				if err != nil {
					t.Fatal(err)
				}
				var got []byte
				if err := c.Unmarshal(data, &got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, in) {
					t.Errorf("1 MiB value changed")
				}
				var s string
				if c.Name() == "raw" || strings.HasPrefix(c.Name(), "raw+") {
					if err := c.Unmarshal(data, &s); err != nil || s != string(in) {
						t.Errorf("into *string: err %v, equal %v", err, s == string(in))
					}
				}
			})
		}
	}
	t.Run("struct", func(t *testing.T) {
		in := record{Items: make([]item, 20000)}
		for i := range in.Items {
			in.Items[i] = item{Name: strings.Repeat("n", i%50), Tags: []string{"t"}, Score: float64(i)}
		}
		for _, c := range []codec.Codec{codec.Gob, codec.JSON, codec.Compress(codec.Gob)} {
			data, err := c.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var got record
			if err := c.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(in, got, cmpOpts...); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.Name(), diff)
			}
		}
	})
}

func TestUnmarshalBadTarget(t *testing.T) {
	data := map[string][]byte{}
	for _, c := range allCodecs() {
		d, err := c.Marshal([]byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		data[c.Name()] = d
	}
	targets := []struct {
		name string
		v    any
	}{
		{"untyped nil", nil},
		{"non-pointer", []byte{}},
		{"nil pointer", (*[]byte)(nil)},
		{"nil string pointer", (*string)(nil)},
	}
	for _, c := range allCodecs() {
		for _, tg := range targets {
			t.Run(c.Name()+"/"+tg.name, func(t *testing.T) {
				err := c.Unmarshal(data[c.Name()], tg.v)
				if !errors.Is(err, codec.ErrUnsupportedType) {
					t.Errorf("Unmarshal into %s: %v, want ErrUnsupportedType", tg.name, err)
				}
				if errors.Is(err, codec.ErrDecode) {
					t.Errorf("Unmarshal into %s: %v also matches ErrDecode", tg.name, err)
				}
			})
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	gobInt, _ := codec.Gob.Marshal(12345)
	gobItem, _ := codec.Gob.Marshal(item{Name: "x", Score: 2})
	cases := []struct {
		name string
		c    codec.Codec
		data []byte
		v    any
	}{
		{"gob garbage", codec.Gob, []byte("not a gob stream"), new(item)},
		{"gob truncated", codec.Gob, gobItem[:len(gobItem)-3], new(item)},
		{"gob trailing bytes", codec.Gob, append(bytes.Clone(gobInt), 0), new(int)},
		{"gob two values", codec.Gob, append(bytes.Clone(gobInt), gobInt...), new(int)},
		{"gob wrong type", codec.Gob, gobInt, new(item)},
		{"gob overflow", codec.Gob, gobInt, new(int8)},
		{"gob unregistered interface", codec.Gob, gobItem, new(any)},
		{"gob zero count", codec.Gob, []byte{0}, new(int)},
		{"json garbage", codec.JSON, []byte("{"), new(item)},
		{"json empty", codec.JSON, []byte{}, new(item)},
		{"json trailing", codec.JSON, []byte(`1 2`), new(int)},
		{"json wrong type", codec.JSON, []byte(`{"Name":5}`), new(item)},
		{"json gob bytes", codec.JSON, gobItem, new(item)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Unmarshal(tc.data, tc.v)
			if !errors.Is(err, codec.ErrDecode) {
				t.Fatalf("Unmarshal: %v, want ErrDecode", err)
			}
			if !strings.HasPrefix(err.Error(), "redcache: codec: cannot decode: ") || strings.Count(err.Error(), "redcache:") != 1 {
				t.Errorf("message %q", err)
			}
		})
	}
}

// Types whose methods panic or fail.

type panicky struct{ X int }

func (panicky) MarshalJSON() ([]byte, error) { panic("boom") }
func (*panicky) UnmarshalJSON([]byte) error  { panic("boom") }
func (panicky) GobEncode() ([]byte, error)   { panic("boom") }
func (*panicky) GobDecode([]byte) error      { panic("boom") }
func (panicky) MarshalText() ([]byte, error) { return nil, errors.New("no") }

// encodesFine is what decodePanicky fails to decode: gob decodes into a
// GobDecoder only what a GobEncoder wrote.
type encodesFine struct{ X int }

func (encodesFine) GobEncode() ([]byte, error)   { return []byte("x"), nil }
func (encodesFine) MarshalJSON() ([]byte, error) { return []byte("1"), nil }

type decodePanicky struct{ X int }

func (*decodePanicky) GobDecode([]byte) error     { panic("boom") }
func (*decodePanicky) UnmarshalJSON([]byte) error { panic("boom") }

func TestPanicsBecomeErrors(t *testing.T) {
	for _, c := range []codec.Codec{codec.Gob, codec.JSON, codec.Compress(codec.Gob, codec.WithThreshold(0))} {
		t.Run(c.Name(), func(t *testing.T) {
			if _, err := c.Marshal(panicky{}); !errors.Is(err, codec.ErrEncode) || !strings.Contains(err.Error(), "boom") {
				t.Errorf("Marshal of a panicking value: %v, want ErrEncode", err)
			}
			data, err := c.Marshal(encodesFine{1})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Unmarshal(data, new(decodePanicky)); !errors.Is(err, codec.ErrDecode) || !strings.Contains(err.Error(), "boom") {
				t.Errorf("Unmarshal into a panicking value: %v, want ErrDecode", err)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	type withChan struct{ C chan int }
	type unregistered struct{ N int }
	cases := []struct {
		name        string
		c           codec.Codec
		v           any
		unsupported bool // also ErrUnsupportedType
	}{
		{"gob chan", codec.Gob, make(chan int), false},
		{"gob func", codec.Gob, func() {}, false},
		{"gob unregistered type in interface", codec.Gob, record{Any: unregistered{1}}, false},
		{"gob nil element", codec.Gob, []*int{nil}, false},
		{"gob nil map value", codec.Gob, map[string]*int{"a": nil}, false},
		{"json chan", codec.JSON, withChan{C: make(chan int)}, true},
		{"json func", codec.JSON, func() {}, true},
		{"json NaN", codec.JSON, []float64{0, nan()}, false},
		{"json text marshaler error", codec.JSON, map[panicky]int{{}: 1}, false},
		{"raw int", codec.Raw, 5, true},
		{"raw nil", codec.Raw, nil, true},
		{"raw named bytes", codec.Raw, namedBytes("x"), true},
		{"raw nil *[]byte", codec.Raw, (*[]byte)(nil), false},
		{"raw nil *string", codec.Raw, (*string)(nil), false},
		{"compressed raw int", codec.Compress(codec.Raw), 5, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tc.c.Marshal(tc.v)
			if !errors.Is(err, codec.ErrEncode) {
				t.Fatalf("Marshal: %q, %v, want ErrEncode", data, err)
			}
			if n := strings.Count(err.Error(), "redcache:"); n != 1 || strings.Contains(err.Error(), "gob: gob:") {
				t.Errorf("message %q", err)
			}
			if got := errors.Is(err, codec.ErrUnsupportedType); got != tc.unsupported {
				t.Errorf("errors.Is(%v, ErrUnsupportedType) = %v, want %v", err, got, tc.unsupported)
			}
			if data != nil {
				t.Errorf("data %q with an error", data)
			}
		})
	}
}

type namedBytes []byte

func nan() float64 {
	var zero float64
	return zero / zero
}
