package format_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/redcache/redcache/core/format"
)

func TestNegativeRoundTrip(t *testing.T) {
	for _, want := range []format.Negative{
		{},
		{Msg: "boom"},
		{Sentinel: "sql: no rows in result set", Msg: "user 42: sql: no rows in result set"},
		{Sentinel: string(make([]byte, 300)), Msg: "long name"},
	} {
		p := want.Append(nil)
		if len(p) != want.Size() {
			t.Fatalf("Size = %d, Append wrote %d bytes", want.Size(), len(p))
		}
		b := format.Entry{Negative: true, Codec: 1, Generation: 2, Payload: p}.Append(nil)
		ent, err := format.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := format.ParseNegative(ent)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}

func TestNegativeV1ReadsTheIndex(t *testing.T) {
	p := binary.AppendUvarint(nil, 2)
	p = append(p, "not found"...)
	ent, err := format.Parse(v1Entry(0x01, 1, 4, timeZero, p))
	if err != nil {
		t.Fatal(err)
	}
	got, err := format.ParseNegative(ent)
	if err != nil {
		t.Fatal(err)
	}
	if want := (format.Negative{Index: 2, Msg: "not found"}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestNegativeRejects(t *testing.T) {
	tests := map[string]format.Entry{
		"not negative":   {Payload: []byte{0}},
		"empty payload":  {Version: 2, Negative: true},
		"bad varint":     {Version: 2, Negative: true, Payload: []byte{0xff}},
		"name past end":  {Version: 2, Negative: true, Payload: []byte{5, 'a'}},
		"v1, bad varint": {Version: 1, Negative: true, Payload: []byte{0x80}},
		"v1, no payload": {Version: 1, Negative: true},
	}
	for name, ent := range tests {
		if _, err := format.ParseNegative(ent); !errors.Is(err, format.ErrCorruptEntry) {
			t.Errorf("%s: ParseNegative = %v, want ErrCorruptEntry", name, err)
		}
	}
}

// Per item encoding is cheap: into a buffer with room, Append allocates
// nothing, and Parse never does.
func TestAppendAndParseDoNotAllocate(t *testing.T) {
	ent := format.Entry{Codec: 2, Generation: 1 << 20, SoftExpiry: timeA, Expiry: timeB, Payload: []byte(`{"id":42}`)}
	buf := make([]byte, 0, 16*ent.Size())
	var parsed format.Entry
	allocs := testing.AllocsPerRun(100, func() {
		buf = buf[:0]
		for range 16 {
			buf = ent.Append(buf)
		}
		var err error
		if parsed, err = format.Parse(buf[:ent.Size()]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Append into a sized buffer and Parse: %v allocations per run, want 0", allocs)
	}
	if !equal(withVersion(ent), parsed) {
		t.Errorf("parsed %+v, want %+v", parsed, ent)
	}
}

func withVersion(e format.Entry) format.Entry {
	e.Version = format.Version
	return e
}
