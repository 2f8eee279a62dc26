package radix_test

import (
	"testing"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
)

// TestInterleaved runs the interleaved case (48 callers whose commands
// share connections, mixed with callers that give up within 2 ms) on a
// single server and on a cluster: no caller that gives up fails another's
// command.
func TestInterleaved(t *testing.T) {
	t.Run("Standalone", func(t *testing.T) {
		addr := conntest.RedisAddr(t)
		conntest.RunInterleaved(t, func(t *testing.T) conn.Driver { return openT(t, "redis://"+addr) })
	})
	t.Run("Cluster", func(t *testing.T) {
		addrs := conntest.ClusterAddrs(t)
		conntest.RunInterleaved(t, func(t *testing.T) conn.Driver { return openT(t, clusterURL(addrs)) })
	})
}
