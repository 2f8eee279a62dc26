package radix_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

// TestSlotMoves runs the slot-moves case every driver shares (32 callers
// on keys of one hash slot while it migrates to another primary of a
// cluster of the case's own and back, twice), with auto-pipelining on
// (the default) and off: batches formed for the node that owned the slot
// meet ASK and MOVED, and no command is lost or answered with another's
// reply.
func TestSlotMoves(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := "on"
		if !on {
			name = "off"
		}
		t.Run(name, func(t *testing.T) {
			conntest.RunSlotMoves(t, func(t *testing.T, addrs []string) conn.Driver {
				d, err := radix.Open(context.Background(), "redis+cluster://"+strings.Join(addrs, ","), radix.WithAutoPipeline(on))
				must(t, err)
				return d
			})
		})
	}
}
