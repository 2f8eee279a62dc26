package conn_test

import (
	"testing"

	"github.com/redcache/redcache/conn"
)

func TestSlot(t *testing.T) {
	// Values from the Redis Cluster specification and from CLUSTER KEYSLOT.
	tests := []struct {
		key  string
		want uint16
	}{
		{"", 0},
		{"123456789", 0x31C3 % conn.SlotCount}, // the CRC16-XMODEM check value
		{"foo", 12182},
		{"bar", 5061},
		{"hello", 866},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"user1000", 3443},
		{"foo{}{bar}", 8363},                // empty tag: the whole key is hashed
		{"foo{{bar}}zap", 4015},             // the tag is "{bar"
		{"foo{bar}{zap}", conn.Slot("bar")}, // only the first tag counts
		{"{", conn.Slot("{")},
		{"}{", conn.Slot("}{")},
	}
	for _, tt := range tests {
		if got := conn.Slot(tt.key); got != tt.want {
			t.Errorf("conn.Slot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	if conn.Slot("foo{}{bar}") == conn.Slot("bar") {
		t.Errorf("an empty hash tag must hash the whole key")
	}
}
