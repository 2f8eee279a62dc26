package codec

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// This file reads and rewrites the framing of a gob stream, as
// encoding/gob writes it: a sequence of messages, each an unsigned count
// and that many bytes. A message starts with a signed type id: a negative
// id -n defines type n (a gob-encoded wireType follows); a non-negative one
// starts a value of that type.
//
// Type ids below gobFirstUserID are gob's built-in types and mean the same
// everywhere. The others are handed out by each process in the order it
// meets its types, so two processes give the same Go type different ids;
// canonicalDefs renumbers them in the order the stream defines them, which
// depends only on the types, so that every process writes the same bytes
// for the same type definitions.

const (
	// gobFirstUserID is encoding/gob's lowest id of a defined type.
	gobFirstUserID = 64
	// gobInterfaceID is encoding/gob's built-in id of an interface type: a
	// value of a type that refers to it may carry type definitions inside
	// its value message, which a reused decoder cannot take.
	gobInterfaceID = 8
)

// gobUint decodes a gob unsigned integer at the start of b, as
// encoding/gob reads it: a byte up to 0x7f is the value, else the byte is
// minus the number of big-endian bytes that follow (at most 8). n is 0 when
// b holds no such integer.
func gobUint(b []byte) (x uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	c := b[0]
	if c <= 0x7f {
		return uint64(c), 1
	}
	w := -int(int8(c))
	if w > 8 || len(b) < 1+w {
		return 0, 0
	}
	for _, d := range b[1 : 1+w] {
		x = x<<8 | uint64(d)
	}
	return x, 1 + w
}

// gobInt decodes a gob signed integer: an unsigned one whose low bit is
// the sign (set: the value is the complement of the rest).
func gobInt(b []byte) (i int64, n int) {
	u, n := gobUint(b)
	i = int64(u >> 1)
	if u&1 != 0 {
		i = ^i
	}
	return i, n
}

// appendGobUint appends x as encoding/gob writes it: in the shortest form.
func appendGobUint(b []byte, x uint64) []byte {
	if x <= 0x7f {
		return append(b, byte(x))
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], x)
	skip := bits.LeadingZeros64(x) / 8
	return append(append(b, byte(skip-8)), buf[skip:]...)
}

// appendGobInt appends i as encoding/gob writes a signed integer.
func appendGobInt(b []byte, i int64) []byte {
	var u uint64
	if i < 0 {
		u = uint64(^i<<1) | 1
	} else {
		u = uint64(i << 1)
	}
	return appendGobUint(b, u)
}

// gobSplit reports where the value message of data starts, when data is
// exactly a stream of type definitions followed by one value message that
// ends where data ends: the shape of every value Gob writes. ok is false
// for any other bytes, which the caller then hands to a new gob.Decoder
// to get its verdict.
func gobSplit(data []byte) (at int, ok bool) {
	at, end, ok, _ := gobValue(data)
	return at, ok && end == len(data)
}

// gobValue finds the first value message of a stream: data[at:end],
// after type definitions only. ok is false when there is none; short is
// true when a message before it, or it, claims more bytes than data
// holds, which encoding/gob would find out only after allocating them.
func gobValue(data []byte) (at, end int, ok, short bool) {
	for off := 0; off < len(data); {
		count, n := gobUint(data[off:])
		if n == 0 || count == 0 {
			return 0, 0, false, false
		}
		if count > uint64(len(data)-off-n) {
			return 0, 0, false, true
		}
		end := off + n + int(count)
		id, m := gobInt(data[off+n : end])
		if m == 0 {
			return 0, 0, false, false
		}
		if id >= 0 {
			return off, end, true, false
		}
		off = end
	}
	return 0, 0, false, false
}

var errGobWire = errors.New("gob: unexpected type definition")

