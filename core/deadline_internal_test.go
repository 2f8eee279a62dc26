package core

import (
	"context"
	"testing"
	"time"
)

// A shared deadline never lets a call run past its timeout: calls that
// start anywhere in a slice get at most the timeout, and at least the
// timeout less a slice.
func TestSharedDeadlineNeverOverrunsTheTimeout(t *testing.T) {
	const timeout = 80 * time.Millisecond
	d := newDeadlines(timeout)
	base := time.Now().UnixNano()
	for _, offset := range []time.Duration{0, time.Millisecond, timeout / 16, timeout/8 - time.Microsecond} {
		now := base + int64(offset)
		ctx, release := d.bound(context.Background(), now)
		dl, ok := ctx.Deadline()
		release()
		if !ok {
			t.Fatalf("offset %v: no deadline", offset)
		}
		got := time.Duration(dl.UnixNano() - now)
		if got > timeout || got < timeout-timeout/8 {
			t.Errorf("a call %v into the slice got %v; want between %v and %v", offset, got, timeout-timeout/8, timeout)
		}
	}
}
