// Package gobtext renders a gob stream as Go-like text without the Go
// types that wrote it, for "redcache inspect": codec.Gob is redcache's
// default codec, and a person reading a cache entry wants its value, not
// its hex. A gob stream describes its own types, so [Text] walks it the
// way encoding/gob's decoder does. FuzzText holds it to encoding/gob's
// own output.
package gobtext

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Text renders a gob stream holding one value, as codec.Gob writes it,
// as Go-like text, without the Go types that wrote it: a gob stream
// describes its own types (struct names, field names, element types), so
// it walks the stream the way encoding/gob's decoder does and prints
// what it finds, such as
//
//	User{Name: "alice", Age: 30, Tags: ["a", "b"], Seen: 2024-05-01T10:00:00Z}
//
// Gob leaves out zero-valued struct fields, so they are missing here too.
// The text stops after about max bytes, ending in "…". A stream that is
// not gob, or is damaged, returns an error; Text never panics.
//
// The wire format is the one documented in encoding/gob: unsigned
// integers in 1 byte below 128, else a byte holding minus the count of
// big-endian bytes that follow; signed integers zig-zag into unsigned
// ones; floats are unsigned integers of the byte-reversed IEEE bits;
// messages are a byte count and a type id, a negative id introducing the
// definition of a type (a wireType), a positive one a value.
func Text(data []byte, max int) (text string, err error) {
	g := &gobReader{stream: data, types: map[int]*gobType{}, max: max}
	defer func() {
		if r := recover(); r != nil {
			text, err = "", fmt.Errorf("gob: damaged stream (%v)", r)
		}
	}()
	err = g.top()
	switch {
	case errors.Is(err, errGobTruncated):
		return g.out.String() + "…", nil
	case err != nil:
		return "", err
	}
	return g.out.String(), nil
}

// Gob's predefined type ids.
const (
	gobBool      = 1
	gobInt       = 2
	gobUint      = 3
	gobFloat     = 4
	gobBytes     = 5
	gobString    = 6
	gobComplex   = 7
	gobInterface = 8
	gobFirstUser = 64 // ids below are gob's own
)

// Kinds of the types a stream defines.
const (
	kindArray = iota + 1
	kindSlice
	kindStruct
	kindMap
	kindEncoder // GobEncoder, BinaryMarshaler or TextMarshaler
)

// gobType is a type defined in the stream.
type gobType struct {
	kind      int
	name      string
	elem, key int // element and key type ids
	len       int // array length
	fields    []gobField
	text      bool // a TextMarshaler: its bytes are text
}

type gobField struct {
	name string
	id   int
}

var (
	errGobTruncated = errors.New("output limit reached")
	errGobShort     = errors.New("gob: stream ends inside a value")
)

// maxGobDepth bounds the nesting of values, so that a damaged stream
// cannot recurse without end.
const maxGobDepth = 100

// gobReader walks a stream: buf is the message being read, stream what
// follows it.
type gobReader struct {
	stream []byte
	buf    []byte
	types  map[int]*gobType
	out    strings.Builder
	max    int
	depth  int
}

// top reads the one value of the stream.
func (g *gobReader) top() error {
	id, err := g.typeSequence(false)
	if err != nil {
		return err
	}
	if err := g.value(id); err != nil {
		return err
	}
	if len(g.buf) != 0 || len(g.stream) != 0 {
		return fmt.Errorf("gob: %d bytes after the value", len(g.buf)+len(g.stream))
	}
	return nil
}

// typeSequence reads type definitions until a type id of a value comes,
// as encoding/gob's decodeTypeSequence does.
func (g *gobReader) typeSequence(inInterface bool) (int, error) {
	for {
		if len(g.buf) == 0 {
			if err := g.message(); err != nil {
				return 0, err
			}
		}
		id, err := g.int()
		if err != nil {
			return 0, err
		}
		if id >= 0 {
			return int(id), nil
		}
		if id == math.MinInt64 {
			return 0, errors.New("gob: bad type id")
		}
		if err := g.define(int(-id)); err != nil {
			return 0, err
		}
		if len(g.buf) > 0 {
			if !inInterface {
				return 0, errors.New("gob: extra data after a type definition")
			}
			if _, err := g.uint(); err != nil {
				return 0, err
			}
		}
	}
}

