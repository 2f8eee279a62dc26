package memory_test

import (
	"testing"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/memory"
)

// TestConformance runs the suite every driver passes. The drivers it asks
// for share one database, as clients of one server do: the suite checks
// that closing one leaves the others working on the same data.
func TestConformance(t *testing.T) {
	var first *memory.Driver
	conntest.Run(t, func(t *testing.T) conn.Driver {
		if first == nil {
			first = memory.New()
			return first
		}
		return first.Connect()
	})
}

// TestErrors: the driver's own errors carry its prefix and wrap conn's
// sentinels, as every driver's do. It has no Open.
func TestErrors(t *testing.T) {
	conntest.RunErrors(t, conntest.Errors{
		Prefix: "redcache/memory: ",
		Driver: func(t *testing.T) conn.Driver { return memory.New() },
	})
}
