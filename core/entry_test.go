package core_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redcache/redcache/core"
)

func TestEntryRoundTrip(t *testing.T) {
	tests := []core.Entry{
		{Payload: []byte{}},
		{Codec: 1, Generation: 7, Payload: []byte("value")},
		{Negative: true, Codec: 2, Generation: 1 << 40, Payload: []byte("\x00msg")},
		{Compressed: true, Codec: 0x81, SoftExpiry: time.UnixMilli(1_700_000_000_123), Payload: bytes.Repeat([]byte{0xff}, 1000)},
	}
	for _, want := range tests {
		b := want.Append([]byte("prefix-kept"))
		if !bytes.HasPrefix(b, []byte("prefix-kept")) {
			t.Fatal("Append overwrote dst")
		}
		got, err := core.ParseEntry(b[len("prefix-kept"):])
		if err != nil {
			t.Fatalf("ParseEntry: %v", err)
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestEntryRejects(t *testing.T) {
	good := core.Entry{Codec: 1, Generation: 3, Payload: []byte("payload")}.Append(nil)
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := map[string][]byte{
		"nil":           nil,
		"short":         good[:5],
		"bad magic":     mutate(func(b []byte) []byte { b[0] = 'x'; return b }),
		"bad version":   mutate(func(b []byte) []byte { b[1] = 2; return b }),
		"unknown flag":  mutate(func(b []byte) []byte { b[2] = 0x80; return b }),
		"payload flip":  mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }),
		"checksum flip": mutate(func(b []byte) []byte { b[5] ^= 1; return b }),
		"truncated":     good[:len(good)-1],
		"json text":     []byte(`{"a":1}`),
	}
	for name, b := range tests {
		if _, err := core.ParseEntry(b); !errors.Is(err, core.ErrCorruptEntry) {
			t.Errorf("%s: ParseEntry = %v, want ErrCorruptEntry", name, err)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add(core.Entry{Codec: 1, Generation: 3, Payload: []byte("payload")}.Append(nil))
	f.Add(core.Entry{Negative: true, SoftExpiry: time.UnixMilli(5), Payload: []byte{0}}.Append(nil))
	f.Add([]byte{0xC5, 1, 4, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := core.ParseEntry(b)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to the same bytes.
		if again := e.Append(nil); !bytes.Equal(again, b) {
			t.Fatalf("parse then append changed the bytes:\n%x\n%x", b, again)
		}
	})
}
