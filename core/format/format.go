package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Version is the format version [Entry.Append] writes; [Parse] reads it
// and every older one.
const Version = 2

// MinSize is the length of the shortest entry: the 8-byte header and a
// one-byte generation.
const MinSize = 9

const (
	magic      = 0xC5
	headerSize = MinSize - 1

	flagNegative   = 0x01
	flagCompressed = 0x02
	flagSoft       = 0x04
	flagTombstone  = 0x08
	flagExpiry     = 0x10
	knownFlagsV1   = flagNegative | flagCompressed | flagSoft
	knownFlags     = knownFlagsV1 | flagTombstone | flagExpiry
)

var (
	// ErrCorruptEntry reports bytes that are not an entry: too short, a
	// wrong magic, version 0, a checksum mismatch, a truncated field, or
	// a flag its version does not have. A cache treats such bytes as a
	// miss, reports them, and overwrites them. core.ErrCorruptEntry is
	// the same error.
	ErrCorruptEntry = errors.New("redcache: corrupt or foreign cache entry")

	// ErrNewerEntry reports an entry written by a newer release: a newer
	// format version, or a flag this build does not know under a valid
	// checksum. A cache treats it as a miss and leaves it in place, so a
	// rolling deploy neither overwrites the newer release's entries nor
	// reports them as corrupt. core.ErrNewerEntry is the same error.
	ErrNewerEntry = errors.New("redcache: entry of a newer format")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Entry is one cache entry, decoded. The zero Entry with a payload is a
// plain value of generation 0 that never turns stale.
type Entry struct {
	// Version is the format version the entry was read in. Append always
	// writes the current Version, whatever this field holds.
	Version byte
	// Negative is true when the payload is a cached loader error rather
	// than a value (see [Negative]).
	Negative bool
	// Tombstone is true for the short-lived entry that an invalidation
	// writes in place of a value: it reads as a miss, and fences the
	// loads that were in flight when it was written. It cannot be
	// Negative.
	Tombstone bool
	// Compressed is true when the codec that wrote the payload
	// compresses it (informational: the codec ID says the same).
	Compressed bool
	// Codec is the codec ID of the payload (codec.ID), 0 when unknown.
	Codec byte
	// Generation is the generation of the function (or list) the entry
	// was written in; an entry from an older generation is a miss.
	Generation uint64
	// SoftExpiry, when not zero, is when the value turns stale: after it,
	// a read returns the value and refreshes it in the background. It is
	// stored to the millisecond.
	SoftExpiry time.Time
	// Expiry, when not zero, is when Redis drops the entry, as the writer
	// computed it: a near cache keeps no copy past it. It is stored to
	// the millisecond.
	Expiry time.Time
	// Payload is the codec's bytes, the encoded error of a negative
	// entry, or a tombstone's nonce. After Parse it aliases the bytes
	// given to Parse.
	Payload []byte
}

// Parse decodes an entry. Bytes that are not an entry, or that fail the
// checksum, return an error matching [ErrCorruptEntry]; an entry of a
// newer format returns one matching [ErrNewerEntry]. It never panics,
// whatever b holds, and does not copy: the payload aliases b.
func Parse(b []byte) (Entry, error) {
	var e Entry
	if len(b) < MinSize {
		return e, fmt.Errorf("%w: %d bytes, shorter than a header", ErrCorruptEntry, len(b))
	}
	if b[0] != magic {
		return e, fmt.Errorf("%w: not a redcache entry (first byte %#02x)", ErrCorruptEntry, b[0])
	}
	flags := b[2]
	switch v := b[1]; {
	case v == 1:
		if flags&^knownFlagsV1 != 0 {
			return e, fmt.Errorf("%w: unknown flags %#02x in a version 1 entry", ErrCorruptEntry, flags)
		}
		if binary.BigEndian.Uint32(b[4:8]) != crc32.Checksum(b[headerSize:], castagnoli) {
			return e, fmt.Errorf("%w: checksum mismatch", ErrCorruptEntry)
		}
	case v == Version:
		if binary.BigEndian.Uint32(b[4:8]) != checksum(b) {
			return e, fmt.Errorf("%w: checksum mismatch", ErrCorruptEntry)
		}
		if flags&^knownFlags != 0 {
			return e, fmt.Errorf("%w: unknown flags %#02x", ErrNewerEntry, flags)
		}
	case v > Version:
		return e, fmt.Errorf("%w: format version %d, this build reads up to %d", ErrNewerEntry, v, Version)
	default:
		return e, fmt.Errorf("%w: format version %d", ErrCorruptEntry, v)
	}
	rest := b[headerSize:]
	gen, n := binary.Uvarint(rest)
	if n <= 0 || n != uvarintLen(gen) {
		return e, fmt.Errorf("%w: bad generation", ErrCorruptEntry)
	}
	rest = rest[n:]
	if flags&flagSoft != 0 {
		if len(rest) < 8 {
			return e, fmt.Errorf("%w: truncated soft expiry", ErrCorruptEntry)
		}
		e.SoftExpiry = time.UnixMilli(int64(binary.BigEndian.Uint64(rest)))
		rest = rest[8:]
	}
	if flags&flagExpiry != 0 {
		if len(rest) < 8 {
			return e, fmt.Errorf("%w: truncated expiry", ErrCorruptEntry)
		}
		e.Expiry = time.UnixMilli(int64(binary.BigEndian.Uint64(rest)))
		rest = rest[8:]
	}
	if flags&flagTombstone != 0 && flags&flagNegative != 0 {
		return e, fmt.Errorf("%w: a tombstone cannot be negative", ErrCorruptEntry)
	}
	e.Version = b[1]
	e.Negative = flags&flagNegative != 0
	e.Tombstone = flags&flagTombstone != 0
	e.Compressed = flags&flagCompressed != 0
	e.Codec = b[3]
	e.Generation = gen
	e.Payload = rest
	return e, nil
}

// checksum is the CRC of a version 2 entry: every byte but the CRC's own.
func checksum(b []byte) uint32 {
	return crc32.Update(crc32.Checksum(b[:4], castagnoli), castagnoli, b[headerSize:])
}

// Size is the length of the entry's encoding: dst needs that much room
// for Append not to allocate.
func (e Entry) Size() int {
	n := headerSize + uvarintLen(e.Generation) + len(e.Payload)
	if !e.SoftExpiry.IsZero() {
		n += 8
	}
	if !e.Expiry.IsZero() {
		n += 8
	}
	return n
}

// Append appends the entry, encoded in the current format [Version], to
// dst and returns the extended buffer. It allocates only when dst lacks
// room for [Entry.Size] more bytes. An entry both Tombstone and Negative
// is encoded as given, and Parse refuses it.
func (e Entry) Append(dst []byte) []byte {
	var flags byte
	if e.Negative {
		flags |= flagNegative
	}
	if e.Tombstone {
		flags |= flagTombstone
	}
	if e.Compressed {
		flags |= flagCompressed
	}
	if !e.SoftExpiry.IsZero() {
		flags |= flagSoft
	}
	if !e.Expiry.IsZero() {
		flags |= flagExpiry
	}
	start := len(dst)
	dst = append(dst, magic, Version, flags, e.Codec, 0, 0, 0, 0)
	dst = binary.AppendUvarint(dst, e.Generation)
	if flags&flagSoft != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.SoftExpiry.UnixMilli()))
	}
	if flags&flagExpiry != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.Expiry.UnixMilli()))
	}
	dst = append(dst, e.Payload...)
	binary.BigEndian.PutUint32(dst[start+4:], checksum(dst[start:]))
	return dst
}

// uvarintLen is the length of x's shortest encoding: a longer one is not
// what Append writes, so Parse refuses it.
func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}
