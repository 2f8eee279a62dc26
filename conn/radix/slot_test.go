package radix

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/redcache/redcache/conn"
)

func TestSlotKnownValues(t *testing.T) {
	cases := []struct {
		key  string
		want uint16
	}{
		{"foo", 12182},
		{"bar", 5061},
		{"", 0},
		{"123456789", 12739}, // 0x31C3, the CRC16/XMODEM check value
		{"user1000", 3443},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"foo{}{bar}", 8363},    // empty tag: the whole key
		{"foo{{bar}}zap", 4015}, // the first { to the next }: "{bar"
		{"foo{bar}{zap}", 5061}, // only the first tag counts: "bar"
	}
	for _, c := range cases {
		if got := conn.Slot(c.key); got != c.want {
			t.Errorf("conn.Slot(%q) = %d, want %d", c.key, got, c.want)
		}
	}
}

// TestSlotMatchesRadix checks slot against radix's ClusterSlot, which the
// cluster routes by: the two must never disagree.
func TestSlotMatchesRadix(t *testing.T) {
	keys := []string{"a", "{", "}", "{}", "{a", "a}", "{a}", "x{a}y{b}", "{{}}", "{}{a}"}
	for i := 0; i < 2000; i++ {
		b := make([]byte, i%40)
		_, _ = rand.Read(b)
		k := hex.EncodeToString(b)
		if i%3 == 0 {
			k = k[:len(k)/2] + "{" + k[len(k)/2:]
		}
		if i%5 == 0 {
			k += "}"
		}
		keys = append(keys, k, string(b))
	}
	for _, k := range keys {
		if got, want := conn.Slot(k), rdx.ClusterSlot([]byte(k)); got != want {
			t.Fatalf("conn.Slot(%q) = %d, radix says %d", k, got, want)
		}
	}
}

func BenchmarkSlot(b *testing.B) {
	key := "redcache:users.get:7d0f3c2a9b1e4f6a8c5d2e1f0a9b8c7d6e5f4a3b"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = conn.Slot(key)
	}
}
