package core

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"time"
)

// The entry format, version 2. Every value the Manager writes to Redis is
// an entry: a fixed 8-byte header, a variable part, then the payload
// (the codec's bytes, a cached error, or a tombstone's nonce):
//
//	offset  size  field
//	0       1     magic 0xC5
//	1       1     format version (2)
//	2       1     flags: 0x01 negative (payload is a cached error),
//	              0x02 compressed (the codec compresses; informational),
//	              0x04 soft expiry present,
//	              0x08 tombstone (an invalidation: reads as a miss),
//	              0x10 expiry present
//	3       1     codec ID (codec.ID; 0 for a codec without one)
//	4       4     CRC-32C (Castagnoli), big endian, of bytes 0-3 and of
//	              every byte after offset 8: the whole entry but itself
//	8       1-10  generation, unsigned varint
//	..      8     soft expiry, Unix milliseconds, big endian (flag 0x04 only)
//	..      8     expiry, Unix milliseconds, big endian (flag 0x10 only)
//	..      rest  payload
//
// A negative payload is an unsigned varint n, then n bytes naming the
// matched WithNegativeCaching error (its message; empty for none), then
// the error message.
//
// Version 1 entries are still read: their CRC covers only the bytes after
// offset 8, they know flags 0x01, 0x02 and 0x04 only, and their negative
// payload names the matched error by its 1-based index in the writer's
// list. docs/format.md describes the same, for readers of raw Redis.
const (
	entryMagic   = 0xC5
	entryVersion = 2
	headerSize   = 8

	flagNegative   = 0x01
	flagCompressed = 0x02
	flagSoft       = 0x04
	flagTombstone  = 0x08
	flagExpiry     = 0x10
	knownFlagsV1   = flagNegative | flagCompressed | flagSoft
	knownFlags     = knownFlagsV1 | flagTombstone | flagExpiry
)

// ErrNewerEntry reports an entry written by a newer release of this
// package: a newer format version, or a flag this build does not know. A
// call treats it as a miss and leaves it in place, so a rolling deploy
// neither overwrites the newer release's entries nor reports them as
// corrupt.
var ErrNewerEntry = errors.New("redcache: entry of a newer format")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Entry is one decoded cache entry; see [ParseEntry] for the format.
type Entry struct {
	// Version is the format version the entry was read in. Append always
	// writes the current version, whatever it holds.
	Version byte
	// Negative is true when the entry holds a cached loader error rather
	// than a value.
	Negative bool
	// Tombstone is true for the short-lived entry that Invalidate writes
	// in place of a value: it reads as a miss, and fences the loads that
	// were in flight when it was written (see docs/format.md).
	Tombstone bool
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
	// Expiry, when not zero, is when Redis drops the entry, as the writer
	// computed it: a near cache keeps no copy past it.
	Expiry time.Time
	// Payload is the codec's bytes, the encoded error of a negative
	// entry, or a tombstone's nonce. It aliases the bytes given to
	// ParseEntry.
	Payload []byte
}

// ParseEntry decodes an entry. Bytes that are not an entry, or that fail
// the checksum, return an error matching [ErrCorruptEntry]; an entry of a
// newer format returns one matching [ErrNewerEntry]. It never panics,
// whatever b holds.
func ParseEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) < headerSize+1 {
		return e, fmt.Errorf("%w: %d bytes, shorter than a header", ErrCorruptEntry, len(b))
	}
	if b[0] != entryMagic {
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
	case v == entryVersion:
		if binary.BigEndian.Uint32(b[4:8]) != checksum(b) {
			return e, fmt.Errorf("%w: checksum mismatch", ErrCorruptEntry)
		}
		if flags&^knownFlags != 0 {
			return e, fmt.Errorf("%w: unknown flags %#02x", ErrNewerEntry, flags)
		}
	case v > entryVersion:
		return e, fmt.Errorf("%w: format version %d, this build reads up to %d", ErrNewerEntry, v, entryVersion)
	default:
		return e, fmt.Errorf("%w: format version %d", ErrCorruptEntry, v)
	}
	rest := b[headerSize:]
	gen, n := binary.Uvarint(rest)
	if n <= 0 || n != uvarintLen(gen) {
		return e, fmt.Errorf("%w: bad generation", ErrCorruptEntry)
	}
	rest = rest[n:]
	for _, f := range []struct {
		flag byte
		t    *time.Time
	}{{flagSoft, &e.SoftExpiry}, {flagExpiry, &e.Expiry}} {
		if flags&f.flag == 0 {
			continue
		}
		if len(rest) < 8 {
			return e, fmt.Errorf("%w: truncated expiry", ErrCorruptEntry)
		}
		*f.t = time.UnixMilli(int64(binary.BigEndian.Uint64(rest)))
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

// Append appends the entry, encoded in the current format version, to dst
// and returns the result.
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
	dst = append(dst, entryMagic, entryVersion, flags, e.Codec, 0, 0, 0, 0)
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

// uvarintLen is the length of gen's shortest encoding: a longer one is
// not what Append writes, so it is refused.
func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// encodeNegative is the payload of a negative entry: the matched
// sentinel is named by its message, which stays the same when the list
// given to WithNegativeCaching is reordered between releases.
func encodeNegative(sentinel error, msg string) []byte {
	var name string
	if sentinel != nil {
		name = sentinel.Error()
	}
	b := binary.AppendUvarint(make([]byte, 0, 2+len(name)+len(msg)), uint64(len(name)))
	b = append(b, name...)
	return append(b, msg...)
}

// decodeNegative reads the payload of a negative entry of the given
// format version.
func decodeNegative(version byte, p []byte, sentinels []error) (*CachedError, error) {
	n, w := binary.Uvarint(p)
	if w <= 0 {
		return nil, fmt.Errorf("%w: bad negative entry", ErrCorruptEntry)
	}
	p = p[w:]
	if version == 1 {
		// Version 1 named the sentinel by its index in the writer's list.
		ce := &CachedError{Msg: string(p)}
		if n > 0 && n <= uint64(len(sentinels)) {
			ce.Sentinel = sentinels[n-1]
		}
		return ce, nil
	}
	if n > uint64(len(p)) {
		return nil, fmt.Errorf("%w: bad negative entry", ErrCorruptEntry)
	}
	name := string(p[:n])
	ce := &CachedError{Msg: string(p[n:])}
	if name != "" {
		// A sentinel this process does not know: keep the message, drop
		// the identity.
		for _, s := range sentinels {
			if s != nil && s.Error() == name {
				ce.Sentinel = s
				break
			}
		}
	}
	return ce, nil
}

// tombstone returns a new tombstone entry: its random nonce makes every
// tombstone differ from the last, so that a load fenced by one is not
// let through by the next.
func tombstone(gen uint64) []byte {
	var nonce [8]byte
	binary.BigEndian.PutUint64(nonce[:], rand.Uint64())
	return Entry{Tombstone: true, Generation: gen, Payload: nonce[:]}.Append(make([]byte, 0, headerSize+18))
}
