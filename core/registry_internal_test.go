package core

import (
	"context"
	"runtime"
	"testing"
)

// A Memo the program dropped must not stay reachable from its Manager.
func TestRegistryForgetsDroppedFunctions(t *testing.T) {
	m := New(WithNearCache(10, 1e9))
	for i := 0; i < 100; i++ {
		Memoize(m, "dropped", func(context.Context, int) (int, error) { return i, nil })
	}
	kept := Memoize(m, "dropped", func(context.Context, int) (int, error) { return 0, nil })
	for i := 0; i < 5; i++ {
		runtime.GC()
	}
	if n := len(m.holders(m.cfg.prefix + ":dropped")); n != 1 {
		t.Fatalf("%d functions registered, want only the one still used", n)
	}
	Memoize(m, "other", func(context.Context, int) (int, error) { return 0, nil })
	runtime.GC()
	m.near.add(weakEngine[int]{}) // prunes
	m.near.mu.RLock()
	n := len(m.near.caches)
	m.near.mu.RUnlock()
	if n > 2 {
		t.Fatalf("the near hub keeps %d caches, want the live one (and the probe)", n)
	}
	runtime.KeepAlive(kept)
}
