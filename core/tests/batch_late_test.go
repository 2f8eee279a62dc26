package tests_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// pipeHook runs before on every pipeline, before it reaches Redis.
type pipeHook struct {
	conn.Driver
	before atomic.Pointer[func(cmds []*conn.Cmd)]
}

func (p *pipeHook) Pipeline(ctx context.Context, cmds ...*conn.Cmd) error {
	if f := p.before.Load(); f != nil {
		(*f)(cmds)
	}
	return p.Driver.Pipeline(ctx, cmds...)
}

// What a Redis restart loses for a function: its entries (a tombstone
// too) and its generation key. The tests delete them, so that the loss
// lands at the very step they want.
func loseToRestart(t *testing.T, ctx context.Context, d conn.Driver, prefix, name string, keys ...string) {
	t.Helper()
	for _, k := range append(keys, prefix+":"+name+":~gen") {
		if _, err := d.Del(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}

// Redis loses an invalidation (a restart: the tombstone and the
// generation key gone) after the batch's store checked the generation
// and before its pipeline writes: the write must still be refused, as a
// single load's is, since the key is empty again.
func TestBatchRestartBetweenCheckAndStore(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		h := &pipeHook{Driver: d}
		src := newBatchSource(5)
		here := core.MemoizeBatch(newBatchManager(t, h, prefix), "lost", src.load)
		there := core.Memoize(newBatchManager(t, d, prefix), "lost",
			func(_ context.Context, id int) (string, error) { return fmt.Sprintf("new%d", id), nil })
		key2 := must(here.Key(2))
		src.hold.Store(true)
		done := make(chan map[int]string, 1)
		go func() {
			got, _ := here.GetMany(ctx, ids(1, 5))
			done <- got
		}()
		<-src.started
		for id := 1; id <= 5; id++ {
			src.set(id, fmt.Sprintf("new%d", id))
		}
		if err := there.Invalidate(ctx, 2); err != nil {
			t.Fatal(err)
		}
		var lost atomic.Bool
		before := func(cmds []*conn.Cmd) {
			for _, c := range cmds {
				if fmt.Sprint(c.Args[0]) != "GET" && len(c.Args) > 1 && fmt.Sprint(c.Args[1]) != "" && lost.CompareAndSwap(false, true) {
					loseToRestart(t, ctx, d, prefix, "lost", key2)
					return
				}
			}
		}
		h.before.Store(&before)
		close(src.release)
		if got := <-done; !cmp.Equal(want(1, 5), got) {
			t.Fatalf("the load in flight returned %v, want its own values", got)
		}
		if !lost.Load() {
			t.Fatal("the store's pipeline never ran")
		}
		h.before.Store(nil)
		got, err := here.GetMany(ctx, ids(1, 5))
		if err != nil {
			t.Fatal(err)
		}
		if got[2] != "new2" {
			t.Fatalf("id 2 = %q: the load from before the lost invalidation was stored", got[2])
		}
		if v, err := there.Get(ctx, 2); err != nil || v != "new2" {
			t.Fatalf("the other process reads id 2 = %q, %v", v, err)
		}
	})
}

// A batch that begins after another process's invalidation returned
// never gets a value loaded before it, even when Redis lost the
// invalidation before the batch read (a restart): it does not join the
// older load of this process.
func TestBatchLateCallNeverJoinsAnOlderLoad(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		src := newBatchSource(5)
		here := core.MemoizeBatch(newBatchManager(t, d, prefix, core.WithGenerationRefresh(time.Hour)), "late", src.load)
		there := core.Memoize(newBatchManager(t, d, prefix), "late",
			func(_ context.Context, id int) (string, error) { return fmt.Sprintf("new%d", id), nil })
		src.hold.Store(true)
		first := make(chan map[int]string, 1)
		go func() {
			got, _ := here.GetMany(ctx, ids(1, 5))
			first <- got
		}()
		<-src.started
		for id := 1; id <= 5; id++ {
			src.set(id, fmt.Sprintf("new%d", id))
		}
		if err := there.Invalidate(ctx, 3); err != nil {
			t.Fatal(err)
		}
		loseToRestart(t, ctx, d, prefix, "late", must(here.Key(3)))
		second := make(chan map[int]string, 1)
		go func() {
			got, _ := here.GetMany(ctx, []int{3})
			second <- got
		}()
		// It either loads on its own (right) or joins the held load
		// (wrong): give it time to do either.
		eventually(t, "the late batch to load", func() bool { return len(src.calls()) == 2 })
		if got := <-second; got[3] != "new3" {
			t.Fatalf("a batch that began after the invalidation got %q (a load from before it)", got[3])
		}
		close(src.release)
		if got := <-first; !cmp.Equal(want(1, 5), got) {
			t.Fatalf("the first batch = %v, want its own load's values", got)
		}
	})
}
