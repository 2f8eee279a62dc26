package core

import (
	"context"
	"testing"
	"time"
)

// A driver may ask a bounded context's Err, Done or Value a moment after
// the call that used it returned and released it (radix's connection
// writer does): that must never panic, whether the context went back to
// the pool or was handed to the next call.
func TestReleasedBoundIsSafeToAsk(t *testing.T) {
	d := newDeadlines(time.Second)
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKeyTest{}, "v"))
	defer cancel()
	ctx, release := d.bound(parent, time.Now().UnixNano())
	release()
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err of a released context that did not end = %v", err)
	}
	_ = ctx.Done()
	_ = ctx.Value(ctxKeyTest{})
	// Handed to the next call, and released again.
	next, release2 := d.bound(parent, time.Now().UnixNano())
	_ = ctx.Err()
	release2()
	_ = next.Err()
}

type ctxKeyTest struct{}
