package format_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/redcache/redcache/core/format"
)

func TestEntryRoundTrip(t *testing.T) {
	tests := []format.Entry{
		{Payload: []byte{}},
		{Codec: 1, Generation: 7, Payload: []byte("value")},
		{Negative: true, Codec: 2, Generation: 1 << 40, Payload: []byte("\x00msg")},
		{Tombstone: true, Generation: 3, Payload: []byte("12345678")},
		{Compressed: true, Codec: 0x81, SoftExpiry: time.UnixMilli(1_700_000_000_123),
			Expiry: time.UnixMilli(1_700_000_060_123), Payload: bytes.Repeat([]byte{0xff}, 1000)},
	}
	for _, want := range tests {
		b := want.Append([]byte("prefix-kept"))
		if !bytes.HasPrefix(b, []byte("prefix-kept")) {
			t.Fatal("Append overwrote dst")
		}
		got, err := format.Parse(b[len("prefix-kept"):])
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		want.Version = 2
		if !equal(want, got) {
			t.Fatalf("round trip: got %+v, want %+v", got, want)
		}
		if n := want.Size(); len(b)-len("prefix-kept") != n {
			t.Fatalf("Size = %d, Append wrote %d bytes", n, len(b)-len("prefix-kept"))
		}
	}
}

func TestEntryRejects(t *testing.T) {
	good := format.Entry{Codec: 1, Generation: 3, Payload: []byte("payload")}.Append(nil)
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := map[string][]byte{
		"nil":           nil,
		"short":         good[:5],
		"bad magic":     mutate(func(b []byte) []byte { b[0] = 'x'; return b }),
		"version 0":     mutate(func(b []byte) []byte { b[1] = 0; return b }),
		"payload flip":  mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }),
		"checksum flip": mutate(func(b []byte) []byte { b[5] ^= 1; return b }),
		"truncated":     good[:len(good)-1],
		"json text":     []byte(`{"a":1}`),
		// Format v2: the checksum covers the header too.
		"negative flag flip":            mutate(func(b []byte) []byte { b[2] ^= 0x01; return b }),
		"unknown flag, no new checksum": mutate(func(b []byte) []byte { b[2] |= 0x80; return b }),
		"codec flip":                    mutate(func(b []byte) []byte { b[3] ^= 0x01; return b }),
	}
	for name, b := range tests {
		if _, err := format.Parse(b); !errors.Is(err, format.ErrCorruptEntry) {
			t.Errorf("%s: Parse = %v, want ErrCorruptEntry", name, err)
		}
	}
}

// Every single bit flipped anywhere in an entry, header included, is
// caught (issue: a flipped negative flag used to read as a garbage error).
func TestEntryEveryBitFlipIsCaught(t *testing.T) {
	for _, ent := range []format.Entry{
		{Codec: 1, Generation: 3, Payload: []byte("payload")},
		{Negative: true, Codec: 1, Generation: 3, Payload: []byte("\x00boom")},
		{Codec: 1, Generation: 3, SoftExpiry: time.UnixMilli(5), Expiry: time.UnixMilli(9), Payload: []byte("v")},
	} {
		good := ent.Append(nil)
		for i := range good {
			for bit := 0; bit < 8; bit++ {
				b := append([]byte(nil), good...)
				b[i] ^= 1 << bit
				got, err := format.Parse(b)
				if i == 1 && b[1] > 2 {
					if !errors.Is(err, format.ErrNewerEntry) {
						t.Errorf("byte %d bit %d (version %d): %v, want ErrNewerEntry", i, bit, b[1], err)
					}
					continue
				}
				if err == nil {
					t.Errorf("byte %d bit %d flipped: parsed as %+v", i, bit, got)
				}
			}
		}
	}
}

// A newer format version, or a flag this build does not know (under a
// valid checksum), is ErrNewerEntry, not ErrCorruptEntry.
func TestEntryNewerFormat(t *testing.T) {
	good := format.Entry{Codec: 1, Generation: 3, Payload: []byte("payload")}.Append(nil)
	newer := append([]byte(nil), good...)
	newer[1] = 3
	unknownFlag := append([]byte(nil), good...)
	unknownFlag[2] |= 0x40
	binary.BigEndian.PutUint32(unknownFlag[4:8], v2Checksum(unknownFlag))
	for name, b := range map[string][]byte{"version 3": newer, "version 255": append([]byte{0xC5, 0xff}, good[2:]...), "unknown flag": unknownFlag} {
		_, err := format.Parse(b)
		if !errors.Is(err, format.ErrNewerEntry) || errors.Is(err, format.ErrCorruptEntry) {
			t.Errorf("%s: Parse = %v, want ErrNewerEntry only", name, err)
		}
	}
}

