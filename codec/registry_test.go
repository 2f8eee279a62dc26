package codec_test

import (
	"errors"
	"testing"

	"github.com/redcache/redcache/codec"
)

func TestNames(t *testing.T) {
	cases := []struct {
		c    codec.Codec
		name string
		id   byte // 0: none
	}{
		{codec.Gob, "gob", 1},
		{codec.JSON, "json", 2},
		{codec.Raw, "raw", 3},
		{codec.Compress(codec.Gob), "gob+flate", 0x81},
		{codec.Compress(codec.JSON, codec.WithLevel(9), codec.WithThreshold(0)), "json+flate", 0x82},
		{codec.Compress(codec.Raw), "raw+flate", 0x83},
		{codec.Compress(codec.Compress(codec.Gob)), "gob+flate+flate", 0},
		{upper{}, "upper", 0},
		{codec.Compress(upper{}), "upper+flate", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.Name(); got != tc.name {
				t.Errorf("Name() = %q, want %q", got, tc.name)
			}
			id, ok := codec.ID(tc.c)
			if ok != (tc.id != 0) || id != tc.id {
				t.Errorf("ID() = %#x, %v, want %#x", id, ok, tc.id)
			}
			byName, err := codec.ByName(tc.name)
			if err != nil {
				t.Fatalf("ByName(%q): %v", tc.name, err)
			}
			if byName.Name() != tc.name {
				t.Errorf("ByName(%q).Name() = %q", tc.name, byName.Name())
			}
			if tc.id == 0 {
				return
			}
			byID, err := codec.ByID(tc.id)
			if err != nil {
				t.Fatalf("ByID(%#x): %v", tc.id, err)
			}
			if byID.Name() != tc.name {
				t.Errorf("ByID(%#x).Name() = %q, want %q", tc.id, byID.Name(), tc.name)
			}
			// What one variant wrote, the one found by name or ID reads.
			data, err := tc.c.Marshal("hello, registry")
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []codec.Codec{byName, byID} {
				var s string
				if err := r.Unmarshal(data, &s); err != nil || s != "hello, registry" {
					t.Errorf("%s: %q, %v", r.Name(), s, err)
				}
			}
		})
	}
	if must(codec.ByName("gob")) != codec.Gob || must(codec.ByID(1)) != codec.Gob {
		t.Errorf("ByName/ByID do not return the package's Gob")
	}
	if must(codec.ByName("gob+flate")) != codec.Compress(codec.Gob) {
		t.Errorf("two default Compress(Gob) are not equal")
	}
}

func must(c codec.Codec, err error) codec.Codec {
	if err != nil {
		panic(err)
	}
	return c
}

func TestUnknown(t *testing.T) {
	for _, name := range []string{"", "zstd", "gob+zstd", "+flate", "nope+flate", "GOB"} {
		if c, err := codec.ByName(name); !errors.Is(err, codec.ErrUnknownCodec) {
			t.Errorf("ByName(%q) = %v, %v, want ErrUnknownCodec", name, c, err)
		}
	}
	for _, id := range []byte{0, 4, 0x7f, 0x80, 0x84, 0xff} {
		if c, err := codec.ByID(id); !errors.Is(err, codec.ErrUnknownCodec) {
			t.Errorf("ByID(%#x) = %v, %v, want ErrUnknownCodec", id, c, err)
		}
	}
}

func TestRegisterPanics(t *testing.T) {
	cases := []struct {
		name string
		c    codec.Codec
	}{
		{"nil", nil},
		{"taken built-in", named("gob")},
		{"taken", upper{}},
		{"empty", named("")},
		{"plus", named("a+b")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register did not panic")
				}
			}()
			codec.Register(tc.c)
		})
	}
}

// upper is a codec of a program's own: Raw for strings, stored upper-case.
type upper struct{}

func init() { codec.Register(upper{}) }

func (upper) Name() string { return "upper" }

func (upper) Marshal(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, codec.ErrUnsupportedType
	}
	return []byte(s), nil
}

func (upper) Unmarshal(data []byte, v any) error { return codec.Raw.Unmarshal(data, v) }

// named is a codec with any name, for Register's checks.
type named string

func (n named) Name() string                     { return string(n) }
func (named) Marshal(any) ([]byte, error)        { return nil, nil }
func (named) Unmarshal(data []byte, v any) error { return nil }