// canonicalDefs rewrites a stream's type definitions (defs: only
// definition messages, as this process's own encoder wrote them) with
// their ids renumbered from gobFirstUserID in the order they are defined,
// and returns the new bytes and the renumbering. It fails on what a
// value's type definitions never hold from encoding/gob, and on a
// reference to the interface type.
//
// types are the Go types the definitions describe, in order (see
// gobDefTypes): gob names a type or not depending on how a process first
// met it (a struct first met as a map's element has no name), so the
// names written are replaced too. A decoder uses them only in error
// messages, and "redcache inspect" to show a struct's or a time's type.
func canonicalDefs(defs []byte, types []gobDef) (out []byte, ids map[int64]int64, err error) {
	ids = make(map[int64]int64)
	next := int64(gobFirstUserID)
	for off := 0; off < len(defs); {
		count, n := gobUint(defs[off:])
		if n == 0 || count == 0 || count > uint64(len(defs)-off-n) {
			return nil, nil, errGobWire
		}
		id, m := gobInt(defs[off+n:])
		if m == 0 || id >= 0 || -id < gobFirstUserID || ids[-id] != 0 {
			return nil, nil, errGobWire
		}
		ids[-id] = next
		next++
		off += n + int(count)
	}
	if len(ids) != len(types) {
		return nil, nil, errGobWire
	}
	for off := 0; off < len(defs); {
		count, n := gobUint(defs[off:])
		msg := defs[off+n : off+n+int(count)]
		off += n + int(count)
		id, m := gobInt(msg)
		def := types[ids[-id]-gobFirstUserID]
		w := wireRewriter{in: msg[m:], ids: ids, name: def.name, self: ids[-id]}
		w.out = appendGobInt(w.out, -ids[-id])
		if err := w.structure(wireTop); err != nil {
			return nil, nil, err
		}
		if w.kind != def.kind {
			return nil, nil, errGobWire
		}
		if len(w.in) != 0 {
			return nil, nil, errGobWire
		}
		out = appendGobUint(out, uint64(len(w.out)))
		out = append(out, w.out...)
	}
	return out, ids, nil
}

// wireKind names the parts of encoding/gob's wireType, the struct a type
// definition holds, and of the structs inside it.
type wireKind uint8

const (
	wireTop    wireKind = iota // wireType
	wireArray                  // arrayType
	wireSlice                  // sliceType
	wireStruct                 // structType
	wireMap                    // mapType
	wireGobEnc                 // gobEncoderType
	wireCommon                 // CommonType
	wireField                  // fieldType
	wireString                 // a string
	wireName                   // a type's name: a string left out
	wireInt                    // an int
	wireID                     // a typeId: an int renumbered
	wireFields                 // []fieldType
)

// wireFieldsOf lists the fields of each struct of encoding/gob's wire
// description, in declaration order (gob numbers them so).
var wireFieldsOf = [...][]wireKind{
	wireTop:    {wireArray, wireSlice, wireStruct, wireMap, wireGobEnc, wireGobEnc, wireGobEnc},
	wireArray:  {wireCommon, wireID, wireInt},
	wireSlice:  {wireCommon, wireID},
	wireStruct: {wireCommon, wireFields},
	wireMap:    {wireCommon, wireID, wireID},
	wireGobEnc: {wireCommon},
	wireCommon: {wireName, wireID},
	wireField:  {wireString, wireID},
}

// wireRewriter copies a gob-encoded wire description from in to out,
// renumbering every type id through ids.
type wireRewriter struct {
	in, out []byte
	ids     map[int64]int64
	name    string // the name of the type defined
	self    int64  // its canonical id
	kind    wireKind
}

// structure copies a struct: (field delta, field value) pairs ended by a
// zero delta.
func (w *wireRewriter) structure(k wireKind) error {
	fields := wireFieldsOf[k]
	field, last := -1, -1
	if k == wireCommon && w.name != "" {
		w.out = appendGobUint(w.out, 1)
		w.out = appendGobUint(w.out, uint64(len(w.name)))
		w.out = append(w.out, w.name...)
		last = 0
	}
	for {
		delta, n := gobUint(w.in)
		if n == 0 || delta > uint64(len(fields)) {
			return errGobWire
		}
		w.in = w.in[n:]
		if delta == 0 {
			w.out = append(w.out, 0)
			return nil
		}
		field += int(delta)
		if field >= len(fields) {
			return errGobWire
		}
		if k == wireTop {
			if w.kind != 0 {
				return errGobWire
			}
			w.kind = fields[field]
		}
		if fields[field] == wireName {
			if err := w.skipString(); err != nil {
				return err
			}
			continue
		}
		w.out = appendGobUint(w.out, uint64(field-last))
		last = field
		if k == wireCommon && fields[field] == wireID {
			// The type's own id, which a decoder does not use: gob
			// writes the id of a GobEncoder's user type there, which
			// the stream does not define. The defined id replaces it.
			_, n := gobInt(w.in)
			if n == 0 {
				return errGobWire
			}
			w.in = w.in[n:]
			w.out = appendGobInt(w.out, w.self)
			continue
		}
		if err := w.value(fields[field]); err != nil {
			return err
		}
	}
}

