package format

import (
	"encoding/binary"
	"fmt"
)

// Negative is the payload of a negative entry: a loader's error, cached.
//
// Version 2 encodes it as an unsigned varint n, then n bytes of Sentinel,
// then Msg. Version 1 wrote the sentinel's 1-based index in the writer's
// list in place of its name, then Msg.
type Negative struct {
	// Sentinel names the error of the writer's WithNegativeCaching list
	// that the loader's error matched, by its message (Error()); "" for
	// none. A reader maps it back to its own error with that message,
	// which survives a reordered list.
	Sentinel string
	// Index is, in a version 1 entry only, the 1-based index of the
	// matched error in the writer's list; 0 for none. Append ignores it.
	Index uint64
	// Msg is the loader error's message.
	Msg string
}

// Size is the length of the payload's encoding.
func (n Negative) Size() int {
	return uvarintLen(uint64(len(n.Sentinel))) + len(n.Sentinel) + len(n.Msg)
}

// Append appends the payload, in the current format, to dst and returns
// the extended buffer.
func (n Negative) Append(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(n.Sentinel)))
	dst = append(dst, n.Sentinel...)
	return append(dst, n.Msg...)
}

// ParseNegative decodes the payload of e, a negative entry of any version
// Parse reads. A payload that does not decode is [ErrCorruptEntry].
func ParseNegative(e Entry) (Negative, error) {
	if !e.Negative {
		return Negative{}, fmt.Errorf("%w: not a negative entry", ErrCorruptEntry)
	}
	p := e.Payload
	n, w := binary.Uvarint(p)
	if w <= 0 {
		return Negative{}, fmt.Errorf("%w: bad negative entry", ErrCorruptEntry)
	}
	p = p[w:]
	if e.Version == 1 {
		return Negative{Index: n, Msg: string(p)}, nil
	}
	if n > uint64(len(p)) {
		return Negative{}, fmt.Errorf("%w: bad negative entry", ErrCorruptEntry)
	}
	return Negative{Sentinel: string(p[:n]), Msg: string(p[n:])}, nil
}
