package tests_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// Issue 8 item 11: a loader that ignores its context (a hung dependency)
// must not make Close wait for ever. Close waits at most the fence window,
// past which the load could store nothing, then says so.
func TestCloseIsBounded(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		const window = 300 * time.Millisecond
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithFenceWindow(window))
		hung, started := make(chan struct{}), make(chan struct{})
		t.Cleanup(func() { close(hung) })
		get := core.Memoize(m, "hung", func(context.Context, int) (int, error) {
			close(started)
			<-hung // ignores its context
			return 1, nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _, _ = get.Get(ctx, 1) }()
		<-started
		cancel() // the caller leaves; the load goes on, unstoppable

		closed := make(chan error, 1)
		start := time.Now()
		go func() { closed <- m.Close() }()
		select {
		case err := <-closed:
			if !errors.Is(err, core.ErrCloseTimeout) {
				t.Fatalf("Close = %v; want ErrCloseTimeout", err)
			}
			if took := time.Since(start); took < window {
				t.Fatalf("Close returned after %v, before the fence window %v", took, window)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close still waits for a loader that ignores its context after 10s")
		}
	})
}