// skipString drops a string: the name of a type, which structure wrote
// already.
func (w *wireRewriter) skipString() error {
	l, n := gobUint(w.in)
	if n == 0 || l > uint64(len(w.in)-n) {
		return errGobWire
	}
	w.in = w.in[n+int(l):]
	return nil
}

func (w *wireRewriter) value(k wireKind) error {
	switch k {
	case wireString:
		l, n := gobUint(w.in)
		if n == 0 || l > uint64(len(w.in)-n) {
			return errGobWire
		}
		w.out = append(w.out, w.in[:n+int(l)]...)
		w.in = w.in[n+int(l):]
	case wireInt:
		_, n := gobInt(w.in)
		if n == 0 {
			return errGobWire
		}
		w.out = append(w.out, w.in[:n]...)
		w.in = w.in[n:]
	case wireID:
		id, n := gobInt(w.in)
		if n == 0 || id <= 0 || id == gobInterfaceID {
			return errGobWire
		}
		w.in = w.in[n:]
		if id >= gobFirstUserID {
			if id = w.ids[id]; id == 0 {
				return errGobWire // a type the stream does not define
			}
		}
		w.out = appendGobInt(w.out, id)
	case wireFields:
		count, n := gobUint(w.in)
		if n == 0 || count > uint64(len(w.in)) {
			return errGobWire
		}
		w.out = appendGobUint(w.out, count)
		w.in = w.in[n:]
		for range count {
			if err := w.structure(wireField); err != nil {
				return err
			}
		}
	default:
		return w.structure(k)
	}
	return nil
}

// gobWire is what a map-bomb check needs of a type definition: its kind
// and the ids of its parts.
type gobWire struct {
	kind      wireKind // wireArray, wireSlice, wireStruct, wireMap or wireGobEnc
	elem, key int64
	fields    []int64 // a struct's field types, by field number
}

// gobWires parses the type definitions defs (untrusted bytes). ok is
// false when they are not what encoding/gob writes; check is true when a
// value of these types may hold a map and no interface, which is when
// gobMapBomb can check it.
func gobWires(defs []byte) (wires map[int64]*gobWire, check, ok bool) {
	wires = make(map[int64]*gobWire)
	for off := 0; off < len(defs); {
		count, n := gobUint(defs[off:])
		if n == 0 || count == 0 || count > uint64(len(defs)-off-n) {
			return nil, false, false
		}
		msg := defs[off+n : off+n+int(count)]
		off += n + int(count)
		id, m := gobInt(msg)
		if m == 0 || id >= 0 {
			return nil, false, false
		}
		p := wireParser{in: msg[m:], w: new(gobWire)}
		if !p.structure(wireTop) || len(p.in) != 0 || p.w.kind == 0 {
			return nil, false, false
		}
		wires[-id] = p.w
		check = check || p.w.kind == wireMap
		if p.iface {
			return nil, false, false
		}
	}
	return wires, check, true
}

// wireParser reads a wire description into w.
type wireParser struct {
	in    []byte
	w     *gobWire
	iface bool // a part is an interface
}