// Entries written by the previous release (format v1) still read.
func TestEntryV1StillReads(t *testing.T) {
	b := v1Entry(0x04, 1, 7, time.UnixMilli(1_700_000_000_000), []byte("value"))
	got, err := format.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := format.Entry{Version: 1, Codec: 1, Generation: 7, SoftExpiry: time.UnixMilli(1_700_000_000_000), Payload: []byte("value")}
	if !equal(want, got) {
		t.Fatalf("v1 entry: got %+v, want %+v", got, want)
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func v2Checksum(b []byte) uint32 {
	return crc32.Update(crc32.Checksum(b[:4], castagnoli), castagnoli, b[8:])
}

// v1Entry encodes an entry as the previous release did: CRC over the
// bytes after the header only.
func v1Entry(flags, codecID byte, gen uint64, soft time.Time, payload []byte) []byte {
	b := []byte{0xC5, 1, flags, codecID, 0, 0, 0, 0}
	b = binary.AppendUvarint(b, gen)
	if flags&0x04 != 0 {
		b = binary.BigEndian.AppendUint64(b, uint64(soft.UnixMilli()))
	}
	b = append(b, payload...)
	binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(b[8:], castagnoli))
	return b
}

func FuzzParse(f *testing.F) {
	f.Add(format.Entry{Codec: 1, Generation: 3, Payload: []byte("payload")}.Append(nil))
	f.Add(format.Entry{Negative: true, SoftExpiry: time.UnixMilli(5), Payload: []byte{0}}.Append(nil))
	f.Add(format.Entry{Tombstone: true, Expiry: time.UnixMilli(5), Payload: []byte("nonce123")}.Append(nil))
	f.Add(v1Entry(0x04, 0, 1, time.UnixMilli(5), []byte("x")))
	f.Add([]byte{0xC5, 2, 4, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := format.Parse(b)
		if err != nil {
			if errors.Is(err, format.ErrNewerEntry) == errors.Is(err, format.ErrCorruptEntry) {
				t.Fatalf("error %v is neither newer nor corrupt, or both", err)
			}
			return
		}
		if b[1] != 2 {
			return // v1: Append writes the current version
		}
		// Whatever parses re-encodes to the same bytes.
		if again := e.Append(nil); !bytes.Equal(again, b) {
			t.Fatalf("parse then append changed the bytes:\n%x\n%x", b, again)
		}
	})
}

// equal compares entries, times by instant (the format keeps
// milliseconds, not the monotonic clock or the location).
func equal(a, b format.Entry) bool {
	return a.Version == b.Version && a.Negative == b.Negative && a.Tombstone == b.Tombstone &&
		a.Compressed == b.Compressed && a.Codec == b.Codec && a.Generation == b.Generation &&
		a.SoftExpiry.Equal(b.SoftExpiry) && a.Expiry.Equal(b.Expiry) && bytes.Equal(a.Payload, b.Payload)
}

var (
	timeZero time.Time
	timeA    = time.UnixMilli(1_700_000_000_000)
	timeB    = time.UnixMilli(1_700_000_060_000)
)

// BenchmarkAppend is the cost of encoding one item into a reused buffer.
func BenchmarkAppend(b *testing.B) {
	ent := format.Entry{Codec: 2, Generation: 42, Expiry: timeB, Payload: []byte(`{"id":42,"name":"Widget 42"}`)}
	buf := make([]byte, 0, ent.Size())
	b.ReportAllocs()
	for b.Loop() {
		buf = ent.Append(buf[:0])
	}
}

// BenchmarkParse is the cost of decoding one item.
func BenchmarkParse(b *testing.B) {
	raw := format.Entry{Codec: 2, Generation: 42, Expiry: timeB, Payload: []byte(`{"id":42,"name":"Widget 42"}`)}.Append(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := format.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
