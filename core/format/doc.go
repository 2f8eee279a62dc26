// Package format is the byte layout of a redcache entry: what core writes
// under every cache key, and what any module that stores values in core's
// format (paginate stores each list item this way) writes and reads
// without a Manager.
//
// An entry is a fixed 8-byte header (magic, format version, flags, codec
// ID, a CRC-32C over the whole entry), the generation it was written in,
// the optional soft expiry and expiry, then the payload: the codec's
// bytes, a cached error (see [Negative]), or a tombstone's nonce.
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
//	8       1-10  generation, unsigned varint (shortest form)
//	..      8     soft expiry, Unix milliseconds, big endian (flag 0x04 only)
//	..      8     expiry, Unix milliseconds, big endian (flag 0x10 only)
//	..      rest  payload
//
// Version 1 entries, written by the previous release, are still read:
// their CRC covers only the bytes after offset 8, they know flags 0x01,
// 0x02 and 0x04 only, and their negative payload names the matched error
// by its 1-based index in the writer's list.
//
// [Entry.Append] encodes into a caller's buffer and allocates nothing when
// the buffer has room ([Entry.Size] says how much); [Parse] allocates
// nothing either: the parsed payload aliases the bytes given. Bytes that
// are not an entry, or fail the checksum, are [ErrCorruptEntry]; an entry
// of a newer format is [ErrNewerEntry], which a reader should treat as a
// miss and leave in place during a rolling deploy. Parse never panics.
//
// docs/format.md describes the same layout for readers of raw Redis.
package format
