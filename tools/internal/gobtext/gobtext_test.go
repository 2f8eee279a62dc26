package gobtext

import (
	"bytes"
	"encoding/gob"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/codec"
)

type gobUser struct {
	Name   string
	Age    int
	Score  float64
	Admin  bool
	Tags   []string
	Meta   map[string]int
	Seen   time.Time
	Raw    []byte
	Next   *gobUser
	Any    any
	Pair   [2]uint8
	secret string // unexported: gob leaves it out, and so must the preview
}

type gobShape struct{ R float64 }

func init() {
	gob.Register(gobShape{})
	gob.Register(int64(0))
}

func TestGobText(t *testing.T) {
	seen := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"int", 42, "42"},
		{"negative", -7, "-7"},
		{"uint", uint(7), "7"},
		{"string", "hello \"you\"", `"hello \"you\""`},
		{"bool", true, "true"},
		{"float", 1.5, "1.5"},
		{"complex", complex(1, -2), "(1-2i)"},
		{"bytes", []byte("ab\x00"), `[]byte("ab\x00")`},
		{"slice", []int{1, 2, 3}, "[1, 2, 3]"},
		{"map", map[string]bool{"a": true}, `{"a": true}`},
		{"time", seen, "2024-05-01T10:00:00Z"},
		{"gob encoder", big.NewInt(258), "encoded(0x020102)"}, // gob sends no name for a GobEncoder
		{"gob encoder field", struct{ N *big.Int }{big.NewInt(258)}, "struct{N: encoded(0x020102)}"},
		{"struct", gobUser{
			Name: "alice", Age: 30, Score: 0.5, Admin: true,
			Tags: []string{"a", "b"}, Meta: map[string]int{"k": 1}, Seen: seen,
			Raw: []byte("r"), Next: &gobUser{Name: "bob"}, Any: gobShape{R: 2}, Pair: [2]uint8{1, 2},
		}, `gobUser{Name: "alice", Age: 30, Score: 0.5, Admin: true, Tags: ["a", "b"], Meta: {"k": 1}, Seen: 2024-05-01T10:00:00Z, Raw: []byte("r"), Next: gobUser{Name: "bob", Pair: [0, 0]}, Any: gobShape{R: 2}, Pair: [1, 2]}`},
		{"interface int", struct{ X any }{int64(5)}, `struct{X: int64(5)}`},
		{"slice of structs", []gobShape{{1}, {2}}, "[gobShape{R: 1}, gobShape{R: 2}]"},
		{"zero struct", gobUser{}, "gobUser{Pair: [0, 0]}"}, // gob always sends arrays,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := codec.Gob.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Text(data, 0)
			if err != nil {
				t.Fatalf("Text: %v", err)
			}
			if got != tt.want {
				t.Errorf("Text =\n  %s\nwant\n  %s", got, tt.want)
			}
		})
	}
}

func TestGobTextTruncates(t *testing.T) {
	data, err := codec.Gob.Marshal(strings.Repeat("x", 1000))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Text(data, 50)
	if err != nil || !strings.HasSuffix(got, "…") || len(got) > 1100 {
		t.Fatalf("Text = %q, %v; want a truncated text", got, err)
	}
}

// TestGobTextNeverPanics feeds every prefix and some damaged copies of a
// real stream: each must be an error or a text, never a panic.
func TestGobTextNeverPanics(t *testing.T) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(gobUser{Name: "a", Tags: []string{"x"}, Meta: map[string]int{"k": 1}, Any: gobShape{1}}); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	for i := range data {
		_, _ = Text(data[:i], 0)
		d := bytes.Clone(data)
		d[i] ^= 0xff
		_, _ = Text(d, 0)
		d[i] = 0x80
		_, _ = Text(d, 0)
	}
	if _, err := Text([]byte("not gob at all"), 0); err == nil {
		t.Error("Text of text: no error")
	}
}
