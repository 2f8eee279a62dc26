package codec

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Codec turns Go values into bytes for Redis and back.
//
// Implementations must be safe for concurrent use and keep these promises,
// which the rest of redcache relies on:
//
//   - Marshal returns a slice that belongs to the caller: it shares no
//     memory with v or with any buffer the codec keeps.
//   - Unmarshal decodes into v, which must be a non-nil pointer; it
//     replaces what *v held before rather than merging into it. It must not
//     retain data after it returns (the caller may reuse it, as a driver
//     reuses its read buffer), and the decoded value must share no memory
//     with data.
//   - Unmarshal never panics, whatever data holds: bytes that are not a
//     value of the codec's format, or do not fit v's type, are an error
//     that matches [ErrDecode].
//   - Name is short, stable across releases and processes, and unique: it
//     identifies the format of the bytes, so it may be written next to
//     them and looked up again with [ByName].
//
// Errors follow one rule: a Marshal failure matches [ErrEncode]; a payload
// that cannot be decoded matches [ErrDecode]; a Go type the codec cannot
// handle matches [ErrUnsupportedType] (together with ErrEncode when it
// came from Marshal).
type Codec interface {
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value v points to.
	Unmarshal(data []byte, v any) error
	// Name identifies the codec's format, such as "gob" or "json+flate".
	Name() string
}

// Built-in codec IDs, as [ID] reports them. They are part of the stored
// format and never change. A compressed codec has its inner codec's ID
// with the high bit set.
const (
	idGob        = 1
	idJSON       = 2
	idRaw        = 3
	idCompressed = 0x80
)

// ID returns the stable one-byte identity of a built-in codec, for formats
// that record which codec wrote a value and cannot spare the bytes of its
// name. The IDs are:
//
//	1     Gob  ("gob")
//	2     JSON ("json")
//	3     Raw  ("raw")
//	0x80|x  Compress of the codec with ID x (such as 0x81, "gob+flate"),
//	        whatever its options: they do not change how it decodes.
//
// 0 is never an ID. ok is false for any other codec, including Compress of
// a codec that has no ID or is compressed already: identify those by
// [Codec.Name] and find them again with [ByName].
func ID(c Codec) (id byte, ok bool) {
	switch c := c.(type) {
	case gobCodec:
		return idGob, true
	case jsonCodec:
		return idJSON, true
	case rawCodec:
		return idRaw, true
	case compressed:
		inner, ok := ID(c.inner)
		if !ok || inner&idCompressed != 0 {
			return 0, false
		}
		return idCompressed | inner, true
	}
	return 0, false
}

// ByID returns the codec that [ID] identifies with id. A compressed ID
// returns [Compress] with its default options, which decodes whatever any
// Compress of the same codec wrote. An unknown id is an error that matches
// [ErrUnknownCodec].
func ByID(id byte) (Codec, error) {
	switch id {
	case idGob:
		return Gob, nil
	case idJSON:
		return JSON, nil
	case idRaw:
		return Raw, nil
	}
	if id&idCompressed != 0 {
		if inner, err := ByID(id &^ idCompressed); err == nil {
			return Compress(inner), nil
		}
	}
	return nil, fmt.Errorf("%w: id %#02x", ErrUnknownCodec, id)
}

// compressSuffix ends the name of every codec that Compress wraps.
const compressSuffix = "+flate"

var registry = struct {
	sync.RWMutex
	m map[string]Codec
}{m: map[string]Codec{
	"gob":  Gob,
	"json": JSON,
	"raw":  Raw,
}}

// Register makes c available to [ByName] under c.Name(), so that a process
// can decode values written by a codec of its own. Call it from an init
// function, in every program that reads such values.
//
// Like [database/sql.Register], it panics if c is nil, if the name is
// taken (the built-in "gob", "json" and "raw" are), or if it is empty or
// contains a '+', which is kept for wrappers such as "gob+flate". Compressed
// variants need no registration of their own.
func Register(c Codec) {
	if c == nil {
		panic("codec: Register of a nil Codec")
	}
	name := c.Name()
	if name == "" || strings.Contains(name, "+") {
		panic(fmt.Sprintf("codec: Register of a codec named %q (a name must be non-empty and have no '+')", name))
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[name]; dup {
		panic(fmt.Sprintf("codec: Register called twice for name %q", name))
	}
	registry.m[name] = c
}

// ByName returns the codec whose [Codec.Name] is name: a built-in ("gob",
// "json", "raw"), one added with [Register], or either followed by "+flate"
// for [Compress] of it with default options (which decodes whatever any
// Compress of that codec wrote). An unknown name is an error that matches
// [ErrUnknownCodec].
func ByName(name string) (Codec, error) {
	if inner, ok := strings.CutSuffix(name, compressSuffix); ok {
		c, err := ByName(inner)
		if err != nil {
			return nil, fmt.Errorf("%w: %q", ErrUnknownCodec, name)
		}
		return Compress(c), nil
	}
	registry.RLock()
	c, ok := registry.m[name]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCodec, name)
	}
	return c, nil
}

// target checks that v is a non-nil pointer and sets what it points to to
// its zero value, so that a decoder that skips absent fields (gob, json)
// replaces the old value instead of merging into it.
func target(name string, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%w: %s: Unmarshal needs a non-nil pointer, got %s", ErrUnsupportedType, name, typeName(v))
	}
	rv.Elem().SetZero()
	return nil
}

// typeName is %T that also names an untyped nil.
func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}

// decodePanic turns a panic inside a decoder into an ErrDecode error. Use
// it as defer decodePanic("gob", &err).
func decodePanic(name string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s: panic while decoding: %v", ErrDecode, name, r)
	}
}

// encodePanic turns a panic inside an encoder (often a MarshalJSON or
// GobEncode method) into an ErrEncode error.
func encodePanic(name string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s: panic while encoding: %v", ErrEncode, name, r)
	}
}
