package core

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Keys
//
// A cache key is <prefix>:<name>:<arguments>. The arguments are encoded
// so that two different argument values never share a key, in every
// process and Go version:
//
//	nil (pointer, interface)   n
//	bool                       T or F
//	signed integers            i<decimal>          i42, i-7
//	unsigned integers          u<decimal>          u42
//	floats                     f<shortest decimal> f1.5, f-0, fNaN, f+Inf
//	complex                    c<re>,<im>;
//	string                     s<length>:<bytes>   s5:alice
//	[]byte                     b<length>:<bytes>
//	time.Time                  t<unix s>.<ns>      (the instant; the location is not part)
//	slice, array               [e1,e2,...]         (nil and empty are the same)
//	map                        {k1=v1,k2=v2}       (sorted by encoded key)
//	struct                     (Field=v,...)       (every field, in order)
//	pointer                    what it points to
//	KeyAppender                x<length>:<bytes>
//
// Every element is self-delimiting (strings carry their length, numbers
// end at the next tag), so 1 and "1", "a:b" and ("a","b"), nil and ""
// are different keys; memory addresses never enter a key. An encoding
// longer than [WithMaxKeyLength] bytes is replaced by # and the base64 of
// its SHA-256, after the readable <prefix>:<name>: part.

// KeyAppender is implemented by argument types that choose their own key
// encoding, for example to leave out a field that does not change the
// result. AppendKey appends the encoding to dst and returns it; equal
// arguments must append equal bytes and different ones different bytes.
type KeyAppender interface {
	AppendKey(dst []byte) []byte
}

var (
	keyAppenderType = reflect.TypeOf((*KeyAppender)(nil)).Elem()
	timeType        = reflect.TypeOf(time.Time{})
)

// argEncoder encodes the arguments of one type. Types of a basic kind are
// encoded inline by appendArg, reading the value through a pointer
// without boxing it in an interface (which would allocate on every call);
// everything else goes through reflection.
type argEncoder struct {
	kind reflect.Kind // the kind appendArg encodes inline, or reflect.Invalid
	typ  reflect.Type
}

// encoderFor builds the encoder for type t once, at Memoize time. It
// fails for types that can never be encoded.
func encoderFor(t reflect.Type) (argEncoder, error) {
	if err := checkType(t, map[reflect.Type]bool{}); err != nil {
		return argEncoder{}, err
	}
	enc := argEncoder{typ: t}
	if t.Kind() != reflect.Interface && !t.Implements(keyAppenderType) && !reflect.PointerTo(t).Implements(keyAppenderType) {
		switch t.Kind() {
		case reflect.String, reflect.Bool,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			enc.kind = t.Kind()
		}
	}
	return enc, nil
}

// appendArg appends the encoding of *a. The fast path reads *a through
// unsafe pointers of its exact kind, which encoderFor checked; neither a
// nor dst escapes, so the caller's buffer stays on its stack.
func appendArg[A any](dst []byte, enc *argEncoder, a *A) ([]byte, error) {
	p := unsafe.Pointer(a)
	switch enc.kind {
	case reflect.String:
		return appendString(dst, 's', *(*string)(p)), nil
	case reflect.Bool:
		return appendBool(dst, *(*bool)(p)), nil
	case reflect.Int:
		return strconv.AppendInt(append(dst, 'i'), int64(*(*int)(p)), 10), nil
	case reflect.Int8:
		return strconv.AppendInt(append(dst, 'i'), int64(*(*int8)(p)), 10), nil
	case reflect.Int16:
		return strconv.AppendInt(append(dst, 'i'), int64(*(*int16)(p)), 10), nil
	case reflect.Int32:
		return strconv.AppendInt(append(dst, 'i'), int64(*(*int32)(p)), 10), nil
	case reflect.Int64:
		return strconv.AppendInt(append(dst, 'i'), *(*int64)(p), 10), nil
	case reflect.Uint:
		return strconv.AppendUint(append(dst, 'u'), uint64(*(*uint)(p)), 10), nil
	case reflect.Uint8:
		return strconv.AppendUint(append(dst, 'u'), uint64(*(*uint8)(p)), 10), nil
	case reflect.Uint16:
		return strconv.AppendUint(append(dst, 'u'), uint64(*(*uint16)(p)), 10), nil
	case reflect.Uint32:
		return strconv.AppendUint(append(dst, 'u'), uint64(*(*uint32)(p)), 10), nil
	case reflect.Uint64:
		return strconv.AppendUint(append(dst, 'u'), *(*uint64)(p), 10), nil
	}
	// Reflection works on a copy and a buffer of its own, so that the
	// fast path above keeps its zero allocations.
	cp := new(A)
	*cp = *a
	b, err := appendValue(nil, reflect.ValueOf(cp).Elem(), 0)
	return append(dst, b...), err
}

