package radix

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestWatchStall checks when watchStall calls onStall: never for a call
// that returns in time or has no deadline, a grace after the deadline for
// one that does not, and only once the connection falls silent when it is
// alive.
func TestWatchStall(t *testing.T) {
	wait := func(fired *atomic.Int32, d time.Duration) int32 {
		time.Sleep(d)
		return fired.Load()
	}
	t.Run("returned in time", func(t *testing.T) {
		var fired atomic.Int32
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		watchStall(ctx, nil, func() { fired.Add(1) }).done()
		if n := wait(&fired, 20*time.Millisecond+3*stallGrace); n != 0 {
			t.Fatalf("onStall ran %d times for a call that returned", n)
		}
	})
	t.Run("no deadline", func(t *testing.T) {
		var fired atomic.Int32
		defer watchStall(context.Background(), nil, func() { fired.Add(1) }).done()
		if n := wait(&fired, 3*stallGrace); n != 0 {
			t.Fatalf("onStall ran %d times without a deadline", n)
		}
	})
	for _, name := range []string{"deadline", "cancel"} {
		t.Run(name, func(t *testing.T) {
			var fired atomic.Int32
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if name == "cancel" {
				ctx, cancel = context.WithCancel(context.Background())
				time.AfterFunc(20*time.Millisecond, cancel)
			}
			defer watchStall(ctx, nil, func() { fired.Add(1) }).done()
			if n := wait(&fired, 10*time.Millisecond); n != 0 {
				t.Fatal("onStall ran before the context ended")
			}
			deadline := time.Now().Add(5 * time.Second)
			for fired.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if n := wait(&fired, 3*stallGrace); n != 1 {
				t.Fatalf("onStall ran %d times for a stuck call, want once", n)
			}
		})
	}
	t.Run("alive", func(t *testing.T) {
		var fired atomic.Int32
		var alive atomic.Bool
		alive.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		defer watchStall(ctx, alive.Load, func() { fired.Add(1) }).done()
		if n := wait(&fired, 10*stallGrace); n != 0 {
			t.Fatal("onStall ran while the connection was alive")
		}
		alive.Store(false)
		deadline := time.Now().Add(5 * time.Second)
		for fired.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := fired.Load(); n != 1 {
			t.Fatalf("onStall ran %d times once the connection fell silent, want once", n)
		}
	})
}

// BenchmarkWatchStall measures what the stall watch adds to a call with
// a deadline that returns in time.
func BenchmarkWatchStall(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		watchStall(ctx, nil, func() {}).done()
	}
}
