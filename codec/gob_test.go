package codec_test

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/codec"
)

// Types of testdata/gob-stream.txt: values as Gob wrote them before it
// reused its encoders (one gob stream per value, with the writing
// process's own type ids), written by a program that had encoded other
// types first. Only the field names and types must match the writer's.

type legacyOrder struct {
	ID       int64
	Customer *legacyCustomer
	Lines    []legacyLine
	Notes    map[string]string
	Placed   time.Time
	Total    float64
	Flags    [3]uint16
	Raw      []byte
}

type legacyCustomer struct{ Name, Email string }

type legacyLine struct {
	SKU   string
	Qty   int
	Price float64
}

type tree struct {
	Label string
	Kids  []tree
}

// streamValues are the values of testdata/gob-stream.txt, by name, with
// the type to decode them into.
var streamValues = map[string]struct {
	want any
	ptr  func() any
}{
	"order": {legacyOrder{
		ID: 7, Customer: &legacyCustomer{"Ann", "ann@example.com"},
		Lines:  []legacyLine{{"SKU-1", 2, 9.5}, {"SKU-2", 1, 0.25}},
		Notes:  map[string]string{"gift": "yes"},
		Placed: time.Date(2025, 6, 7, 8, 9, 10, 11, time.UTC), Total: 19.25,
		Flags: [3]uint16{1, 0, 65535}, Raw: []byte{0, 1, 2},
	}, ptrTo[legacyOrder]()},
	"tree":    {tree{"root", []tree{{"a", nil}, {"b", []tree{{"c", nil}}}}}, ptrTo[tree]()},
	"strings": {[]string{"x", "", "z"}, ptrTo[[]string]()},
	"map":     {map[string]int{"one": 1}, ptrTo[map[string]int]()},
	"int":     {int64(-42), ptrTo[int64]()},
	"string":  {"hello", ptrTo[string]()},
	"ptr":     {&legacyCustomer{"Bob", ""}, ptrTo[*legacyCustomer]()},
}

func readStreamFile(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open("testdata/gob-stream.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := make(map[string][]byte)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, hx, _ := strings.Cut(sc.Text(), " ")
		b, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	if len(out) != len(streamValues) {
		t.Fatalf("testdata has %d values, want %d", len(out), len(streamValues))
	}
	return out
}

// TestGobReadsStoredStreams: entries written by earlier releases stay
// readable, and do not disturb what the primed decoders do afterwards.
func TestGobReadsStoredStreams(t *testing.T) {
	stored := readStreamFile(t)
	for round := range 3 {
		for name, data := range stored {
			sv := streamValues[name]
			p := sv.ptr()
			if err := codec.Gob.Unmarshal(data, p); err != nil {
				t.Fatalf("round %d: %s: %v", round, name, err)
			}
			if diff := cmp.Diff(sv.want, reflect.ValueOf(p).Elem().Interface()); diff != "" {
				t.Fatalf("round %d: %s (-want +got):\n%s", round, name, diff)
			}
			// The same value as this release writes it decodes the same.
			again, err := codec.Gob.Marshal(sv.want)
			if err != nil {
				t.Fatal(err)
			}
			p = sv.ptr()
			if err := codec.Gob.Unmarshal(again, p); err != nil {
				t.Fatalf("%s rewritten: %v", name, err)
			}
			if diff := cmp.Diff(sv.want, reflect.ValueOf(p).Elem().Interface()); diff != "" {
				t.Fatalf("%s rewritten (-want +got):\n%s", name, diff)
			}
		}
	}
	// The order was written with type ids of its writer's own: it is
	// decoded by a new Decoder, not a primed one.
	if codec.GobPrimed(stored["order"], new(legacyOrder)) {
		t.Error("a stream with another process's type ids took the primed path")
	}
}

// gobValues are values of many shapes, some of them holding interfaces.
func gobValues() []any {
	n := 3
	return []any{
		benchProduct(1), &[]product{benchProduct(2), benchProduct(3)}, benchUser(4),
		streamValues["order"].want, streamValues["tree"].want, sampleBack(), &n,
		[]string{"a", "b"}, map[string][]int{"k": {1, 2}}, [4]uint16{1, 2, 3, 4},
		int64(-7), "text", []byte("bytes"), time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC),
		map[legacyCustomer]float64{{"a", "b"}: 1.5}, item{Name: "x"},
	}
}