// message makes the next message of the stream the current one.
func (g *gobReader) message() error {
	if len(g.stream) == 0 {
		return errGobShort
	}
	n, w, err := readGobUint(g.stream)
	if err != nil {
		return err
	}
	g.stream = g.stream[w:]
	if n > uint64(len(g.stream)) {
		return fmt.Errorf("gob: message of %d bytes, %d left", n, len(g.stream))
	}
	g.buf, g.stream = g.stream[:n], g.stream[n:]
	return nil
}

func readGobUint(b []byte) (x uint64, width int, err error) {
	if len(b) == 0 {
		return 0, 0, errGobShort
	}
	if b[0] <= 0x7f {
		return uint64(b[0]), 1, nil
	}
	n := -int(int8(b[0]))
	if n > 8 || n < 1 {
		return 0, 0, errors.New("gob: bad unsigned integer")
	}
	if len(b) < 1+n {
		return 0, 0, errGobShort
	}
	for _, c := range b[1 : 1+n] {
		x = x<<8 | uint64(c)
	}
	return x, 1 + n, nil
}

func (g *gobReader) uint() (uint64, error) {
	x, w, err := readGobUint(g.buf)
	if err != nil {
		return 0, err
	}
	g.buf = g.buf[w:]
	return x, nil
}

func (g *gobReader) int() (int64, error) {
	u, err := g.uint()
	if err != nil {
		return 0, err
	}
	if u&1 != 0 {
		return ^int64(u >> 1), nil
	}
	return int64(u >> 1), nil
}

func (g *gobReader) float() (float64, error) {
	u, err := g.uint()
	return math.Float64frombits(bits.ReverseBytes64(u)), err
}

// bytes reads a length and that many bytes.
func (g *gobReader) bytes() ([]byte, error) {
	n, err := g.uint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(g.buf)) {
		return nil, errGobShort
	}
	b := g.buf[:n]
	g.buf = g.buf[n:]
	return b, nil
}

// count reads the length of a slice, array or map, which cannot exceed
// what is left of the message (every element takes a byte at least).
func (g *gobReader) count() (int, error) {
	n, err := g.uint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(g.buf)) {
		return 0, fmt.Errorf("gob: %d elements in %d bytes", n, len(g.buf))
	}
	return int(n), nil
}

// fields reads a struct's fields as (delta, value) pairs ending with a
// zero delta, calling fn with each field's number.
func (g *gobReader) fields(fn func(field int) error) error {
	field := -1
	for {
		delta, err := g.uint()
		if err != nil {
			return err
		}
		if delta == 0 {
			return nil
		}
		if delta > math.MaxInt32 || field+int(delta) > math.MaxInt32 {
			return errors.New("gob: bad field number")
		}
		field += int(delta)
		if err := fn(field); err != nil {
			return err
		}
	}
}

