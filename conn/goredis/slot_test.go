package goredis

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redis/go-redis/v9"
)

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
		if want := cmd.(*redis.IntCmd).Val(); int64(conn.Slot(keys[i])) != want {
			t.Errorf("conn.Slot(%q) = %d, CLUSTER KEYSLOT = %d", keys[i], conn.Slot(keys[i]), want)
		}
	}
}
