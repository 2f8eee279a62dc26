package goredis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
)

// openAddr opens a driver on a standalone Redis at addr, for the shared
// fault suites.
func openAddr(t *testing.T, addr string) conn.Driver {
	t.Helper()
	d, err := goredis.Open(context.Background(), "redis://"+addr)
	must(t, err)
	return d
}

// TestRecoveryAfterRestart runs the restart case every driver shares:
// calls succeed within 1 s of a killed Redis answering again (issue 9,
// item 5).
func TestRecoveryAfterRestart(t *testing.T) { conntest.RunRestart(t, openAddr) }

// TestFirstCallAfterRestart checks that the very first call after an
// outage succeeds once Redis answers again.
func TestFirstCallAfterRestart(t *testing.T) { conntest.RunFirstCallAfterRestart(t, openAddr) }

// TestFirstCallAfterRestartIdleConns is TestFirstCallAfterRestart with a
// pool that keeps idle connections ready (min_idle_conns), which go-redis
// dials in the background while Redis is down: none of those dials may
// turn into a failure once Redis is back.
func TestFirstCallAfterRestartIdleConns(t *testing.T) {
	r := conntest.StartRedis(t)
	d, err := goredis.Open(context.Background(), "redis://"+r.Addr()+"?min_idle_conns=4&pool_size=8")
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
