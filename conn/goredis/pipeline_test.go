package goredis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
)

// TestPipelineFaults runs the auto-pipelining fault cases every driver
// shares (a stall and a kill under 64 callers, mid-batch), with
// auto-pipelining on (the default) and off.
func TestPipelineFaults(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := "on"
		if !on {
			name = "off"
		}
		t.Run(name, func(t *testing.T) {
			conntest.RunPipelineFaults(t, func(t *testing.T, addr string) conn.Driver {
				d, err := goredis.Open(context.Background(), "redis://"+addr, goredis.WithAutoPipeline(on))
				must(t, err)
				return d
			})
		})
	}
}

// TestInterleaved runs the interleaved case (48 callers whose commands
// share batches, mixed with callers that give up within 2 ms) on a single
// server and on a cluster, with auto-pipelining on and off.
func TestInterleaved(t *testing.T) {
	servers := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"Standalone", func(t *testing.T) string { return "redis://" + conntest.RedisAddr(t) }},
		{"Cluster", func(t *testing.T) string {
			return "redis+cluster://" + strings.Join(conntest.ClusterAddrs(t), ",")
		}},
	}
	for _, srv := range servers {
		for _, on := range []bool{true, false} {
			name := srv.name + "/on"
			if !on {
				name = srv.name + "/off"
			}
			t.Run(name, func(t *testing.T) {
				conntest.RunInterleaved(t, func(t *testing.T) conn.Driver {
					d, err := goredis.Open(context.Background(), srv.url(t), goredis.WithAutoPipeline(on))
					must(t, err)
					return d
				})
			})
		}
	}
}

// TestAutoPipelineSlotMoves runs the slot-moves case every driver shares
// (32 callers on keys of one hash slot while it migrates to another
// primary of a cluster of the case's own and back, twice), with
// auto-pipelining on and off: batches formed for the node that owned the
// slot meet ASK and MOVED, and no command is lost or answered with
// another's reply.
func TestAutoPipelineSlotMoves(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := "on"
		if !on {
			name = "off"
		}
		t.Run(name, func(t *testing.T) {
			conntest.RunSlotMoves(t, func(t *testing.T, addrs []string) conn.Driver {
				d, err := goredis.Open(context.Background(), "redis+cluster://"+strings.Join(addrs, ","), goredis.WithAutoPipeline(on))
				must(t, err)
				return d
			})
		})
	}
}
