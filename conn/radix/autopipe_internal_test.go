package radix

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
)

// openLane opens the driver on url with auto-pipelining on and returns
// it with its pool's lane (a single server's).
func openLane(t *testing.T, url string, opts ...Option) (*Driver, *lane) {
	t.Helper()
	d, err := Open(context.Background(), url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	p, ok := d.client.(*pool)
	if !ok || p.lane == nil {
		t.Fatalf("the driver's client is a %T, not a pool with auto-pipelining", d.client)
	}
	return d, p.lane
}

// TestAutoPipelineOwnReplies runs 64 goroutines whose commands share
// batches: SETs and GETs of values that name their caller and round, an
// MGET of two of the caller's keys, and a command answered with an error
// reply. Every call gets its own reply, and the error reply fails that
// command only.
func TestAutoPipelineOwnReplies(t *testing.T) {
	addr := conntest.RedisAddr(t)
	d, l := openLane(t, "redis://"+addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("autopipe:%d:", time.Now().UnixNano())
	t.Cleanup(func() {
		for w := range 64 {
			_, _ = d.Del(context.Background(), prefix+strconv.Itoa(w), prefix+strconv.Itoa(w)+":b", prefix+strconv.Itoa(w)+":list")
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, kb, kl := prefix+strconv.Itoa(w), prefix+strconv.Itoa(w)+":b", prefix+strconv.Itoa(w)+":list"
			if _, err := d.Do(ctx, "RPUSH", kl, "x"); err != nil {
				errs <- fmt.Errorf("worker %d: RPUSH: %w", w, err)
				return
			}
			for i := range 100 {
				want := fmt.Sprintf("%d/%d", w, i)
				if err := d.Set(ctx, k, []byte(want), time.Minute); err != nil {
					errs <- fmt.Errorf("worker %d: Set: %w", w, err)
					return
				}
				if err := d.Set(ctx, kb, []byte(want+"b"), time.Minute); err != nil {
					errs <- fmt.Errorf("worker %d: Set: %w", w, err)
					return
				}
				got, err := d.Get(ctx, k)
				if err != nil || string(got) != want {
					errs <- fmt.Errorf("worker %d: Get = %q, %v; want %q", w, got, err, want)
					return
				}
				vals, err := d.MGet(ctx, k, kb)
				if err != nil || len(vals) != 2 || string(vals[0]) != want || string(vals[1]) != want+"b" {
					errs <- fmt.Errorf("worker %d: MGet = %q, %v; want [%s %sb]", w, vals, err, want, want)
					return
				}
				if i%10 == 0 {
					// A list is no counter: WRONGTYPE, for this command only.
					_, err := d.Do(ctx, "INCR", kl)
					var re *conn.ReplyError
					if !errors.As(err, &re) {
						errs <- fmt.Errorf("worker %d: INCR of a list = %v, want an error reply", w, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	batches, carried := l.batches.Load(), l.carried.Load()
	t.Logf("%d batches carried %d commands", batches, carried)
	if batches == 0 || carried <= batches {
		t.Errorf("%d batches carried %d commands: 64 concurrent callers never shared one", batches, carried)
	}
}

// TestAutoPipelineUnknownScript runs a script the server does not know
// (after SCRIPT FLUSH) from 64 goroutines at once, five times: the
// EVALSHAs answered NOSCRIPT inside a batch are sent again as EVAL, and
// every call gets its own result.
func TestAutoPipelineUnknownScript(t *testing.T) {
	addr := conntest.RedisAddr(t)
	d, l := openLane(t, "redis://"+addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := conn.NewScript(fmt.Sprintf("return ARGV[1] .. ':%d'", time.Now().UnixNano()))
	before := l.batches.Load()
	for round := range 5 {
		if _, err := d.Do(ctx, "SCRIPT", "FLUSH"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				arg := fmt.Sprintf("%d-%d", round, w)
				got, err := d.Eval(ctx, script, []string{"autopipe:script"}, arg)
				if s, _ := got.(string); err != nil || len(s) <= len(arg) || s[:len(arg)+1] != arg+":" {
					t.Errorf("round %d, worker %d: Eval = %v, %v; want %q and the script's suffix", round, w, got, err, arg)
				}
			}()
		}
		wg.Wait()
	}
	if l.batches.Load() == before {
		t.Error("no EVALSHA went in a batch")
	}
}

// TestHalfOpenConnectionNoticed partitions the server (a proxy that drops
// every byte) while calls with long deadlines are on the wire, alone and
// in batches, then ends the partition: the connections that carried them
// stay waiting for replies that never come, as after a real partition.
// The calls do not wait for their 30 s deadlines: once the server has
// been silent for replyTimeout with their replies owed, the connections
// are closed, a GET (which may run twice) goes again and succeeds, and a
// SET NX that was on the wire fails with ErrStalled.
func TestHalfOpenConnectionNoticed(t *testing.T) {
	px := conntest.NewProxy(t, conntest.RedisAddr(t))
	d, _ := openLane(t, "redis://"+px.Addr(), WithPoolSize(2))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k := fmt.Sprintf("autopipe:halfopen:%d", time.Now().UnixNano())
	if err := d.Set(ctx, k, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = d.Del(ctx, k, k+":nx")
	})

	px.Drop()
	start := time.Now()
	var wg sync.WaitGroup
	type result struct {
		took time.Duration
		err  error
	}
	// The SETNX first, alone: it goes on the wire at once (a free slot),
	// and is lost there.
	var nx result
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := d.SetNX(ctx, k+":nx", []byte("v"), time.Minute)
		nx = result{time.Since(start), err}
	}()
	time.Sleep(100 * time.Millisecond)
	gets := make([]result, 16)
	for i := range gets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := d.Get(ctx, k)
			if err == nil && string(v) != "v" {
				err = fmt.Errorf("got %q", v)
			}
			gets[i] = result{time.Since(start), err}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	px.Resume()
	wg.Wait()

	// A call caught on a half-open connection fails, or goes again, within
	// replyTimeout (plus the watch's tick); one that goes again may land on
	// the other half-open connection of the pool and wait as long again.
	bound := 2*(replyTimeout+replyCheck) + 2*time.Second
	for i, r := range gets {
		if r.err != nil || r.took > bound {
			t.Errorf("Get %d: %v after %v; want the value within %v", i, r.err, r.took.Round(time.Millisecond), bound)
		}
	}
	if !errors.Is(nx.err, ErrStalled) || nx.took > bound {
		t.Errorf("SetNX: %v after %v; want ErrStalled within %v", nx.err, nx.took.Round(time.Millisecond), bound)
	}
}
