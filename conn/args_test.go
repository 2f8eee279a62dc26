package conn_test

import (
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

type userID int64
type label string
type blob []byte

func TestFormatArg(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
		ok   bool
	}{
		{"a b", "a b", true},
		{[]byte{0, 'x'}, "\x00x", true},
		{42, "42", true},
		{int8(-8), "-8", true},
		{uint16(65535), "65535", true},
		{uint64(1 << 63), "9223372036854775808", true},
		{1.5, "1.5", true},
		{float32(0.1), "0.1", true},
		{true, "1", true},
		{false, "0", true},
		{1500 * time.Millisecond, "1500", true},
		{time.Microsecond, "1", true}, // rounded up, never 0
		{-2 * time.Millisecond, "-2", true},
		{userID(7), "7", true},
		{label("x"), "x", true},
		{blob("yz"), "yz", true},
		{nil, "", false},
		{struct{}{}, "", false},
		{[]int{1}, "", false},
	} {
		got, ok := conn.FormatArg(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("FormatArg(%#v) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
