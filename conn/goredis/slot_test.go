package goredis

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/redcache/redcache/conn/conntest"
	"github.com/redis/go-redis/v9"
)

func TestSlot(t *testing.T) {
	// Values from the Redis Cluster specification and from CLUSTER KEYSLOT.
	tests := []struct {
		key  string
		want uint16
	}{
		{"", 0},
		{"123456789", 0x31C3 % slotCount}, // the CRC16-XMODEM check value
		{"foo", 12182},
		{"bar", 5061},
		{"hello", 866},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"user1000", 3443},
		{"foo{}{bar}", 8363},           // empty tag: the whole key is hashed
		{"foo{{bar}}zap", 4015},        // the tag is "{bar"
		{"foo{bar}{zap}", slot("bar")}, // only the first tag counts
		{"{", slot("{")},
		{"}{", slot("}{")},
	}
	for _, tt := range tests {
		if got := slot(tt.key); got != tt.want {
			t.Errorf("slot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	if slot("foo{}{bar}") == slot("bar") {
		t.Errorf("an empty hash tag must hash the whole key")
	}
}

func TestSlotMatchesServer(t *testing.T) {
	addrs := conntest.ClusterAddrs(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys := []string{"", "foo", "{user1000}.following", "a{b}c", "{}x", "x{}", "{{a}}", "a{b", "\x00\xff", "ключ"}
	for i := 0; i < 300; i++ {
		b := make([]byte, 1+i%23)
		_, _ = rand.Read(b)
		if i%3 == 0 {
			b[i%len(b)] = '{'
			b[len(b)-1] = '}'
		}
		keys = append(keys, string(b))
	}
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.ClusterKeySlot(ctx, k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if want := cmd.(*redis.IntCmd).Val(); int64(slot(keys[i])) != want {
			t.Errorf("slot(%q) = %d, CLUSTER KEYSLOT = %d", keys[i], slot(keys[i]), want)
		}
	}
}
