package tests_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redcache/redcache/conn"
)

// TestStoreLearnsMovedGeneration: when another process invalidated
// everything during a load (and this process, refreshing its generation
// once an hour, does not know it), the store's generation check refuses
// the stale value and teaches the process the new generation: its next
// load stores and is then a hit, rather than every later load of the
// process being refused until the refresh.
func TestStoreLearnsMovedGeneration(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		h := newHookDriver(d)
		release := make(chan struct{})
		hold := make(chan struct{}, 1)
		load := func(_ context.Context, id string) (int64, error) {
			if id == "slow" {
				hold <- struct{}{}
				<-release
			}
			return int64(len(id)), nil
		}
		a, b := twoProcesses(t, d, h, prefix, load)
		// Both processes know the generation, and have stored once.
		if _, err := a.Get(ctx, "warm"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(ctx, "warm"); err != nil {
			t.Fatal(err)
		}

		slow := make(chan error, 1)
		go func() {
			_, err := b.Get(ctx, "slow")
			slow <- err
		}()
		<-hold
		if err := a.InvalidateAll(ctx); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-slow; err != nil {
			t.Fatal(err)
		}
		slowKey, _ := b.Key("slow")
		if v, err := d.Get(ctx, slowKey); !errors.Is(err, conn.ErrMiss) {
			t.Fatalf("the load that began before InvalidateAll was stored: %q, %v", v, err)
		}

		loads := b.Stats().Loads
		if _, err := b.Get(ctx, "fresh"); err != nil {
			t.Fatal(err)
		}
		freshKey, _ := b.Key("fresh")
		if _, err := d.Get(ctx, freshKey); err != nil {
			t.Fatalf("a load after the refused one was not stored (%v): the process did not learn the new generation", err)
		}
		if _, err := b.Get(ctx, "fresh"); err != nil {
			t.Fatal(err)
		}
		if got := b.Stats().Loads - loads; got != 1 {
			t.Errorf("%d loads for a miss and a hit of the same key, want 1", got)
		}
	})
}