// define reads the wireType that defines type id.
//
//	wireType       {ArrayT *arrayType; SliceT *sliceType; StructT *structType;
//	                MapT *mapType; GobEncoderT, BinaryMarshalerT, TextMarshalerT *gobEncoderType}
//	CommonType     {Name string; Id int}
//	arrayType      {CommonType; Elem int; Len int}
//	sliceType      {CommonType; Elem int}
//	structType     {CommonType; Field []fieldType}
//	fieldType      {Name string; Id int}
//	mapType        {CommonType; Key int; Elem int}
//	gobEncoderType {CommonType}
func (g *gobReader) define(id int) error {
	if id < gobFirstUser {
		return fmt.Errorf("gob: definition of predefined type %d", id)
	}
	t := &gobType{}
	err := g.fields(func(f int) error {
		switch f {
		case 0:
			t.kind = kindArray
		case 1:
			t.kind = kindSlice
		case 2:
			t.kind = kindStruct
		case 3:
			t.kind = kindMap
		case 4, 5, 6:
			t.kind, t.text = kindEncoder, f == 6
		default:
			return fmt.Errorf("gob: unknown wireType field %d", f)
		}
		return g.fields(func(f int) error {
			var err error
			var n int64
			switch {
			case f == 0: // CommonType
				return g.fields(func(f int) error {
					switch f {
					case 0:
						b, err := g.bytes()
						t.name = string(b)
						return err
					case 1:
						_, err := g.int()
						return err
					}
					return fmt.Errorf("gob: unknown CommonType field %d", f)
				})
			case f == 1 && t.kind == kindStruct:
				n, err := g.count()
				if err != nil {
					return err
				}
				for range n {
					var fld gobField
					err := g.fields(func(f int) error {
						switch f {
						case 0:
							b, err := g.bytes()
							fld.name = string(b)
							return err
						case 1:
							id, err := g.int()
							fld.id = int(id)
							return err
						}
						return fmt.Errorf("gob: unknown fieldType field %d", f)
					})
					if err != nil {
						return err
					}
					t.fields = append(t.fields, fld)
				}
				return nil
			case f == 1 && (t.kind == kindArray || t.kind == kindSlice):
				n, err = g.int()
				t.elem = int(n)
			case f == 2 && t.kind == kindArray:
				n, err = g.int()
				t.len = int(n)
			case f == 1 && t.kind == kindMap:
				n, err = g.int()
				t.key = int(n)
			case f == 2 && t.kind == kindMap:
				n, err = g.int()
				t.elem = int(n)
			default:
				return fmt.Errorf("gob: unknown field %d in a type definition", f)
			}
			return err
		})
	})
	if err != nil {
		return err
	}
	if t.kind == 0 {
		return errors.New("gob: empty type definition")
	}
	g.types[id] = t
	return nil
}

// write appends s to the text, and stops the walk once it is long enough.
func (g *gobReader) write(s string) error {
	g.out.WriteString(s)
	if g.max > 0 && g.out.Len() >= g.max {
		return errGobTruncated
	}
	return nil
}

// value reads a value as it stands at the top of a message or in an
// interface: a struct as such, anything else as a struct's only field
// (a zero delta first).
func (g *gobReader) value(id int) error {
	if t := g.types[id]; t != nil && t.kind == kindStruct {
		return g.elem(id)
	}
	delta, err := g.uint()
	if err != nil {
		return err
	}
	if delta != 0 {
		return errors.New("gob: not a gob value (non-zero delta for a single value)")
	}
	return g.elem(id)
}

