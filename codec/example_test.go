package codec_test

import (
	"encoding"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/redcache/redcache/codec"
)

// Profile is the value the examples cache.
type Profile struct {
	Name    string
	Visits  int
	Friends []string
	Seen    time.Time
}

// Gob, the default, stores any Go value with exported fields.
func Example() {
	in := Profile{Name: "Ada", Visits: 3, Friends: []string{"Grace"}, Seen: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}

	data, err := codec.Gob.Marshal(in)
	if err != nil {
		panic(err)
	}
	var out Profile
	if err := codec.Gob.Unmarshal(data, &out); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", out)
	// Output:
	// {Name:Ada Visits:3 Friends:[Grace] Seen:2024-01-02 03:04:05 +0000 UTC}
}

// Gob stores nil, which encoding/gob alone refuses, and gives it back as
// nil; empty slices come back nil too.
func ExampleGob() {
	data, _ := codec.Gob.Marshal((*Profile)(nil))
	p := &Profile{Name: "stale"}
	err := codec.Gob.Unmarshal(data, &p)
	fmt.Println(p, err, len(data))

	data, _ = codec.Gob.Marshal([]string{})
	var s []string
	_ = codec.Gob.Unmarshal(data, &s)
	fmt.Println(s == nil)
	// Output:
	// <nil> <nil> 0
	// true
}

// JSON is readable in redis-cli and by other languages, but decoding into
// an interface gives JSON's types, not Go's.
func ExampleJSON() {
	data, _ := codec.JSON.Marshal(Profile{Name: "Ada", Visits: 3})
	fmt.Println(string(data))

	var generic any
	_ = codec.JSON.Unmarshal(data, &generic)
	fmt.Printf("%T\n", generic.(map[string]any)["Visits"])
	// Output:
	// {"Name":"Ada","Visits":3,"Friends":null,"Seen":"0001-01-01T00:00:00Z"}
	// float64
}

// Raw stores bytes and strings as they are.
func ExampleRaw() {
	data, _ := codec.Raw.Marshal("<html>cached page</html>")
	fmt.Println(string(data))

	var b []byte
	_ = codec.Raw.Unmarshal(nil, &b)
	fmt.Println(b != nil, len(b))

	_, err := codec.Raw.Marshal(42)
	fmt.Println(errors.Is(err, codec.ErrUnsupportedType), err)
	// Output:
	// <html>cached page</html>
	// true 0
	// true redcache: codec: unsupported type: raw: cannot encode int (want []byte or string)
}

// Compress leaves small values alone (one marker byte) and deflates large
// ones.
func ExampleCompress() {
	c := codec.Compress(codec.JSON)
	fmt.Println(c.Name())

	small, _ := c.Marshal("short")
	fmt.Println(small[0], len(small))

	page := strings.Repeat("<li>an item of a long list</li>", 100)
	big, _ := c.Marshal(page)
	fmt.Println(big[0], len(page) > 10*len(big))

	var out string
	err := c.Unmarshal(big, &out)
	fmt.Println(out == page, err)
	// Output:
	// json+flate
	// 0 8
	// 1 true
	// true <nil>
}

// A cache entry can record the codec that wrote it, by ID or by name, so
// that a reader finds the right one.
func ExampleByID() {
	writer := codec.Compress(codec.Gob, codec.WithLevel(9))
	id, ok := codec.ID(writer)
	fmt.Printf("%#x %v\n", id, ok)

	reader, err := codec.ByID(id)
	fmt.Println(reader.Name(), err)

	reader, err = codec.ByName(writer.Name())
	fmt.Println(reader.Name(), err)

	_, err = codec.ByName("msgpack")
	fmt.Println(errors.Is(err, codec.ErrUnknownCodec))
	// Output:
	// 0x81 true
	// gob+flate <nil>
	// gob+flate <nil>
	// true
}

// Corrupt or foreign bytes are an error, never a panic or a wrong value.
func Example_corruptPayload() {
	var p Profile
	err := codec.Gob.Unmarshal([]byte("not gob at all"), &p)
	fmt.Println(errors.Is(err, codec.ErrDecode))

	err = codec.JSON.Unmarshal([]byte(`{"Name": 42}`), &p)
	fmt.Println(errors.Is(err, codec.ErrDecode))
	// Output:
	// true
	// true
}

// binaryCodec stores values that implement encoding.BinaryMarshaler,
// such as netip.Addr, time.Time or a type of your own.
type binaryCodec struct{}

func (binaryCodec) Name() string { return "binary" }

func (binaryCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(encoding.BinaryMarshaler)
	if !ok {
		return nil, fmt.Errorf("%w: %w: binary: %T", codec.ErrEncode, codec.ErrUnsupportedType, v)
	}
	data, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%w: binary: %w", codec.ErrEncode, err)
	}
	return data, nil // MarshalBinary returns a new slice: the caller's
}

func (binaryCodec) Unmarshal(data []byte, v any) error {
	u, ok := v.(encoding.BinaryUnmarshaler)
	if !ok {
		return fmt.Errorf("%w: binary: %T", codec.ErrUnsupportedType, v)
	}
	if err := u.UnmarshalBinary(data); err != nil {
		return fmt.Errorf("%w: binary: %w", codec.ErrDecode, err)
	}
	return nil
}

func init() { codec.Register(binaryCodec{}) }

// A codec of your own implements the three methods, keeps the promises
// documented on Codec, and is registered (in an init function) so that
// ByName finds it, compressed or not.
func Example_customCodec() {
	c, err := codec.ByName("binary+flate")
	if err != nil {
		panic(err)
	}
	data, _ := c.Marshal(netip.MustParseAddr("192.0.2.1"))

	var addr netip.Addr
	err = c.Unmarshal(data, &addr)
	fmt.Println(addr, err)
	// Output:
	// 192.0.2.1 <nil>
}
