package codec

import (
	"bytes"
	"encoding"
	"encoding/gob"
	"reflect"
	"sync"
)

// A gob stream sends each type's description once, and a gob.Decoder
// compiles a decoding engine for each type it receives: both are most of
// what a single value costs. Each stored value must still carry its type
// descriptions, so that any process can decode it. gobType keeps both
// costs out of the hot path, per Go type, without changing what is stored:
//
//   - Marshal encodes with a pooled gob.Encoder that has already sent the
//     type, so it writes the value message alone, and puts the type's
//     definitions in front: the same stream a new Encoder writes, except
//     that the type ids are canonical (numbered in the order the stream
//     defines them) instead of this process's own. Every process, whatever
//     order it met its types in, writes the same bytes for the same type,
//     and any gob.Decoder, older releases' included, reads them.
//   - Unmarshal, when the definitions in front of the value are exactly the
//     canonical ones of the target's type, hands the value message alone
//     to a pooled gob.Decoder that has read those definitions and compiled
//     its engine. Since it has read the very same definitions, it decodes
//     the value exactly as a new Decoder given the whole stream would. Any
//     other bytes (values of older releases, of another version of the
//     struct, corrupt ones) go to a new Decoder, as before.
//
// A type that can hold an interface value (a field of type any or error,
// at any depth) stays on the one-stream-per-value path: gob sends the
// descriptions of the concrete types it finds in interfaces with the
// value, even inside the value message, which a primed decoder cannot
// take. So does a type whose zero value gob cannot encode.
type gobType struct {
	once sync.Once
	// fast is true when this type uses the primed path; the other fields
	// are set with it.
	fast bool
	// raw is the type definitions as this process's encoders write them
	// in front of the first value; canon is the same with canonical ids,
	// and ids maps the first to the second.
	raw, canon []byte
	ids        map[int64]int64
	// wires is the parsed canon, when a value can hold a map: each value
	// is checked for a map bomb before it is decoded.
	wires      map[int64]*gobWire
	encs, decs sync.Pool // *gobEncoder and *gobDecoder
}

var gobTypes sync.Map // reflect.Type → *gobType

// gobTypeOf returns the state of values of type t: Marshal's argument, or
// what Unmarshal's target points to.
func gobTypeOf(t reflect.Type) *gobType {
	v, ok := gobTypes.Load(t)
	if !ok {
		v, _ = gobTypes.LoadOrStore(t, new(gobType))
	}
	gt := v.(*gobType)
	gt.once.Do(func() { gt.init(t) })
	return gt
}

// gobEncoder is a gob.Encoder and the buffer it writes to.
type gobEncoder struct {
	buf bytes.Buffer
	enc *gob.Encoder
}

func newGobEncoder() *gobEncoder {
	e := new(gobEncoder)
	e.enc = gob.NewEncoder(&e.buf)
	return e
}

// gobDecoder is a gob.Decoder and the reader it reads from. A
// bytes.Reader is an io.ByteReader, so the Decoder reads exactly one
// message per value and buffers nothing between calls.
type gobDecoder struct {
	r   bytes.Reader
	dec *gob.Decoder
}

func newGobDecoder() *gobDecoder {
	d := new(gobDecoder)
	d.dec = gob.NewDecoder(&d.r)
	return d
}

// init finds t's type definitions by encoding its zero value (a type's
// definitions do not depend on the value, when no interface is involved)
// and, when all goes as expected, turns the primed path on; the Encoder
// that did it is the first in the pool.
func (gt *gobType) init(t reflect.Type) {
	if !gobPrimable(t) {
		return
	}
	defer func() { _ = recover() }() // a GobEncode method that panics on its zero value
	zero := reflect.New(t).Elem()
	for v := zero; v.Kind() == reflect.Pointer; v = v.Elem() {
		v.Set(reflect.New(v.Type().Elem())) // gob refuses a nil pointer
	}
	e := newGobEncoder()
	if err := e.enc.EncodeValue(zero); err != nil {
		return
	}
	at, ok := gobSplit(e.buf.Bytes())
	if !ok {
		return
	}
	raw := bytes.Clone(e.buf.Bytes()[:at])
	canon, ids, err := canonicalDefs(raw, gobDefTypes(t))
	if err != nil {
		return
	}
	wires, check, ok := gobWires(canon)
	if !ok {
		return
	}
	if check {
		gt.wires = wires
	}
	gt.raw, gt.canon, gt.ids, gt.fast = raw, canon, ids, true
	gt.encs.Put(e)
}

// gobPrimable reports whether t may use the primed path: after its
// pointers, something gob encodes, that reaches no interface through
// exported fields, elements, keys or pointers.
func gobPrimable(t reflect.Type) bool {
	for range 64 {
		if t.Kind() != reflect.Pointer {
			break
		}
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Invalid:
		return false
	}
	return !reachesInterface(t, make(map[reflect.Type]bool))
}

