package gobtext

import (
	"bytes"
	"encoding/gob"
	"strconv"
	"strings"
	"testing"
)

// fuzzValue is what FuzzText has encoding/gob write: one field of each
// kind the fuzzer can fill.
type fuzzValue struct {
	I int64
	U uint64
	F float64
	S string
	B []byte
	T bool
	L []string
	M map[string]int64
}

// want is the text Text must give for v: gob leaves out zero fields.
func (v fuzzValue) want() string {
	var parts []string
	add := func(name, text string) { parts = append(parts, name+": "+text) }
	if v.I != 0 {
		add("I", strconv.FormatInt(v.I, 10))
	}
	if v.U != 0 {
		add("U", strconv.FormatUint(v.U, 10))
	}
	if v.F != 0 {
		add("F", strconv.FormatFloat(v.F, 'g', -1, 64))
	}
	if v.S != "" {
		add("S", strconv.Quote(v.S))
	}
	if len(v.B) != 0 {
		add("B", "[]byte("+strconv.Quote(string(v.B))+")")
	}
	if v.T {
		add("T", "true")
	}
	if len(v.L) != 0 {
		q := make([]string, len(v.L))
		for i, s := range v.L {
			q[i] = strconv.Quote(s)
		}
		add("L", "["+strings.Join(q, ", ")+"]")
	}
	if len(v.M) != 0 {
		for k, x := range v.M { // one pair: the order of several is gob's
			add("M", "{"+strconv.Quote(k)+": "+strconv.FormatInt(x, 10)+"}")
		}
	}
	return "fuzzValue{" + strings.Join(parts, ", ") + "}"
}

// FuzzText encodes values with encoding/gob and checks that Text reads
// them back as their text, and that any damage to the stream is an error
// or a text, never a panic or a hang.
func FuzzText(f *testing.F) {
	f.Add(int64(42), uint64(7), 1.5, "alice", []byte("r\x00"), true, "a", "k", int64(1), uint16(3))
	f.Add(int64(-1), uint64(1<<63), -0.25, "", []byte{}, false, "", "", int64(0), uint16(0))
	f.Add(int64(1<<62), uint64(0), 1e300, "é\n\"", []byte{0xff}, true, "{", "}", int64(-9), uint16(500))
	f.Fuzz(func(t *testing.T, i int64, u uint64, fl float64, s string, b []byte, tr bool, l0, mk string, mv int64, damage uint16) {
		v := fuzzValue{I: i, U: u, F: fl, S: s, B: b, T: tr}
		if fl != fl { // NaN: its text is "NaN", but gob may carry any NaN payload
			v.F = 0
		}
		if l0 != "" {
			v.L = []string{l0, s}
		}
		if mk != "" || mv != 0 {
			v.M = map[string]int64{mk: mv}
		}
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(v); err != nil {
			t.Skip(err)
		}
		data := buf.Bytes()
		got, err := Text(data, 0)
		if err != nil {
			t.Fatalf("Text of encoding/gob's output: %v", err)
		}
		if want := v.want(); got != want {
			t.Fatalf("Text =\n  %s\nwant\n  %s", got, want)
		}
		// Damage the stream: an error or a text, never a panic.
		d := bytes.Clone(data)
		d[int(damage)%len(d)] ^= byte(damage>>8) | 1
		_, _ = Text(d, 0)
		_, _ = Text(data[:int(damage)%len(data)], 0)
	})
}
