package radix_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

// TestSubscriptionHalfOpen makes a subscription's connection go silent
// without breaking: Receive reports ErrSubscriptionLost within about two
// ping intervals, not at its context's end.
func TestSubscriptionHalfOpen(t *testing.T) {
	const every = 200 * time.Millisecond
	cases := []struct {
		name  string
		setup func(t *testing.T) (addr string, stall func())
	}{
		{"SIGSTOP", func(t *testing.T) (string, func()) {
			r := conntest.StartRedis(t)
			return r.Addr(), func() {
				r.Stop()
				t.Cleanup(func() { r.Cont() })
			}
		}},
		{"partition", func(t *testing.T) (string, func()) {
			px := conntest.NewProxy(t, conntest.RedisAddr(t))
			return px.Addr(), px.Drop
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr, stall := c.setup(t)
			d := openT(t, "redis://"+addr, radix.WithSubscriptionCheck(every, every))
			ctx := ctxT(t)
			ch := "radixtest:halfopen:" + c.name
			sub, err := d.Subscribe(ctx, ch)
			must(t, err)
			defer sub.Close()
			_, err = d.Do(ctx, "PUBLISH", ch, "before")
			must(t, err)
			m, err := sub.Receive(ctx)
			must(t, err)
			if string(m.Payload) != "before" {
				t.Fatalf("Receive = %q", m.Payload)
			}

			stall()
			rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			_, err = sub.Receive(rctx)
			took := time.Since(start)
			t.Logf("radix subscription, %s: Receive returned after %v: %v", c.name, took.Round(time.Millisecond), err)
			if !errors.Is(err, conn.ErrSubscriptionLost) {
				t.Fatalf("Receive on a half-open connection = %v, want ErrSubscriptionLost", err)
			}
			if limit := 2*every + time.Second; took > limit {
				t.Errorf("the lost subscription was reported after %v, want within %v", took, limit)
			}
			// Lost for good: the subscription does not come back.
			if _, err := sub.Receive(ctx); err == nil {
				t.Fatal("Receive after the loss succeeded")
			}
		})
	}
}

// TestSubscriptionQuietIsHealthy checks that the PINGs of a quiet, healthy
// subscription never report it lost, also when Receive is not waiting
// while a PING is answered, and that messages still arrive.
func TestSubscriptionQuietIsHealthy(t *testing.T) {
	const every = 50 * time.Millisecond
	// PINGs every 50ms, each given a second to be answered: a loaded
	// machine can hold an answer past 50ms, and a late answer is not a
	// lost subscription.
	d := openT(t, "redis://"+conntest.RedisAddr(t), radix.WithSubscriptionCheck(every, time.Second))
	ctx := ctxT(t)
	ch := "radixtest:quiet"
	sub, err := d.Subscribe(ctx, ch)
	must(t, err)
	defer sub.Close()
	for i := 0; i < 5; i++ {
		// Silence for several intervals: pings go out and are answered.
		rctx, cancel := context.WithTimeout(ctx, 7*every)
		_, err := sub.Receive(rctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Receive on a quiet channel = %v, want DeadlineExceeded", err)
		}
		// Away from Receive while a PING's answer arrives.
		time.Sleep(3 * every)
	}
	_, err = d.Do(ctx, "PUBLISH", ch, "after")
	must(t, err)
	m, err := sub.Receive(ctx)
	must(t, err)
	if string(m.Payload) != "after" {
		t.Fatalf("Receive = %q, want after", m.Payload)
	}
}