// TestGobWritesStreams: what Gob writes is a plain gob stream, which a new
// gob.Decoder (as every earlier release used) decodes.
func TestGobWritesStreams(t *testing.T) {
	for _, v := range gobValues() {
		for range 3 { // the first value primes the encoder, the next reuse it
			data, err := codec.Gob.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			p := reflect.New(reflect.TypeOf(v))
			if err := gob.NewDecoder(bytes.NewReader(data)).Decode(p.Interface()); err != nil {
				t.Fatalf("%T: gob.Decoder: %v", v, err)
			}
			if diff := cmp.Diff(v, p.Elem().Interface(), cmpOpts...); diff != "" {
				t.Fatalf("%T (-want +got):\n%s", v, diff)
			}
		}
	}
}

// TestGobPrimedPath: values of types without interfaces decode on the
// primed path; values of the other types, on their own.
func TestGobPrimedPath(t *testing.T) {
	for _, tc := range []struct {
		v      any
		target any
		primed bool
	}{
		{benchProduct(1), new(product), true},
		{benchProduct(1), new(*product), true},
		{&[]product{benchProduct(1)}, new([]product), true},
		{streamValues["tree"].want, new(tree), true},
		{42, new(int), true},
		{sampleBack(), new(record), false}, // record.Any
		{item{Name: "x"}, new(any), false},
	} {
		data, err := codec.Gob.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if got := codec.GobPrimed(data, tc.target); got != tc.primed {
			t.Errorf("%T into %T: primed %v, want %v", tc.v, tc.target, got, tc.primed)
		}
	}
}

// TestGobAllocs: a 1 KiB struct costs a handful of allocations to decode
// and to encode, not one engine per value (199 and 22 allocations before).
func TestGobAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items at random")
	}
	p := benchProduct(9)
	data, err := codec.Gob.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	dec := testing.AllocsPerRun(200, func() {
		var out product
		if err := codec.Gob.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
	})
	enc := testing.AllocsPerRun(200, func() {
		if _, err := codec.Gob.Marshal(p); err != nil {
			t.Fatal(err)
		}
	})
	// Decoding allocates the message, the strings, the slice and the
	// time; encoding the result and the time's bytes.
	if dec > 20 || enc > 8 {
		t.Errorf("Unmarshal: %v allocations, Marshal: %v; want at most 20 and 8", dec, enc)
	}
}

// childEnv makes the test binary, re-executed, play the other process of
// TestGobCrossProcess.
const childEnv = "REDCACHE_CODEC_GOB_CHILD"

type shiftA struct{ A map[int][]float32 }
type shiftB struct {
	B [7]int8
	C []shiftA
}

// crossValues are what the two processes of TestGobCrossProcess write.
func crossValues() []any {
	return []any{
		streamValues["order"].want, streamValues["tree"].want, benchProduct(5),
		[]legacyLine{{"x", 1, 2}}, map[string]legacyCustomer{"c": {"n", "e"}},
	}
}

// TestGobCrossProcess: two processes that met their types in different
// orders (so gob gave the types different ids) write the same bytes for
// the same value, decode each other's values on the primed path, and read
// each other's values as earlier releases wrote them.
func TestGobCrossProcess(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		gobChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGobCrossProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(l, "gob "); ok {
			lines = append(lines, rest)
		}
	}
	values := crossValues()
	if len(lines) != 2*len(values) {
		t.Fatalf("child wrote %d lines, want %d:\n%s", len(lines), 2*len(values), out)
	}
	idsDiffer := false
	for i, v := range values {
		ours, err := codec.Gob.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		oursPlain := plainGob(t, v)
		theirs, _ := hex.DecodeString(lines[2*i])
		theirsPlain, _ := hex.DecodeString(lines[2*i+1])
		if !bytes.Equal(ours, theirs) {
			t.Errorf("%T: the processes wrote different bytes:\n%x\n%x", v, ours, theirs)
		}
		if !bytes.Equal(oursPlain, theirsPlain) {
			idsDiffer = true
		}
		for _, data := range [][]byte{theirs, theirsPlain} {
			p := reflect.New(reflect.TypeOf(v))
			if err := codec.Gob.Unmarshal(data, p.Interface()); err != nil {
				t.Fatalf("%T: %v", v, err)
			}
			if diff := cmp.Diff(v, p.Elem().Interface()); diff != "" {
				t.Errorf("%T (-want +got):\n%s", v, diff)
			}
		}
		if !codec.GobPrimed(theirs, reflect.New(reflect.TypeOf(v)).Interface()) {
			t.Errorf("%T: the other process's value is not decoded on the primed path", v)
		}
	}
	if !idsDiffer {
		t.Fatal("the two processes gave the types the same gob ids: the test proves nothing")
	}
}

