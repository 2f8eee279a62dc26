package core

import (
	"context"
	"errors"
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

type ctxKey struct{}

// A cancellable caller's bounded context is the caller's context in all
// but its deadline: values, cancellation (at once through Err, within a
// slice through Done), and it ends at its own deadline, not before.
func TestBoundCancellable(t *testing.T) {
	const timeout = 400 * time.Millisecond // a slice: 50ms
	d := newDeadlines(timeout)

	t.Run("values and deadline", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
		defer cancel()
		now := time.Now().UnixNano()
		ctx, release := d.bound(parent, now)
		defer release()
		if got := ctx.Value(ctxKey{}); got != "v" {
			t.Errorf("Value = %v; want the caller's", got)
		}
		if dl, ok := ctx.Deadline(); !ok || dl.UnixNano() != now+int64(timeout) {
			t.Errorf("Deadline = %v, %v; want the timeout from the call's start", dl, ok)
		}
	})

	t.Run("ends at its deadline", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		ctx, release := d.bound(parent, start.UnixNano())
		defer release()
		select {
		case <-ctx.Done():
		case <-time.After(10 * timeout):
			t.Fatal("Done not closed at the deadline")
		}
		if took := time.Since(start); took < timeout {
			t.Errorf("ended after %v; want the deadline, %v", took, timeout)
		}
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("Err = %v; want DeadlineExceeded", ctx.Err())
		}
		if parent.Err() != nil {
			t.Error("the deadline reached the caller's context")
		}
	})

	t.Run("caller cancels: Done within a slice", func(t *testing.T) {
		// A long timeout, so that the cancellation cannot be mistaken for
		// the deadline on a loaded machine: a slice is 500ms.
		long := newDeadlines(4 * time.Second)
		parent, cancel := context.WithCancel(context.Background())
		ctx, release := long.bound(parent, time.Now().UnixNano())
		defer release()
		time.Sleep(10 * time.Millisecond)
		cancel()
		start := time.Now()
		<-ctx.Done()
		// A slice, and room for a loaded machine running -race.
		if took := time.Since(start); took > 500*time.Millisecond+time.Second {
			t.Errorf("Done closed %v after the cancellation; want within a slice (500ms)", took)
		}
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Errorf("Err = %v; want Canceled (the caller's), before the deadline", ctx.Err())
		}
	})

	t.Run("caller cancels: Err at once", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		ctx, release := d.bound(parent, time.Now().UnixNano())
		defer release()
		cancel()
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("Err = %v just after the caller cancelled; want Canceled", ctx.Err())
		}
		select {
		case <-ctx.Done():
		default:
			t.Fatal("Err reported the cancellation but Done is open")
		}
		if c := context.Cause(ctx); !errors.Is(c, context.Canceled) {
			t.Errorf("Cause = %v; want Canceled", c)
		}
	})

	t.Run("caller over already: Done at once", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		cancel()
		ctx, release := d.bound(parent, time.Now().UnixNano())
		defer release()
		select {
		case <-ctx.Done():
		default:
			t.Fatal("a call whose caller had given up got an open Done channel")
		}
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Errorf("Err = %v; want Canceled", ctx.Err())
		}
	})

	t.Run("derived contexts end with it", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		ctx, release := d.bound(parent, time.Now().UnixNano())
		defer release()
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() { close(fired) })
		defer stop()
		child, cancelChild := context.WithCancel(ctx)
		defer cancelChild()
		select {
		case <-fired:
		case <-time.After(10 * timeout):
			t.Fatal("AfterFunc of a bounded context did not run at its deadline")
		}
		<-child.Done()
		if c := context.Cause(child); !errors.Is(c, context.DeadlineExceeded) {
			t.Errorf("a derived context's Cause = %v; want DeadlineExceeded", c)
		}
	})

	t.Run("an ended context is not reused", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		short := newDeadlines(20 * time.Millisecond)
		ended, release := short.bound(parent, time.Now().UnixNano())
		<-ended.Done()
		release()
		for range 100 {
			ctx, release := short.bound(parent, time.Now().UnixNano())
			if ctx == ended || ctx.Err() != nil {
				release()
				t.Fatal("a context that ended was handed out again")
			}
			release()
		}
	})

	t.Run("released twice panics", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, release := d.bound(parent, time.Now().UnixNano())
		release()
		defer func() {
			if recover() == nil {
				t.Error("a second release did not panic")
			}
		}()
		release()
	})
}

// BenchmarkBound is the cost of bounding one Redis call by the timeout,
// bound against the context.WithTimeout it replaces, for a caller's
// context that can be cancelled (an HTTP handler's) and one that cannot.
func BenchmarkBound(b *testing.B) {
	const timeout = 100 * time.Millisecond
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"cancellable", cancellable}, {"background", context.Background()}} {
		b.Run(c.name+"/WithTimeout", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(c.ctx, timeout)
				_ = ctx.Done()
				cancel()
			}
		})
		b.Run(c.name+"/bound", func(b *testing.B) {
			d := newDeadlines(timeout)
			b.ReportAllocs()
			for b.Loop() {
				ctx, release := d.bound(c.ctx, time.Now().UnixNano())
				_ = ctx.Done()
				release()
			}
		})
	}
}

// A driver's goroutine that asks a released context's Err, Value or
// Deadline while the context already serves the next calls gets an
// answer, without a data race (run with -race) and without ending the
// next call's context.
func TestLateLookAtAReusedBound(t *testing.T) {
	d := newDeadlines(time.Minute)
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	defer cancel()
	late, release := d.bound(parent, time.Now().UnixNano())
	release()
	stop := make(chan struct{})
	looked := make(chan struct{})
	go func() {
		defer close(looked)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = late.Err()
			_ = late.Value(ctxKey{})
			_, _ = late.Deadline()
		}
	}()
	for range 20000 {
		ctx, release := d.bound(parent, time.Now().UnixNano())
		if ctx.Err() != nil || ctx.Value(ctxKey{}) != "v" {
			release()
			t.Fatal("a late look changed the next call's context")
		}
		release()
	}
	close(stop)
	<-looked
}
