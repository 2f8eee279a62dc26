package core

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// The entry format, version 1. Every value the Manager writes to Redis is
// an entry: a fixed 8-byte header, a variable part, then the payload
// (the codec's bytes, or a cached error):
//
//	offset  size  field
//	0       1     magic 0xC5
//	1       1     format version (1)
//	2       1     flags: 0x01 negative (payload is a cached error),
//	              0x02 compressed (the codec compresses; informational),
//	              0x04 soft expiry present
//	3       1     codec ID (codec.ID; 0 for a codec without one)
//	4       4     CRC-32C (Castagnoli) of every byte after offset 8, big endian
//	8       1-10  generation, unsigned varint
//	..      8     soft expiry, Unix milliseconds, big endian (flag 0x04 only)
//	..      rest  payload
//
// A negative payload is an unsigned varint (the 1-based index of the
// matched WithNegativeCaching error, 0 for none) followed by the error
// message. docs/format.md describes the same, for readers of raw Redis.
const (
	entryMagic   = 0xC5
	entryVersion = 1
	headerSize   = 8

	flagNegative   = 0x01
	flagCompressed = 0x02
	flagSoft       = 0x04
	knownFlags     = flagNegative | flagCompressed | flagSoft
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Entry is one decoded cache entry; see [ParseEntry] for the format.
type Entry struct {
	// Negative is true when the entry holds a cached loader error rather
	// than a value.
	Negative bool
	// Compressed is true when the codec that wrote the payload
	// compresses it.
	Compressed bool
	// Codec is the codec ID of the payload (codec.ID), 0 when unknown.
	Codec byte
	// Generation is the function's generation the entry was written in;
	// an entry from an older generation is a miss.
	Generation uint64
	// SoftExpiry, when not zero, is when the value turns stale: after it,
	// a read returns the value and refreshes it in the background.
	SoftExpiry time.Time
	// Payload is the codec's bytes, or the encoded error of a negative
	// entry. It aliases the bytes given to ParseEntry.
	Payload []byte
}

// ParseEntry decodes an entry. Bytes that are not an entry of a known
// version, or that fail the checksum, return an error matching
// [ErrCorruptEntry]. It never panics, whatever b holds.
func ParseEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) < headerSize+1 {
		return e, fmt.Errorf("%w: %d bytes, shorter than a header", ErrCorruptEntry, len(b))
	}
	if b[0] != entryMagic {
		return e, fmt.Errorf("%w: not a redcache entry (first byte %#02x)", ErrCorruptEntry, b[0])
	}
	if b[1] != entryVersion {
		return e, fmt.Errorf("%w: format version %d, this build reads %d", ErrCorruptEntry, b[1], entryVersion)
	}
	flags := b[2]
	if flags&^knownFlags != 0 {
		return e, fmt.Errorf("%w: unknown flags %#02x", ErrCorruptEntry, flags)
	}
	if want, got := binary.BigEndian.Uint32(b[4:8]), crc32.Checksum(b[headerSize:], castagnoli); want != got {
		return e, fmt.Errorf("%w: checksum mismatch", ErrCorruptEntry)
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
	e.Negative = flags&flagNegative != 0
	e.Compressed = flags&flagCompressed != 0
	e.Codec = b[3]
	e.Generation = gen
	e.Payload = rest
	return e, nil
}

// Append appends the encoded entry to dst and returns the result.
func (e Entry) Append(dst []byte) []byte {
	var flags byte
	if e.Negative {
		flags |= flagNegative
	}
	if e.Compressed {
		flags |= flagCompressed
	}
	if !e.SoftExpiry.IsZero() {
		flags |= flagSoft
	}
	start := len(dst)
	dst = append(dst, entryMagic, entryVersion, flags, e.Codec, 0, 0, 0, 0)
	dst = binary.AppendUvarint(dst, e.Generation)
	if flags&flagSoft != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.SoftExpiry.UnixMilli()))
	}
	dst = append(dst, e.Payload...)
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+headerSize:], castagnoli))
	return dst
}

// uvarintLen is the length of gen's shortest encoding: a longer one is
// not what Append writes, so it is refused.
func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// encodeNegative is the payload of a negative entry.
func encodeNegative(sentinel int, msg string) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 2+len(msg)), uint64(sentinel))
	return append(b, msg...)
}

func decodeNegative(p []byte, sentinels []error) (*CachedError, error) {
	idx, n := binary.Uvarint(p)
	if n <= 0 {
		return nil, fmt.Errorf("%w: bad negative entry", ErrCorruptEntry)
	}
	ce := &CachedError{Msg: string(p[n:])}
	if idx > 0 {
		if idx > uint64(len(sentinels)) {
			// Written by a process configured with more errors: keep the
			// message, drop the identity we cannot know.
			return ce, nil
		}
		ce.Sentinel = sentinels[idx-1]
	}
	return ce, nil
}