func (p *wireParser) structure(k wireKind) bool {
	fields := wireFieldsOf[k]
	field := -1
	for {
		delta, n := gobUint(p.in)
		if n == 0 || delta > uint64(len(fields)) {
			return false
		}
		p.in = p.in[n:]
		if delta == 0 {
			return true
		}
		field += int(delta)
		if field >= len(fields) {
			return false
		}
		f := fields[field]
		if k == wireTop {
			if p.w.kind != 0 {
				return false
			}
			p.w.kind = f
		}
		switch f {
		case wireString, wireName:
			l, n := gobUint(p.in)
			if n == 0 || l > uint64(len(p.in)-n) {
				return false
			}
			p.in = p.in[n+int(l):]
		case wireInt, wireID:
			id, n := gobInt(p.in)
			if n == 0 {
				return false
			}
			p.in = p.in[n:]
			if f == wireID {
				p.iface = p.iface || id == gobInterfaceID
				switch {
				case k == wireMap && field == 1:
					p.w.key = id
				case (k == wireMap && field == 2) || ((k == wireArray || k == wireSlice) && field == 1):
					p.w.elem = id
				case k == wireField:
					p.w.fields[len(p.w.fields)-1] = id
				}
			}
		case wireFields:
			count, n := gobUint(p.in)
			if n == 0 || count > uint64(len(p.in)) {
				return false
			}
			p.in = p.in[n:]
			for range count {
				p.w.fields = append(p.w.fields, 0)
				if !p.structure(wireField) {
					return false
				}
			}
		default:
			if !p.structure(f) {
				return false
			}
		}
	}
}

// gobMaxDepth bounds gobMapBomb's recursion: deeper values are left to
// encoding/gob.
const gobMaxDepth = 1000

// gobMapBomb reports whether the value message msg (its count and type id
// included) holds a map whose count is larger than the bytes left in the
// message. No encoder writes one (every entry takes at least a byte), but
// encoding/gob sizes the map by that count before it reads an entry, so a
// few corrupt bytes would make it allocate without bound. Bytes it cannot
// follow are left to encoding/gob to judge.
func gobMapBomb(msg []byte, wires map[int64]*gobWire) bool {
	_, n := gobUint(msg)
	if n == 0 {
		return false
	}
	id, m := gobInt(msg[n:])
	if m == 0 {
		return false
	}
	w := gobWalker{in: msg[n+m:], wires: wires}
	if wt := wires[id]; wt != nil && wt.kind == wireStruct {
		w.structBody(wt, 0)
	} else if d, n := gobUint(w.in); n != 0 && d == 0 {
		w.in = w.in[n:]
		w.value(id, 0)
	}
	return w.bomb
}

// gobWalker follows a value as encoding/gob decodes it. It stops at the
// first thing it cannot follow (ok false), or at a map bomb.
type gobWalker struct {
	in    []byte
	wires map[int64]*gobWire
	bomb  bool
}

func (w *gobWalker) uint() (uint64, bool) {
	x, n := gobUint(w.in)
	if n == 0 {
		return 0, false
	}
	w.in = w.in[n:]
	return x, true
}

func (w *gobWalker) skip() bool {
	l, ok := w.uint()
	if !ok || l > uint64(len(w.in)) {
		return false
	}
	w.in = w.in[l:]
	return true
}

func (w *gobWalker) structBody(wt *gobWire, depth int) bool {
	field := -1
	for len(w.in) > 0 { // as encoding/gob, a struct may end where the message does
		delta, ok := w.uint()
		if !ok || delta > uint64(len(wt.fields)) {
			return false
		}
		if delta == 0 {
			return true
		}
		field += int(delta)
		if field >= len(wt.fields) || !w.value(wt.fields[field], depth+1) {
			return false
		}
	}
	return true
}

func (w *gobWalker) value(id int64, depth int) bool {
	if depth > gobMaxDepth {
		return false
	}
	switch id {
	case 1, 2, 3, 4: // bool, int, uint, float
		_, ok := w.uint()
		return ok
	case 5, 6: // bytes, string
		return w.skip()
	case 7: // complex
		_, ok := w.uint()
		_, ok2 := w.uint()
		return ok && ok2
	}
	wt := w.wires[id]
	if wt == nil {
		return false
	}
	switch wt.kind {
	case wireStruct:
		return w.structBody(wt, depth)
	case wireGobEnc:
		return w.skip()
	case wireArray, wireSlice:
		n, ok := w.uint()
		if !ok || n > uint64(len(w.in)) {
			return false // encoding/gob refuses it without allocating it
		}
		for range n {
			if !w.value(wt.elem, depth+1) {
				return false
			}
		}
		return true
	case wireMap:
		n, ok := w.uint()
		if !ok {
			return false
		}
		if n > uint64(len(w.in)) {
			w.bomb = true
			return false
		}
		for range n {
			if !w.value(wt.key, depth+1) || !w.value(wt.elem, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}
