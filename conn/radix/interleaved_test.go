package radix_test

import (
	"testing"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

// TestInterleaved runs the interleaved case (48 callers whose commands
// share batches or connections, mixed with callers that give up within
// 2 ms) on a single server and on a cluster, with auto-pipelining on and
// off: no caller that gives up fails another's command.
func TestInterleaved(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run("Standalone/"+onOff(on), func(t *testing.T) {
			addr := conntest.RedisAddr(t)
			conntest.RunInterleaved(t, func(t *testing.T) conn.Driver {
				return openT(t, "redis://"+addr, radix.WithAutoPipeline(on))
			})
		})
		t.Run("Cluster/"+onOff(on), func(t *testing.T) {
			addrs := conntest.ClusterAddrs(t)
			conntest.RunInterleaved(t, func(t *testing.T) conn.Driver {
				return openT(t, clusterURL(addrs), radix.WithAutoPipeline(on))
			})
		})
	}
}