// elem reads and prints one value of type id.
func (g *gobReader) elem(id int) error {
	g.depth++
	defer func() { g.depth-- }()
	if g.depth > maxGobDepth {
		return errors.New("gob: values nested too deep")
	}
	switch id {
	case gobBool:
		u, err := g.uint()
		if err != nil {
			return err
		}
		return g.write(strconv.FormatBool(u != 0))
	case gobInt:
		n, err := g.int()
		if err != nil {
			return err
		}
		return g.write(strconv.FormatInt(n, 10))
	case gobUint:
		u, err := g.uint()
		if err != nil {
			return err
		}
		return g.write(strconv.FormatUint(u, 10))
	case gobFloat:
		f, err := g.float()
		if err != nil {
			return err
		}
		return g.write(strconv.FormatFloat(f, 'g', -1, 64))
	case gobComplex:
		re, err := g.float()
		if err != nil {
			return err
		}
		im, err := g.float()
		if err != nil {
			return err
		}
		return g.write(strconv.FormatComplex(complex(re, im), 'g', -1, 128))
	case gobString:
		b, err := g.bytes()
		if err != nil {
			return err
		}
		return g.write(strconv.Quote(string(b)))
	case gobBytes:
		b, err := g.bytes()
		if err != nil {
			return err
		}
		return g.write("[]byte(" + strconv.Quote(string(b)) + ")")
	case gobInterface:
		return g.iface()
	}
	t := g.types[id]
	if t == nil {
		return fmt.Errorf("gob: value of undefined type %d", id)
	}
	switch t.kind {
	case kindStruct:
		return g.structValue(t)
	case kindSlice, kindArray:
		n, err := g.count()
		if err != nil {
			return err
		}
		if t.kind == kindArray && n != t.len {
			return fmt.Errorf("gob: array of %d elements holds %d", t.len, n)
		}
		if err := g.write("["); err != nil {
			return err
		}
		for i := range n {
			if i > 0 {
				if err := g.write(", "); err != nil {
					return err
				}
			}
			if err := g.elem(t.elem); err != nil {
				return err
			}
		}
		return g.write("]")
	case kindMap:
		n, err := g.count()
		if err != nil {
			return err
		}
		if err := g.write("{"); err != nil {
			return err
		}
		for i := range n {
			if i > 0 {
				if err := g.write(", "); err != nil {
					return err
				}
			}
			if err := g.elem(t.key); err != nil {
				return err
			}
			if err := g.write(": "); err != nil {
				return err
			}
			if err := g.elem(t.elem); err != nil {
				return err
			}
		}
		return g.write("}")
	case kindEncoder:
		b, err := g.bytes()
		if err != nil {
			return err
		}
		return g.write(encodedText(t, b))
	}
	return fmt.Errorf("gob: type %d of unknown kind", id)
}

// structValue prints a struct: its name and the fields the stream holds.
func (g *gobReader) structValue(t *gobType) error {
	name := t.name
	if name == "" {
		name = "struct"
	}
	if err := g.write(name + "{"); err != nil {
		return err
	}
	first := true
	err := g.fields(func(f int) error {
		if f >= len(t.fields) {
			return fmt.Errorf("gob: field %d of %s, which has %d", f, name, len(t.fields))
		}
		sep := ", "
		if first {
			sep, first = "", false
		}
		if err := g.write(sep + t.fields[f].name + ": "); err != nil {
			return err
		}
		return g.elem(t.fields[f].id)
	})
	if err != nil {
		return err
	}
	return g.write("}")
}

// iface prints an interface value: nil, or the registered name of the
// concrete type and the value.
func (g *gobReader) iface() error {
	name, err := g.bytes()
	if err != nil {
		return err
	}
	if len(name) == 0 {
		return g.write("nil")
	}
	id, err := g.typeSequence(true)
	if err != nil {
		return err
	}
	if _, err := g.uint(); err != nil { // the value's byte count
		return err
	}
	if t := g.types[id]; t != nil && t.kind == kindStruct {
		return g.value(id) // the struct prints its own name
	}
	if err := g.write(string(name) + "("); err != nil {
		return err
	}
	if err := g.value(id); err != nil {
		return err
	}
	return g.write(")")
}

// encodedText prints the bytes of a GobEncoder, BinaryMarshaler or
// TextMarshaler: a time.Time as a time, text as a string, anything else
// in hex.
func encodedText(t *gobType, b []byte) string {
	if t.name == "Time" && !t.text {
		var tm time.Time
		if tm.UnmarshalBinary(b) == nil {
			return tm.Format(time.RFC3339Nano)
		}
	}
	if t.text {
		return t.name + "(" + strconv.Quote(string(b)) + ")"
	}
	name := t.name
	if name == "" {
		name = "encoded"
	}
	const maxHex = 64
	h := fmt.Sprintf("%x", b[:min(len(b), maxHex)])
	if len(b) > maxHex {
		h += "…"
	}
	return fmt.Sprintf("%s(0x%s)", name, h)
}
