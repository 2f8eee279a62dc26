package goredis_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
)

// recoveryBound is how soon after Redis answers again the driver's calls
// must succeed (issue 9, item 5).
const recoveryBound = time.Second

// TestRecoveryAfterRestart kills a Redis the test owns with SIGKILL in the
// middle of a load, starts it again on the same port, and measures how
// long after it answered the driver's first call succeeds.
func TestRecoveryAfterRestart(t *testing.T) {
	for _, down := range []time.Duration{200 * time.Millisecond, 1500 * time.Millisecond} {
		t.Run("down "+down.String(), func(t *testing.T) {
			r := conntest.StartRedis(t)
			d, err := goredis.Open("redis://" + r.Addr())
			must(t, err)
			t.Cleanup(func() { _ = d.Close() })
			key := "goredis-test:recovery"
			must(t, d.Set(ctxT(t), key, []byte("v"), time.Minute))

			// A load of 16 callers, each call with a 300 ms deadline.
			var (
				st        faultStats
				stop      = make(chan struct{})
				wg        sync.WaitGroup
				firstOK   atomic.Int64 // unix nanos of the first success after the restart
				restarted atomic.Int64 // unix nanos at which the server answered again
			)
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
						start := time.Now()
						_, err := d.Get(ctx, key)
						el := time.Since(start)
						cancel()
						if errors.Is(err, conn.ErrMiss) {
							err = nil
						}
						st.add(el, err)
						if err == nil {
							if at := restarted.Load(); at != 0 {
								firstOK.CompareAndSwap(0, time.Now().UnixNano())
							}
						} else {
							time.Sleep(time.Millisecond) // a failing call may return at once
						}
					}
				}()
			}
			time.Sleep(200 * time.Millisecond)
			r.Kill()
			time.Sleep(down)
			r.Start()
			back := time.Now()
			restarted.Store(back.UnixNano())
			deadline := time.Now().Add(5 * time.Second)
			for firstOK.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			close(stop)
			wg.Wait()
			st.log(t, "SIGKILL+restart, down "+down.String())
			ok := firstOK.Load()
			if ok == 0 {
				t.Fatal("no call succeeded within 5 s of the restart")
			}
			rec := time.Duration(ok - back.UnixNano())
			t.Logf("fault %-28s first success %v after Redis answered again", "SIGKILL+restart", rec.Round(time.Millisecond))
			if rec > recoveryBound {
				t.Errorf("first success %v after Redis was back, want within %v", rec, recoveryBound)
			}
		})
	}
}

// TestFirstCallAfterRestart checks that the driver keeps no memory of an
// outage: once Redis answers again, the very next call succeeds. A caller
// with a circuit breaker sends one probe after its cooldown; a driver that
// still answers with the outage's error sends it into one more cooldown.
func TestFirstCallAfterRestart(t *testing.T) {
	r := conntest.StartRedis(t)
	d, err := goredis.Open("redis://" + r.Addr())
	must(t, err)
	t.Cleanup(func() { _ = d.Close() })
	key := "goredis-test:first-call"
	must(t, d.Set(ctxT(t), key, []byte("v"), time.Minute))
	r.Kill()

	// A load of 32 callers for 1.5 s of outage: far more failed calls
	// than the pool has connections.
	var st faultStats
	var wg sync.WaitGroup
	until := time.Now().Add(1500 * time.Millisecond)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(until) {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				start := time.Now()
				_, err := d.Get(ctx, key)
				cancel()
				st.add(time.Since(start), err)
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	st.log(t, "Redis down")

	r.Start()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err = d.Get(ctx, key)
	t.Logf("fault %-28s first call after the restart: %v in %v", "SIGKILL+restart", err, time.Since(start).Round(100*time.Microsecond))
	if err != nil && !errors.Is(err, conn.ErrMiss) {
		t.Fatalf("the first call after Redis came back failed: %v", err)
	}
}

// TestFirstCallAfterRestartIdleConns is TestFirstCallAfterRestart with a
// pool that keeps idle connections ready (min_idle_conns), which go-redis
// dials in the background while Redis is down: none of those dials may
// turn into a failure once Redis is back.
func TestFirstCallAfterRestartIdleConns(t *testing.T) {
	r := conntest.StartRedis(t)
	d, err := goredis.Open("redis://" + r.Addr() + "?min_idle_conns=4&pool_size=8")
	must(t, err)
	t.Cleanup(func() { _ = d.Close() })
	key := "goredis-test:first-call-idle"
	must(t, d.Set(ctxT(t), key, []byte("v"), time.Minute))
	r.Kill()
	var st faultStats
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		_, err := d.Get(ctx, key)
		cancel()
		st.add(time.Since(start), err)
		time.Sleep(10 * time.Millisecond)
	}
	st.log(t, "Redis down, idle conns")
	time.Sleep(300 * time.Millisecond) // the pool refills its idle connections
	r.Start()
	for i := range 8 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = d.Get(ctx, key)
		cancel()
		if err != nil && !errors.Is(err, conn.ErrMiss) {
			t.Fatalf("call %d after Redis came back failed: %v", i, err)
		}
	}
}