// gobChild meets other types first and the values in reverse order, then
// writes each value as Gob writes it and as a plain gob stream.
func gobChild() {
	_, _ = codec.Gob.Marshal(shiftB{})
	_, _ = codec.Gob.Marshal(map[string][]int{"a": {1}})
	values := crossValues()
	for i := len(values) - 1; i >= 0; i-- {
		_, _ = codec.Gob.Marshal(values[i])
	}
	for _, v := range values {
		data, err := codec.Gob.Marshal(v)
		if err != nil {
			panic(err)
		}
		var plain bytes.Buffer
		if err := gob.NewEncoder(&plain).Encode(v); err != nil {
			panic(err)
		}
		fmt.Printf("gob %x\ngob %x\n", data, plain.Bytes())
	}
}

func plainGob(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gobReference decodes data as Gob did before it primed decoders: a new
// gob.Decoder for the whole stream.
func gobReference(data []byte, p any) (err error) {
	reflect.ValueOf(p).Elem().SetZero()
	if len(data) == 0 {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	r := bytes.NewReader(data)
	if err := gob.NewDecoder(r).Decode(p); err != nil {
		return err
	}
	if r.Len() != 0 {
		return errors.New("trailing bytes")
	}
	return nil
}

// checkLikeReference decodes data with Gob into a new target (three
// times, so that primed decoders are used) and with gobReference: both
// fail, or both give the same value.
func checkLikeReference(t *testing.T, data []byte, newTarget func() any) {
	t.Helper()
	if err := codec.Gob.Unmarshal(data, newTarget()); errors.Is(err, codec.ErrGobMapBomb) {
		return // gob.Decoder would try to allocate the map: the reason for the check
	}
	want := newTarget()
	refErr := gobReference(data, want)
	for range 3 {
		got := newTarget()
		err := codec.Gob.Unmarshal(data, got)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("Gob: %v; a new gob.Decoder: %v", err, refErr)
		}
		if err != nil {
			if !errors.Is(err, codec.ErrDecode) {
				t.Fatalf("Unmarshal into %T: %v, not ErrDecode", got, err)
			}
			continue
		}
		if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
			t.Fatalf("Gob and a new gob.Decoder disagree (-new decoder +Gob):\n%s", diff)
		}
	}
}

// TestGobCorruptValues: every corruption of a value message behind the
// canonical definitions decodes as a new Decoder would decode it, and
// leaves the primed decoders working.
func TestGobCorruptValues(t *testing.T) {
	p := benchProduct(3)
	good, err := codec.Gob.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	at, ok := codec.GobSplit(good)
	if !ok {
		t.Fatal("Marshal wrote no single value message")
	}
	newTarget := func() any { return new(product) }
	for i := at; i < len(good); i++ {
		for _, b := range []byte{0, 1, 0x7f, 0x80, 0xfe, 0xff, good[i] ^ 0x40} {
			bad := bytes.Clone(good)
			bad[i] = b
			checkLikeReference(t, bad, newTarget)
		}
		checkLikeReference(t, good[:i], newTarget)
	}
	var out product
	if err := codec.Gob.Unmarshal(good, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, out); diff != "" {
		t.Fatalf("after the corrupt values (-want +got):\n%s", diff)
	}
}

