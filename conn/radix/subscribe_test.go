package radix_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

// blackhole is a TCP proxy that, once frozen, swallows what goes through
// it in both directions without closing anything: a network partition, as
// the two ends see it.
type blackhole struct {
	addr   string
	frozen atomic.Bool
}

func newBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	b := &blackhole{addr: ln.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		defer dst.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !b.frozen.Load() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if err != io.EOF {
					src.Close()
				}
				return
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			wg.Add(2)
			go pipe(s, c)
			go pipe(c, s)
		}
	}()
	return b
}

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
			b := newBlackhole(t, conntest.RedisAddr(t))
			return b.addr, func() { b.frozen.Store(true) }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr, stall := c.setup(t)
			d := openT(t, "redis://"+addr, radix.WithSubscriptionPing(every))
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
	d := openT(t, "redis://"+conntest.RedisAddr(t), radix.WithSubscriptionPing(every))
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