func reachesInterface(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return reachesInterface(t.Elem(), seen)
	case reflect.Map:
		return reachesInterface(t.Key(), seen) || reachesInterface(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && reachesInterface(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// marshal encodes v, whose type is gt's, as the canonical definitions and
// the value message. ok is false when the Encoder wrote something else
// than expected; the caller then encodes v with a new Encoder.
func (gt *gobType) marshal(v any) (data []byte, ok bool, err error) {
	e, primed := gt.encs.Get().(*gobEncoder)
	if !primed {
		e = newGobEncoder()
	}
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, false, err // e may be half-way through a type: dropped
	}
	msg := e.buf.Bytes()
	if !primed {
		var found bool
		if msg, found = bytes.CutPrefix(msg, gt.raw); !found {
			return nil, false, nil
		}
	}
	count, n := gobUint(msg)
	id, m := gobInt(msg[n:])
	if n == 0 || m == 0 || id < 0 || count != uint64(len(msg)-n) {
		return nil, false, nil // type definitions after the first value
	}
	if id >= gobFirstUserID {
		if id = gt.ids[id]; id == 0 {
			return nil, false, nil
		}
	}
	rest := msg[n+m:]
	var head [20]byte
	idb := appendGobInt(head[10:10], id)
	cb := appendGobUint(head[:0], uint64(len(idb)+len(rest)))
	data = make([]byte, 0, len(gt.canon)+len(cb)+len(idb)+len(rest))
	data = append(append(append(append(data, gt.canon...), cb...), idb...), rest...)
	if e.buf.Cap() <= maxPooled {
		gt.encs.Put(e)
	}
	return data, true, nil
}

// unmarshal decodes data, whose definitions are gt's canonical ones and
// whose value message starts at at, into v.
func (gt *gobType) unmarshal(data []byte, at int, v any) error {
	if gt.wires != nil && gobMapBomb(data[at:], gt.wires) {
		return errMapBomb
	}
	d, primed := gt.decs.Get().(*gobDecoder)
	if primed {
		d.r.Reset(data[at:])
	} else {
		d = newGobDecoder()
		d.r.Reset(data) // the whole stream: the Decoder reads the definitions once
	}
	if err := d.dec.Decode(v); err != nil {
		return wrap(ErrDecode, "gob", err) // d dropped: its state is unknown
	}
	if d.r.Len() != 0 { // gobSplit saw one message: cannot happen
		return errTrailing(d.r.Len())
	}
	d.r.Reset(nil) // keep no reference to data
	if len(data)-at <= maxPooled {
		gt.decs.Put(d)
	}
	return nil
}

// gobDef is a type that a gob stream defines: the name canonicalDefs
// gives it and the kind of its definition.
type gobDef struct {
	name string
	kind wireKind
}

var (
	gobEncoderType      = reflect.TypeFor[gob.GobEncoder]()
	binaryMarshalerType = reflect.TypeFor[encoding.BinaryMarshaler]()
)

// gobDefTypes lists the types a new gob.Encoder defines, in the order it
// sends them, when it encodes a value of type t: it follows
// encoding/gob's Encoder.sendType. Each is named as gob names a type it
// meets first as the type of a value: by its Go name, none for an unnamed
// type ([]T, map[K]V, struct{...}); a type that encodes itself by the
// name of the type that has the method (none for a pointer type).
func gobDefTypes(t reflect.Type) []gobDef {
	var defs []gobDef
	sent := make(map[reflect.Type]bool)
	var send func(rt reflect.Type)
	send = func(rt reflect.Type) {
		base := rt
		for base.Kind() == reflect.Pointer {
			base = base.Elem()
		}
		kind, name := wireGobEnc, rt.Name()
		if !gobExternal(rt) {
			name = base.Name()
			switch base.Kind() {
			case reflect.Array:
				kind = wireArray
			case reflect.Slice:
				if base.Elem().Kind() == reflect.Uint8 {
					return // gob's built-in bytes
				}
				kind = wireSlice
			case reflect.Map:
				kind = wireMap
			case reflect.Struct:
				kind = wireStruct
			default:
				return // a built-in type, or one gob does not send
			}
		}
		if sent[base] {
			return
		}
		sent[base] = true
		defs = append(defs, gobDef{name, kind})
		switch base.Kind() { // as gob does, even for a GobEncoder
		case reflect.Struct:
			for i := range base.NumField() {
				if f := base.Field(i); f.IsExported() {
					send(f.Type)
				}
			}
		case reflect.Array, reflect.Slice:
			send(base.Elem())
		case reflect.Map:
			send(base.Key())
			send(base.Elem())
		}
	}
	send(t)
	return defs
}

// gobExternal reports whether gob encodes t with its GobEncode or
// MarshalBinary method, as encoding/gob's validUserType decides.
func gobExternal(t reflect.Type) bool {
	return implements(t, gobEncoderType) || implements(t, binaryMarshalerType)
}

func implements(t, iface reflect.Type) bool {
	for rt, n := t, 0; n <= 100; n++ {
		if rt.Implements(iface) {
			return true
		}
		if rt.Kind() != reflect.Pointer {
			break
		}
		rt = rt.Elem()
	}
	return t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(iface)
}
