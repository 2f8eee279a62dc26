package codec_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"math/rand"
	"strings"
	"testing"

	"github.com/redcache/redcache/codec"
)

func TestCompressMarker(t *testing.T) {
	text := strings.Repeat("compressible text, ", 200) // 3800 bytes
	random := make([]byte, 4000)
	rand.New(rand.NewSource(2)).Read(random)
	cases := []struct {
		name       string
		c          codec.Codec
		in         any
		compressed bool
	}{
		{"small", codec.Compress(codec.Raw), "small", false},
		{"empty", codec.Compress(codec.Raw), "", false},
		{"below threshold", codec.Compress(codec.Raw), text[:codec.DefaultThreshold-1], false},
		{"at threshold", codec.Compress(codec.Raw), text[:codec.DefaultThreshold], true},
		{"large", codec.Compress(codec.Raw), text, true},
		{"incompressible", codec.Compress(codec.Raw), random, false},
		{"threshold 0", codec.Compress(codec.Raw, codec.WithThreshold(0)), strings.Repeat("a", 100), true},
		{"threshold 0 tiny", codec.Compress(codec.Raw, codec.WithThreshold(0)), "a", false},
		{"negative threshold", codec.Compress(codec.Raw, codec.WithThreshold(-5)), strings.Repeat("a", 100), true},
		{"high threshold", codec.Compress(codec.Raw, codec.WithThreshold(1<<20)), text, false},
		{"nil option", codec.Compress(codec.Raw, nil, codec.WithThreshold(0), nil), strings.Repeat("a", 100), true},
		{"huffman only", codec.Compress(codec.Raw, codec.WithLevel(flate.HuffmanOnly)), text, true},
		{"level 0 (stored blocks)", codec.Compress(codec.Raw, codec.WithLevel(flate.NoCompression)), text, false},
		{"best", codec.Compress(codec.Raw, codec.WithLevel(flate.BestCompression)), text, true},
		{"flate default", codec.Compress(codec.Raw, codec.WithLevel(flate.DefaultCompression)), text, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inner, err := codec.Raw.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			data, err := tc.c.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if tc.compressed {
				if data[0] != 0x01 || len(data) >= len(inner) {
					t.Errorf("marker %#x, %d bytes for %d: want compressed", data[0], len(data), len(inner))
				}
			} else if data[0] != 0x00 || !bytes.Equal(data[1:], inner) {
				t.Errorf("marker %#x, %d bytes for %d: want stored", data[0], len(data), len(inner))
			}
			// Any Compress of Raw reads it.
			var got []byte
			if err := codec.Compress(codec.Raw).Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, inner) {
				t.Errorf("round trip changed the value")
			}
		})
	}
}

func TestCompressBadLevel(t *testing.T) {
	for _, level := range []int{-3, 10, 100} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Compress with level %d did not panic", level)
				}
			}()
			codec.Compress(codec.Gob, codec.WithLevel(level))
		}()
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Compress(nil) did not panic")
		}
	}()
	codec.Compress(nil)
}

// deflate builds a compressed payload by hand: marker, recorded length,
// stream.
func deflate(t *testing.T, p []byte, recorded int) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteByte(0x01)
	b.Write(binary.AppendUvarint(nil, uint64(recorded)))
	w, err := flate.NewWriter(&b, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(p)
	w.Close()
	return b.Bytes()
}

func TestCompressCorrupt(t *testing.T) {
	p := []byte(strings.Repeat("payload ", 300))
	good := deflate(t, p, len(p))
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0xff
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", []byte{}},
		{"nil", nil},
		{"unknown marker", append([]byte{0x02}, p...)},
		{"marker only", []byte{0x01}},
		{"bad length", []byte{0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"impossible length", deflate(t, []byte("x"), 1<<40)},
		{"huge length no stream", append([]byte{0x01}, binary.AppendUvarint(nil, 1<<62)...)},
		{"recorded too long", deflate(t, p, len(p)+1)},
		{"recorded too short", deflate(t, p, len(p)-1)},
		{"truncated", good[:len(good)-4]},
		{"trailing bytes", append(bytes.Clone(good), 0)},
		{"flipped", flipped},
		{"not flate", append([]byte{0x01, 10}, bytes.Repeat([]byte{0xff}, 10)...)},
	}
	c := codec.Compress(codec.Raw)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			err := c.Unmarshal(tc.data, &got)
			if !errors.Is(err, codec.ErrDecode) {
				t.Errorf("Unmarshal: %v, want ErrDecode", err)
			}
		})
	}
	var got []byte
	if err := c.Unmarshal(good, &got); err != nil || !bytes.Equal(got, p) {
		t.Errorf("the good payload: %v", err)
	}
}

func TestCompressInnerErrors(t *testing.T) {
	c := codec.Compress(codec.Gob, codec.WithThreshold(0))
	if _, err := c.Marshal(make(chan int)); !errors.Is(err, codec.ErrEncode) {
		t.Errorf("Marshal: %v, want ErrEncode", err)
	}
	data, err := c.Marshal(strings.Repeat("s", 2000))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.Unmarshal(data, &n); !errors.Is(err, codec.ErrDecode) {
		t.Errorf("Unmarshal into the wrong type: %v, want ErrDecode", err)
	}
}

// TestCompressConcurrent shares pooled writers and readers between
// goroutines; run it with -race.
func TestCompressConcurrent(t *testing.T) {
	c := codec.Compress(codec.JSON)
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			for i := range 50 {
				in := strings.Repeat(string(rune('a'+g)), 1000+i*10)
				var data []byte
				if data, err = c.Marshal(in); err != nil {
					break
				}
				var out string
				if err = c.Unmarshal(data, &out); err != nil {
					break
				}
				if out != in {
					err = errors.New("value changed")
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
