package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// KeyAppender is implemented by argument types that choose their own key
// encoding, for example to leave out a field that does not change the
// result. AppendKey appends the encoding to dst and returns it; equal
// arguments must append equal bytes and different ones different bytes.
// A method with a pointer receiver counts too: the value is copied when
// it is not addressable (a map value, the content of an interface).
//
// A cache key is <prefix>:<name>:<arguments>. The arguments are encoded
// so that two different argument values never share a key and equal ones
// always do, in every process and Go version:
//
//	nil (pointer, interface)   n
//	bool                       T or F
//	signed integers            i<decimal>          i42, i-7
//	unsigned integers          u<decimal>          u42
//	floats                     f<shortest decimal> f1.5, f-0, fNaN, f+Inf
//	complex                    c<re>,<im>;
//	string                     s<length>:<bytes>   s5:alice
//	[]byte                     b<length>:<bytes>
//	time.Time                  t<unix s>.<ns>      the instant only
//	*time.Location             l<length>:<name>
//	slice, array               [e1,e2,...]         nil and empty are the same
//	map                        <k1=v1,k2=v2>       sorted by encoded pair
//	struct                     (Field=v,...)       every field, in order
//	pointer                    what it points to   *<that> when it is a pointer or interface
//	interface                  y<length>:<type><value>, or only <value> for int, string, float64, bool and []byte
//	KeyAppender                x<length>:<bytes>
//
// Every element is self-delimiting (strings carry their length, numbers
// end at the next tag), so 1 and "1", "a:b" and ("a","b"), nil and ""
// are different keys; memory addresses never enter a key.
//
// Equal means: the same type (the dynamic type, for an interface); floats
// equal bit for bit except that every NaN is one value (so -0 and +0
// differ); times that are [time.Time.Equal] (the location and the
// monotonic clock reading are not part of a key, nor are they for a type
// defined as time.Time); locations of the same name; nil and empty
// slices, and nil and empty maps, alike; maps with the same (key, value)
// pairs, even when two keys encode alike (NaN keys, equal instants);
// pointers to equal values; and what AppendKey appends, for a
// KeyAppender.
//
// A type inside an interface is written as its package path and name
// ("example.com/app.UserID"), or its structure when it has no name, so
// UserID(7), OrderID(7) and int64(7) have different keys. Two types
// declared inside functions of one package with the same name cannot be
// told apart: declare the types of key arguments at package level.
//
// No brace reaches a key from an argument: '{', '}' and '\' in strings,
// bytes, AppendKey output and type names are written as "\(", "\)" and
// "\\" (the length counts the bytes before escaping), so an argument
// never becomes a Redis Cluster hash tag; only the prefix may carry one
// (see [WithPrefix]). An encoding longer than [WithMaxKeyLength] bytes
// is replaced by # and the base64 of its SHA-256, after the readable
// <prefix>:<name>: part.
type KeyAppender interface {
	AppendKey(dst []byte) []byte
}