// TestGobConcurrent shares Gob between goroutines that encode and decode
// values of many types, new and stored, good and corrupt.
func TestGobConcurrent(t *testing.T) {
	stored := readStreamFile(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			values := gobValues()
			for i := range 60 {
				v := values[(g+i)%len(values)]
				if p, ok := v.(product); ok {
					p.ID = int64(g*1000 + i)
					v = p
				}
				data, err := codec.Gob.Marshal(v)
				if err != nil {
					errs <- err
					return
				}
				out := reflect.New(reflect.TypeOf(v))
				if err := codec.Gob.Unmarshal(data, out.Interface()); err != nil {
					errs <- fmt.Errorf("%T: %w", v, err)
					return
				}
				if diff := cmp.Diff(v, out.Elem().Interface(), cmpOpts...); diff != "" {
					errs <- fmt.Errorf("%T (-want +got):\n%s", v, diff)
					return
				}
				if i%7 == 0 { // a truncated value: an error, never a wrong value
					if err := codec.Gob.Unmarshal(data[:len(data)-1], reflect.New(reflect.TypeOf(v)).Interface()); !errors.Is(err, codec.ErrDecode) {
						errs <- fmt.Errorf("%T truncated: %v", v, err)
						return
					}
				}
				name := []string{"order", "tree", "strings", "ptr"}[i%4]
				sv := streamValues[name]
				p := sv.ptr()
				if err := codec.Gob.Unmarshal(stored[name], p); err != nil {
					errs <- fmt.Errorf("stored %s: %w", name, err)
					return
				}
				if diff := cmp.Diff(sv.want, reflect.ValueOf(p).Elem().Interface()); diff != "" {
					errs <- fmt.Errorf("stored %s (-want +got):\n%s", name, diff)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

type withMap struct {
	N int
	M map[string]int
}

// withCount rewrites the value message of data, whose body (after its
// type id) holds a map count at offset at, with the count n.
func withCount(t *testing.T, data []byte, at int, n uint64) []byte {
	t.Helper()
	start, ok := codec.GobSplit(data)
	if !ok {
		t.Fatalf("%x: no single value message", data)
	}
	msg := data[start:]
	// The message count and the type id are one byte each, or the type id
	// two (0xff and its byte).
	body := msg[1:]
	if body[0] == 0xff {
		body = body[2:]
	} else {
		body = body[1:]
	}
	if body[at] != 1 {
		t.Fatalf("no map count of 1 at %d of %x", at, body)
	}
	var count []byte
	for v := n; v > 0; v >>= 8 {
		count = append([]byte{byte(v)}, count...)
	}
	count = append([]byte{byte(256 - len(count))}, count...)
	newBody := append(append(append([]byte{}, body[:at]...), count...), body[at+1:]...)
	head := msg[1 : len(msg)-len(body)] // the type id
	out := append([]byte{}, data[:start]...)
	out = append(out, byte(len(head)+len(newBody)))
	return append(append(out, head...), newBody...)
}

// TestGobMapBomb: a corrupt map count far beyond the bytes of its message
// is an error at once; encoding/gob alone sizes the map by it first (here
// billions of entries), whatever the path.
func TestGobMapBomb(t *testing.T) {
	top := map[string]int{"a": 1}
	inStruct := withMap{N: 5, M: map[string]int{"a": 1}}
	for _, tc := range []struct {
		name   string
		data   []byte
		at     int
		target func() any
	}{
		// a singleton: a zero delta, then the count
		{"top", mustMarshal(t, top), 1, ptrTo[map[string]int]()},
		{"top stream", plainGob(t, top), 1, ptrTo[map[string]int]()},
		// a struct: delta 1, N, delta 1, then the count
		{"field", mustMarshal(t, inStruct), 3, ptrTo[withMap]()},
		{"field stream", plainGob(t, inStruct), 3, ptrTo[withMap]()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := withCount(t, tc.data, tc.at, 1)
			if err := codec.Gob.Unmarshal(good, tc.target()); err != nil {
				t.Fatalf("the unchanged value: %v", err)
			}
			bad := withCount(t, tc.data, tc.at, 3_000_000_000)
			for range 2 {
				if err := codec.Gob.Unmarshal(bad, tc.target()); !errors.Is(err, codec.ErrDecode) {
					t.Fatalf("Unmarshal: %v, want ErrDecode", err)
				}
			}
		})
	}
}

// TestGobShortMessage: a message count beyond the data is an error before
// encoding/gob allocates a buffer of that size.
func TestGobShortMessage(t *testing.T) {
	data := []byte{0xfc, 0x3f, 0xff, 0xff, 0xff, 0x04, 0x00}
	if err := codec.Gob.Unmarshal(data, new(int)); !errors.Is(err, codec.ErrDecode) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Unmarshal: %v, want ErrDecode and io.ErrUnexpectedEOF", err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := codec.Gob.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type onlyInMap struct{ V int }

// TestGobTypeNames: the type definitions name every struct and time,
// however this process first met the type (gob alone leaves out the name
// of a struct first met as a map's element), so that a reader such as
// "redcache inspect" can show them.
func TestGobTypeNames(t *testing.T) {
	data := mustMarshal(t, map[string]onlyInMap{"k": {1}})
	if plain := plainGob(t, map[string]onlyInMap{"k": {1}}); bytes.Contains(plain, []byte("onlyInMap")) {
		t.Log("encoding/gob named the map's element itself")
	}
	if !bytes.Contains(data, []byte("onlyInMap")) {
		t.Errorf("%x does not name onlyInMap", data)
	}
	data = mustMarshal(t, streamValues["order"].want)
	for _, name := range []string{"legacyOrder", "legacyCustomer", "legacyLine", "Time"} {
		if !bytes.Contains(data, []byte(name)) {
			t.Errorf("the order's definitions do not name %s", name)
		}
	}
}

// Types that exercise how gob describes types.

// extFields encodes itself but has exported fields, whose types gob
// describes anyway.
type extFields struct {
	A []int
	B map[string]legacyLine
}

func (e extFields) GobEncode() ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(struct {
		A []int
		B map[string]legacyLine
	}(e))
	return b.Bytes(), err
}

func (e *extFields) GobDecode(data []byte) error {
	var v struct {
		A []int
		B map[string]legacyLine
	}
	err := gob.NewDecoder(bytes.NewReader(data)).Decode(&v)
	*e = extFields(v)
	return err
}

// binInt marshals itself on a value receiver, ptrEnc on a pointer one.
type binInt int

func (b binInt) MarshalBinary() ([]byte, error) { return []byte{byte(b)}, nil }
func (b *binInt) UnmarshalBinary(p []byte) error {
	if len(p) != 1 {
		return errors.New("binInt: want 1 byte")
	}
	*b = binInt(p[0])
	return nil
}

type ptrEnc struct{ S string }

func (p *ptrEnc) GobEncode() ([]byte, error) { return []byte(p.S), nil }
func (p *ptrEnc) GobDecode(b []byte) error   { p.S = string(b); return nil }

// Inner is exported: gob sends an embedded struct only then.
type Inner struct {
	SKU string
	Qty int
}

type embedded struct {
	Inner
	Extra string
}

type linked struct {
	V    int
	Next *linked
}

type oddTypes struct {
	Ext    extFields
	Bin    binInt
	BinPtr *binInt
	Ptr    *ptrEnc
	Emb    embedded
	List   *linked
	Arr    [2]legacyCustomer
	ByKey  map[legacyCustomer][]tree
	Nested map[string]map[int][]*legacyLine
	When   *time.Time
	unexp  any
}

// TestGobOddTypes: values of types that gob describes in unusual ways
// come back whole, are plain gob streams, and decode on the primed path
// when they hold no interface.
func TestGobOddTypes(t *testing.T) {
	b := binInt(9)
	when := time.Date(2021, 2, 3, 4, 5, 6, 7, time.UTC)
	v := oddTypes{
		Ext:    extFields{A: []int{1, 2}, B: map[string]legacyLine{"x": {"s", 1, 2}}},
		Bin:    7,
		BinPtr: &b,
		Ptr:    &ptrEnc{"p"},
		Emb:    embedded{Inner{"e", 3}, "extra"},
		List:   &linked{1, &linked{2, nil}},
		Arr:    [2]legacyCustomer{{"a", "b"}, {"c", "d"}},
		ByKey:  map[legacyCustomer][]tree{{"k", ""}: {{"t", nil}}},
		Nested: map[string]map[int][]*legacyLine{"n": {1: {{"l", 5, 6}}}},
		When:   &when,
	}
	for _, in := range []any{v, &v, v.Ext, v.Ptr, v.Bin, v.Emb, *v.List, v.ByKey, v.Nested} {
		for range 3 {
			data := mustMarshal(t, in)
			out := reflect.New(reflect.TypeOf(in))
			if err := codec.Gob.Unmarshal(data, out.Interface()); err != nil {
				t.Fatalf("%T: %v", in, err)
			}
			if diff := cmp.Diff(in, out.Elem().Interface(), cmp.AllowUnexported(oddTypes{})); diff != "" {
				t.Fatalf("%T (-want +got):\n%s", in, diff)
			}
			plain := reflect.New(reflect.TypeOf(in))
			if err := gob.NewDecoder(bytes.NewReader(data)).Decode(plain.Interface()); err != nil {
				t.Fatalf("%T: gob.Decoder: %v", in, err)
			}
			if !codec.GobPrimed(data, out.Interface()) {
				t.Errorf("%T: not on the primed path", in)
			}
		}
	}
}