// checkType refuses, at Memoize time, types that can never be encoded.
// Interfaces are checked at call time, with the value they hold.
func checkType(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if t.Implements(keyAppenderType) || reflect.PointerTo(t).Implements(keyAppenderType) || t == timeType {
		return nil
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return fmt.Errorf("%w: type %s", ErrUnsupportedKey, t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return checkType(t.Elem(), seen)
	case reflect.Map:
		if err := checkType(t.Key(), seen); err != nil {
			return err
		}
		return checkType(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if err := checkType(t.Field(i).Type, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxDepth bounds recursion through pointers, so that a cyclic value is
// an error rather than a stack overflow.
const maxDepth = 64

func appendValue(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, fmt.Errorf("%w: value nested deeper than %d (a cycle?)", ErrUnsupportedKey, maxDepth)
	}
	if !v.IsValid() {
		return append(dst, 'n'), nil
	}
	t := v.Type()
	if t.Implements(keyAppenderType) {
		if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) && v.IsNil() {
			return append(dst, 'n'), nil
		}
		if v.CanInterface() {
			return appendString(dst, 'x', string(v.Interface().(KeyAppender).AppendKey(nil))), nil
		}
	}
	if t == timeType && v.CanInterface() {
		tm := v.Interface().(time.Time)
		dst = strconv.AppendInt(append(dst, 't'), tm.Unix(), 10)
		return strconv.AppendInt(append(dst, '.'), int64(tm.Nanosecond()), 10), nil
	}
	switch v.Kind() {
	case reflect.Bool:
		return appendBool(dst, v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(append(dst, 'i'), v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(append(dst, 'u'), v.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return appendFloat(append(dst, 'f'), v.Float(), v.Type().Bits()), nil
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		bits := v.Type().Bits() / 2
		dst = appendFloat(append(dst, 'c'), real(c), bits)
		dst = appendFloat(append(dst, ','), imag(c), bits)
		return append(dst, ';'), nil
	case reflect.String:
		return appendString(dst, 's', v.String()), nil
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return append(dst, 'n'), nil
		}
		return appendValue(dst, v.Elem(), depth+1)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return appendString(dst, 'b', string(v.Bytes())), nil
		}
		return appendList(dst, v, depth)
	case reflect.Array:
		return appendList(dst, v, depth)
	case reflect.Map:
		return appendMap(dst, v, depth)
	case reflect.Struct:
		dst = append(dst, '(')
		for i := 0; i < v.NumField(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, t.Field(i).Name...)
			dst = append(dst, '=')
			var err error
			if dst, err = appendValue(dst, v.Field(i), depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ')'), nil
	}
	return dst, fmt.Errorf("%w: %s", ErrUnsupportedKey, v.Type())
}

func appendList(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	dst = append(dst, '[')
	for i := 0; i < v.Len(); i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendValue(dst, v.Index(i), depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

func appendMap(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	type pair struct{ k, v []byte }
	pairs := make([]pair, 0, v.Len())
	iter := v.MapRange()
	for iter.Next() {
		k, err := appendValue(nil, iter.Key(), depth+1)
		if err != nil {
			return dst, err
		}
		val, err := appendValue(nil, iter.Value(), depth+1)
		if err != nil {
			return dst, err
		}
		pairs = append(pairs, pair{k, val})
	}
	sort.Slice(pairs, func(i, j int) bool { return string(pairs[i].k) < string(pairs[j].k) })
	dst = append(dst, '{')
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(append(append(dst, p.k...), '='), p.v...)
	}
	return append(dst, '}'), nil
}

func appendString(dst []byte, tag byte, s string) []byte {
	dst = strconv.AppendInt(append(dst, tag), int64(len(s)), 10)
	return append(append(dst, ':'), s...)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 'T')
	}
	return append(dst, 'F')
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// hashTail replaces the argument part of key (from start on) by its hash
// when it is longer than max.
func hashTail(key []byte, start, max int) []byte {
	if max <= 0 || len(key)-start <= max {
		return key
	}
	sum := sha256.Sum256(key[start:])
	key = append(key[:start], '#')
	return base64.RawURLEncoding.AppendEncode(key, sum[:])
}

// checkName refuses names that would make keys ambiguous or land every
// entry of a function in one cluster slot.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("redcache: empty function name")
	}
	if i := strings.IndexFunc(name, func(r rune) bool {
		return r == ':' || r == '{' || r == '}' || r <= ' ' || r == 0x7f
	}); i >= 0 {
		return fmt.Errorf("redcache: function name %q: ':', '{', '}', spaces and control characters are not allowed", name)
	}
	return nil
}