var (
	keyAppenderType = reflect.TypeFor[KeyAppender]()
	timeType        = reflect.TypeFor[time.Time]()
	locationType    = reflect.TypeFor[time.Location]()
	locationPtrType = reflect.TypeFor[*time.Location]()
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
	if infoOf(t).special == plain {
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
	// fast path above keeps its zero allocations. The copy is
	// addressable, which appendValue relies on to read unexported fields
	// and to call AppendKey methods with a pointer receiver.
	cp := new(A)
	*cp = *a
	b, err := appendValue(make([]byte, 0, 64), reflect.ValueOf(cp).Elem(), 0)
	return append(dst, b...), err
}

// checkType refuses, at Memoize time, types that can never be encoded.
// Interfaces are checked at call time, with the value they hold.
func checkType(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if infoOf(t).special != plain {
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

// How a type is encoded when it is not by its kind alone.
const (
	plain       = iota
	appender    // the type (or, for a pointer, its element) has AppendKey
	ptrAppender // only a pointer to the type has AppendKey
	timeLike    // time.Time, or a type defined as time.Time
	location    // time.Location
	locationPtr // *time.Location
)

// typeInfo is what the encoder needs to know about a type, worked out
// once per type.
type typeInfo struct {
	special int
	// id names the type inside an interface; empty for the types whose
	// encoding alone already tells them apart (int, string, float64,
	// bool and []byte), so that the common case stays short.
	id string
}

var typeInfos sync.Map // reflect.Type -> *typeInfo

// shortTypes are written in an interface without their type: each has a
// tag of its own (i, s, f, T/F, b) among them.
var shortTypes = map[reflect.Type]bool{
	reflect.TypeFor[int]():     true,
	reflect.TypeFor[string]():  true,
	reflect.TypeFor[float64](): true,
	reflect.TypeFor[bool]():    true,
	reflect.TypeFor[[]byte]():  true,
}

func infoOf(t reflect.Type) *typeInfo {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti := &typeInfo{}
	switch {
	case t == locationType:
		ti.special = location
	case t == locationPtrType:
		ti.special = locationPtr
	case t.Kind() == reflect.Interface:
		// Interfaces are encoded by the value they hold.
	case t.Implements(keyAppenderType):
		ti.special = appender
	case reflect.PointerTo(t).Implements(keyAppenderType):
		ti.special = ptrAppender
	case t == timeType || t.Kind() == reflect.Struct && t.ConvertibleTo(timeType):
		// Only a type defined as time.Time converts: a struct of another
		// package never has time's unexported fields.
		ti.special = timeLike
	}
	if !shortTypes[t] {
		ti.id = typeID(t)
	}
	v, _ := typeInfos.LoadOrStore(t, ti)
	return v.(*typeInfo)
}

// typeID is a type's identity across processes: the package path and name
// of a named type, or the structure of an unnamed one built from its
// parts' identities.
func typeID(t reflect.Type) string {
	if t.Name() != "" {
		if t.PkgPath() == "" {
			return t.Name() // predeclared: int, string, error...
		}
		return t.PkgPath() + "." + t.Name()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + typeID(t.Elem())
	case reflect.Slice:
		return "[]" + typeID(t.Elem())
	case reflect.Array:
		return "[" + strconv.Itoa(t.Len()) + "]" + typeID(t.Elem())
	case reflect.Map:
		return "map[" + typeID(t.Key()) + "]" + typeID(t.Elem())
	case reflect.Struct:
		var b strings.Builder
		b.WriteString("struct(")
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if i > 0 {
				b.WriteString("; ")
			}
			if f.PkgPath != "" {
				b.WriteString(f.PkgPath + ".")
			}
			b.WriteString(f.Name + " " + typeID(f.Type))
			if f.Anonymous {
				b.WriteString(" embedded")
			}
			if f.Tag != "" {
				b.WriteString(" " + strconv.Quote(string(f.Tag)))
			}
		}
		b.WriteString(")")
		return b.String()
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return "any"
		}
	}
	return t.String()
}

// maxDepth bounds recursion through pointers, so that a cyclic value is
// an error rather than a stack overflow.
const maxDepth = 64

// appendValue appends the encoding of v. v must not be read-only (reached
// through an unexported field): such values are first re-read through
// their address by exported, so that methods (AppendKey, time.Time's) can
// be called on them and nothing is read from a type's internals.
func appendValue(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, fmt.Errorf("%w: value nested deeper than %d (a cycle?)", ErrUnsupportedKey, maxDepth)
	}
	if !v.IsValid() {
		return append(dst, 'n'), nil
	}
	t := v.Type()
	switch infoOf(t).special {
	case appender:
		if t.Kind() == reflect.Pointer && v.IsNil() {
			return append(dst, 'n'), nil
		}
		return appendString(dst, 'x', string(v.Interface().(KeyAppender).AppendKey(nil))), nil
	case ptrAppender:
		return appendString(dst, 'x', string(addressable(v).Addr().Interface().(KeyAppender).AppendKey(nil))), nil
	case timeLike:
		tm := v.Convert(timeType).Interface().(time.Time)
		dst = strconv.AppendInt(append(dst, 't'), tm.Unix(), 10)
		return strconv.AppendInt(append(dst, '.'), int64(tm.Nanosecond()), 10), nil
	case location:
		return appendString(dst, 'l', addressable(v).Addr().Interface().(*time.Location).String()), nil
	case locationPtr:
		if v.IsNil() {
			return append(dst, 'n'), nil
		}
		return appendString(dst, 'l', v.Interface().(*time.Location).String()), nil
	}
	switch v.Kind() {
	case reflect.Bool:
		return appendBool(dst, v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(append(dst, 'i'), v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(append(dst, 'u'), v.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return appendFloat(append(dst, 'f'), v.Float(), t.Bits()), nil
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		bits := t.Bits() / 2
		dst = appendFloat(append(dst, 'c'), real(c), bits)
		dst = appendFloat(append(dst, ','), imag(c), bits)
		return append(dst, ';'), nil
	case reflect.String:
		return appendString(dst, 's', v.String()), nil
	case reflect.Interface:
		if v.IsNil() {
			return append(dst, 'n'), nil
		}
		e := v.Elem()
		if id := infoOf(e.Type()).id; id != "" {
			dst = appendString(dst, 'y', id)
		}
		return appendValue(dst, e, depth+1)
	case reflect.Pointer:
		if v.IsNil() {
			return append(dst, 'n'), nil
		}
		if k := t.Elem().Kind(); k == reflect.Pointer || k == reflect.Interface {
			// What it points to may itself be n: tell the two nils apart.
			dst = append(dst, '*')
		}
		return appendValue(dst, v.Elem(), depth+1)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && infoOf(t.Elem()).special == plain {
			return appendString(dst, 'b', string(v.Bytes())), nil
		}
		return appendList(dst, v, depth)
	case reflect.Array:
		return appendList(dst, addressable(v), depth)
	case reflect.Map:
		return appendMap(dst, v, depth)
	case reflect.Struct:
		v = addressable(v)
		dst = append(dst, '(')
		for i := 0; i < v.NumField(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, t.Field(i).Name...)
			dst = append(dst, '=')
			var err error
			if dst, err = appendValue(dst, exported(v.Field(i)), depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ')'), nil
	}
	return dst, fmt.Errorf("%w: %s", ErrUnsupportedKey, t)
}

// addressable returns v, or an addressable copy of it (a map value, the
// content of an interface). v is never read-only here.
func addressable(v reflect.Value) reflect.Value {
	if v.CanAddr() {
		return v
	}
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	return c
}

// exported returns a field of an addressable struct as a value that is
// not read-only, reading it through its address: the key encoding reads
// unexported fields on purpose, and must be able to call their methods
// (time.Time's, AppendKey) rather than encode their internals.
func exported(f reflect.Value) reflect.Value {
	if f.CanInterface() {
		return f
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
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

// appendMap writes the pairs sorted by their encoded key, then by their
// encoded value: keys that encode alike (NaN, equal instants in two
// zones) would otherwise leave their order to the iteration, and one map
// would have many keys.
func appendMap(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	if v.Len() == 0 {
		return append(dst, '<', '>'), nil
	}
	// Every pair is encoded into one buffer, then sorted by reference.
	type pair struct{ k, v []byte }
	type span struct{ start, mid, end int }
	spans := make([]span, 0, v.Len())
	var buf []byte
	var err error
	for iter := v.MapRange(); iter.Next(); {
		s := span{start: len(buf)}
		if buf, err = appendValue(buf, iter.Key(), depth+1); err != nil {
			return dst, err
		}
		s.mid = len(buf)
		if buf, err = appendValue(buf, iter.Value(), depth+1); err != nil {
			return dst, err
		}
		s.end = len(buf)
		spans = append(spans, s)
	}
	pairs := make([]pair, len(spans))
	for i, s := range spans {
		pairs[i] = pair{buf[s.start:s.mid], buf[s.mid:s.end]}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := bytes.Compare(a.k, b.k); c != 0 {
			return c
		}
		return bytes.Compare(a.v, b.v)
	})
	dst = append(dst, '<')
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(append(append(dst, p.k...), '='), p.v...)
	}
	return append(dst, '>'), nil
}

// appendString writes tag, the length of s, ':' and s with its braces
// escaped, so that no argument can make a Redis Cluster hash tag. The
// escape is a prefix code ('\' escapes itself), and the length counts
// the bytes of s, so the encoding stays unambiguous.
func appendString(dst []byte, tag byte, s string) []byte {
	dst = strconv.AppendInt(append(dst, tag), int64(len(s)), 10)
	dst = append(dst, ':')
	// One pass over the bytes: strings.IndexAny sets up a table (or
	// loops over its characters) at every call, which a key's few bytes
	// do not repay.
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '{':
			esc = '('
		case '}':
			esc = ')'
		case '\\':
			esc = '\\'
		default:
			continue
		}
		dst = append(append(dst, s[start:i]...), '\\', esc)
		start = i + 1
	}
	return append(dst, s[start:]...)
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

// CheckName reports whether name can name a memoized function: it must
// not be empty, nor hold ':', '{', '}', spaces or control characters,
// which would make keys ambiguous or land every entry of the function in
// one cluster slot. [Memoize] panics with this error and
// [Manager.InvalidateAll] returns it; tools that take a function name
// (the redcache command) check it the same way.
func CheckName(name string) error { return checkName(name) }

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
