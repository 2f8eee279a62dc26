//go:build !race

package core

import (
	"context"
	"testing"
	"time"
)

// Bounding a call costs no allocation with a cancellable context (an HTTP
// handler's), with or without values and with a deadline later than the
// timeout, nor with context.Background. (A context of values that cannot
// be cancelled costs one: the pair of it and the shared deadline.) Not
// under the race detector, whose sync.Pool drops objects on purpose.
func TestBoundDoesNotAllocate(t *testing.T) {
	d := newDeadlines(time.Second)
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	later, cancelLater := context.WithTimeout(context.WithValue(cancellable, ctxKey{}, "v"), time.Hour)
	defer cancelLater()
	cases := map[string]context.Context{
		"background":           context.Background(),
		"cancellable":          cancellable,
		"later deadline+value": later,
	}
	for name, ctx := range cases {
		d.bound(ctx, time.Now().UnixNano()) // the first of a slice, or of a pool
		allocs := testing.AllocsPerRun(1000, func() {
			bctx, release := d.bound(ctx, time.Now().UnixNano())
			if bctx.Done() == nil || bctx.Err() != nil {
				t.Fatal("a bounded context must be able to end, and not have ended")
			}
			release()
		})
		// A pool may be emptied by a GC during the run: allow for it.
		if allocs > 0.05 {
			t.Errorf("%s: bound allocates %.2f times per call; want 0", name, allocs)
		}
	}
}
