package codec

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"io"
	"reflect"
)

// Gob is the default codec: encoding/gob, Go's own self-describing binary
// format, which (like the pickle of the original Python library) stores
// almost any Go value without tags or schemas. Its Name is "gob".
//
// Each value is a gob stream of its own: the description of its types,
// then the value, so that any process (another binary, an earlier release
// of this package, a plain [encoding/gob.Decoder]) decodes it. Describing
// and compiling the types is most of what gob costs, so Gob does it once
// per Go type, not once per value: it keeps, per type, encoders that have
// sent the description and decoders that have read it and compiled their
// decoding engine, and hands them only the value. The type ids in the
// description are renumbered so that every process writes the same bytes
// for the same type, whatever order it met its types in; a value whose
// description is not the one this process writes for the target's type
// (written by an earlier release, or by another version of the struct)
// is decoded by a new Decoder, as before, and comes back the same. Types
// that can hold an interface value (a field of type any or error, at any
// depth) are always encoded and decoded on their own, as gob sends the
// concrete types it meets with the value.
//
// What comes back, beyond what encoding/gob documents:
//
//   - nil (an untyped nil, a nil pointer, map, slice or interface, at any
//     depth of pointers) is stored as an empty payload and comes back as
//     the zero value of the target: nil for a pointer, map, slice or
//     interface, the zero value for anything else. (encoding/gob alone
//     refuses, or panics on, a nil pointer.)
//   - Slices: gob does not tell an empty slice from a nil one; both come
//     back nil, at the top level and inside structs, maps and slices.
//   - Maps: a non-nil map comes back non-nil, even empty. A nil map comes
//     back nil as a struct field or at the top level, but empty as an
//     element of a slice or map.
//   - A nil pointer as an element of a slice or map is an [ErrEncode]: gob
//     refuses it. (As a struct field it is simply left out and comes back
//     nil.)
//   - Pointers are flattened: *T and T encode the same, so a value written
//     as T can be read into a *T and the other way round; pointers shared
//     by two fields come back as two copies, and a value with a pointer
//     cycle must never be marshaled: gob recurses until the program dies
//     of a stack overflow, which no recover can catch.
//   - Structs: only exported fields are stored; unexported ones come back
//     as their zero value. Fields are matched by name, so a field added or
//     removed between writer and reader is tolerated; a field whose type
//     changed is an [ErrDecode].
//   - Interface values (a field of type any or error, a *any target) need
//     their concrete types registered with [encoding/gob.Register] in every
//     process that writes or reads them, else Marshal fails with
//     [ErrEncode] and Unmarshal with [ErrDecode]. Marshal(v) stores v's
//     concrete type, not an interface: to read it into a *any, marshal a
//     *any.
//   - time.Time keeps its instant, to the nanosecond, and its UTC offset,
//     but not its location: a time in America/New_York comes back in an
//     unnamed fixed zone with the same offset (or in time.Local, if that
//     has the same offset at that instant; a UTC time comes back in UTC).
//     Compare times with [time.Time.Equal]. The monotonic reading is
//     dropped.
//
// Unmarshal replaces *v (it sets it to its zero value first, as gob would
// otherwise leave the fields it does not find in data untouched), rejects
// trailing bytes, and turns any panic inside encoding/gob or a GobDecode
// method into an [ErrDecode]. It also rejects, as an ErrDecode, two kinds
// of corrupt bytes that encoding/gob would first try to allocate for: a
// message longer than data, and (in a value whose types hold no
// interface) a map with more entries than bytes left, which no encoder
// writes and which made encoding/gob size a map by billions of entries.
var Gob Codec = gobCodec{}

type gobCodec struct{}

func (gobCodec) Name() string { return "gob" }

func (gobCodec) Marshal(v any) (data []byte, err error) {
	if isNil(v) {
		return []byte{}, nil
	}
	defer encodePanic("gob", &err)
	if gt := gobTypeOf(reflect.TypeOf(v)); gt.fast {
		data, ok, err := gt.marshal(v)
		if err != nil {
			return nil, wrap(ErrEncode, "gob", err)
		}
		if ok {
			return data, nil
		}
	}
	return gobStream(v)
}

// gobStream encodes v as a stream of its own, with a new Encoder: the
// path of the types gobType does not prime.
func gobStream(v any) ([]byte, error) {
	buf := getBuffer()
	defer putBuffer(buf)
	if err := gob.NewEncoder(buf).Encode(v); err != nil {
		return nil, wrap(ErrEncode, "gob", err)
	}
	return bytes.Clone(buf.Bytes()), nil
}

func (gobCodec) Unmarshal(data []byte, v any) (err error) {
	if err := target("gob", v); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil // nil was stored: the zero value target left is the answer
	}
	defer decodePanic("gob", &err)
	if gt := gobTypeOf(reflect.TypeOf(v).Elem()); gt.fast {
		if at, ok := gobSplit(data); ok && bytes.Equal(data[:at], gt.canon) {
			return gt.unmarshal(data, at, v)
		}
	}
	at, end, ok, short := gobValue(data)
	if short {
		return errShort
	}
	if ok {
		if wires, check, ok := gobWires(data[:at]); ok && check && gobMapBomb(data[at:end], wires) {
			return errMapBomb
		}
	}
	r := readerPool.Get().(*bytes.Reader)
	r.Reset(data)
	defer func() {
		r.Reset(nil)
		readerPool.Put(r)
	}()
	if err := gob.NewDecoder(r).Decode(v); err != nil {
		return wrap(ErrDecode, "gob", err)
	}
	if r.Len() != 0 {
		return errTrailing(r.Len())
	}
	return nil
}

// errMapBomb reports a map whose count is larger than its message: see
// gobMapBomb.
var errMapBomb = fmt.Errorf("%w: gob: a map with more entries than bytes", ErrDecode)

// errShort reports a message longer than the bytes left.
var errShort = fmt.Errorf("%w: gob: %w", ErrDecode, io.ErrUnexpectedEOF)

// errTrailing reports bytes after the value of a gob stream.
func errTrailing(n int) error {
	return fmt.Errorf("%w: gob: %d bytes after the value", ErrDecode, n)
}

// isNil reports whether v is nil or leads to nil through pointers and
// interfaces, or is a nil map or slice: what gob cannot, or will not
// honestly, encode at the top level.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	// The bound stops at a pointer that points to itself (type P *P).
	for range 64 {
		switch rv.Kind() {
		case reflect.Pointer, reflect.Interface:
			if rv.IsNil() {
				return true
			}
			rv = rv.Elem()
		case reflect.Map, reflect.Slice:
			return rv.IsNil()
		default:
			return false
		}
	}
	return false
}
