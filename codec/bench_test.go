package codec_test

import (
	"bytes"
	"compress/flate"
	"encoding/gob"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/codec"
)

// user is a typical cached record; benchUser encodes to about 1 KiB with
// gob and json.
type user struct {
	ID        int64
	Name      string
	Email     string
	Created   time.Time
	Admin     bool
	Tags      []string
	Scores    []float64
	Attrs     map[string]string
	Address   address
	Bio       string
	Followers []int64
}

type address struct {
	Street, City, Zip, Country string
}

func benchUser(i int) user {
	return user{
		ID:        int64(1000 + i),
		Name:      fmt.Sprintf("User Number %d", i),
		Email:     fmt.Sprintf("user%d@example.com", i),
		Created:   time.Date(2024, 5, 6, 7, 8, 9, i, time.UTC),
		Tags:      []string{"alpha", "beta", "gamma", "delta"},
		Scores:    []float64{1.5, 2.25, 3.125, 99.5, 1e-3},
		Attrs:     map[string]string{"plan": "pro", "lang": "en", "theme": "dark", "tz": "Europe/Paris"},
		Address:   address{"1 Long Street Name", "Springfield", "12345", "US"},
		Bio:       prose(i, 75),
		Followers: []int64{1, 22, 333, 4444, 55555, 666666, 7777777, 88888888},
	}
}

var words = strings.Fields(`the of and to in is it that for on with as was at by
	cache redis value key expiry stale fresh memoize function call result query
	database page list item user order payment session token request response
	server client network latency timeout error retry cluster shard replica
	primary node slot hash string number time date year month week day hour
	minute second quick brown fox jumps over lazy dog lorem ipsum dolor sit
	amet consectetur adipiscing elit sed do eiusmod tempor incididunt labore`)

// prose returns n pseudo-random words, seeded by seed: text that compresses
// about as well as English.
func prose(seed, n int) string {
	var sb strings.Builder
	x := uint32(seed)*2654435761 + 1
	for i := range n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(words[x%uint32(len(words))])
	}
	return sb.String()
}

func BenchmarkMarshal(b *testing.B) {
	u := benchUser(1)
	raw := make([]byte, 1024)
	for _, c := range []codec.Codec{codec.Gob, codec.JSON, codec.Raw} {
		var v any = u
		if c == codec.Raw {
			v = raw
		}
		data, err := c.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.Name(), func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(data)), "bytes")
			for range b.N {
				if _, err := c.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	u := benchUser(1)
	for _, c := range []codec.Codec{codec.Gob, codec.JSON, codec.Raw} {
		var v any = u
		if c == codec.Raw {
			v = make([]byte, 1024)
		}
		data, err := c.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.Name(), func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(data)), "bytes")
			for range b.N {
				var err error
				if c == codec.Raw {
					var out []byte
					err = c.Unmarshal(data, &out)
				} else {
					var out user
					err = c.Unmarshal(data, &out)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompress marshals and unmarshals a 16 KiB value (24 users, as
// gob) with compression off and at several levels; the bytes metric is the
// stored size.
func BenchmarkCompress(b *testing.B) {
	users := make([]user, 24)
	for i := range users {
		users[i] = benchUser(i)
	}
	variants := []struct {
		name string
		c    codec.Codec
	}{
		{"off", codec.Gob},
		{"BestSpeed", codec.Compress(codec.Gob, codec.WithLevel(flate.BestSpeed))},
		{"Default", codec.Compress(codec.Gob, codec.WithLevel(flate.DefaultCompression))},
		{"Best", codec.Compress(codec.Gob, codec.WithLevel(flate.BestCompression))},
		{"HuffmanOnly", codec.Compress(codec.Gob, codec.WithLevel(flate.HuffmanOnly))},
	}
	for _, vr := range variants {
		data, err := vr.c.Marshal(users)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("Marshal/"+vr.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(data)), "bytes")
			for range b.N {
				if _, err := vr.c.Marshal(users); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Unmarshal/"+vr.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(data)), "bytes")
			for range b.N {
				var out []user
				if err := vr.c.Unmarshal(data, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompressSmall shows what Compress costs a value below the
// threshold: one byte and a copy.
func BenchmarkCompressSmall(b *testing.B) {
	c := codec.Compress(codec.Gob)
	v := item{Name: "small", Tags: []string{"a"}}
	data, _ := c.Marshal(v)
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := c.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var out item
			if err := c.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// product has the shape of the value the comparison harness caches
// (tools/internal/bench.Product): about 1 KiB once encoded, most of it a
// description.
type product struct {
	ID          int64
	SKU         string
	Name        string
	Price       float64
	Stock       int
	Tags        []string
	Description string
	UpdatedAt   time.Time
}

func benchProduct(id int) product {
	return product{
		ID:          int64(id),
		SKU:         fmt.Sprintf("SKU-%08d", id),
		Name:        "steel widget",
		Price:       123.45,
		Stock:       17,
		Tags:        []string{"garden", "modern", "quiet"},
		Description: prose(id, 110),
		UpdatedAt:   time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Minute),
	}
}

// streamGob is Gob as earlier releases ran it, for BenchmarkProduct to
// compare with: a new gob.Encoder and gob.Decoder for every value.
type streamGob struct{}

func (streamGob) Name() string { return "gob-stream" }

func (streamGob) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (streamGob) Unmarshal(data []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}

// BenchmarkProduct marshals and unmarshals the harness's 1 KiB product with
// Gob and JSON, and with a new gob Encoder and Decoder per value as earlier
// releases did: the cost a cache hit pays to decode and a miss to encode.
// On a busy machine the cpu-ns/op metric (the process's CPU time, the
// GC's included) moves less than ns/op.
func BenchmarkProduct(b *testing.B) {
	p := benchProduct(7)
	for _, c := range []codec.Codec{codec.Gob, streamGob{}, codec.JSON} {
		data, err := c.Marshal(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("Marshal/"+c.Name(), func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(data)), "bytes")
			start := cpuTime()
			for range b.N {
				if _, err := c.Marshal(p); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
		b.Run("Unmarshal/"+c.Name(), func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(data)), "bytes")
			start := cpuTime()
			for range b.N {
				var out product
				if err := c.Unmarshal(data, &out); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}
}

// reportCPU reports the CPU time per op since start, where cpuTime knows it.
func reportCPU(b *testing.B, start time.Duration) {
	if start >= 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}
