package core

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	const ms = int64(time.Millisecond)
	t.Run("refusals open at the threshold", func(t *testing.T) {
		b := newBreaker(3, time.Second, 200*time.Millisecond)
		if b.failure(0, false) || b.failure(1, false) {
			t.Fatal("opened before the threshold")
		}
		if !b.failure(2, false) || b.State() != BreakerOpen {
			t.Fatal("three refusals did not open it")
		}
		if b.allow(500 * ms) {
			t.Fatal("allowed a call during the cooldown")
		}
		if !b.allow(1000*ms+2) || b.State() != BreakerHalfOpen {
			t.Fatal("no probe after the cooldown")
		}
		if b.allow(1000*ms + 3) {
			t.Fatal("a second probe while one is out")
		}
		b.success()
		if b.State() != BreakerClosed || !b.allow(1001*ms) {
			t.Fatal("a successful probe did not close it")
		}
	})
	t.Run("a burst of timeouts does not open it", func(t *testing.T) {
		b := newBreaker(3, time.Second, 200*time.Millisecond)
		for i := int64(0); i < 100; i++ {
			if b.failure(100*ms+i*ms/10, true) {
				t.Fatal("100 timeouts within 10ms opened the breaker")
			}
		}
		b.success()
		if b.State() != BreakerClosed {
			t.Fatal("not closed")
		}
	})
	t.Run("timeouts that last open it", func(t *testing.T) {
		b := newBreaker(3, time.Second, 200*time.Millisecond)
		opened := false
		for i := int64(0); i < 10 && !opened; i++ {
			opened = b.failure(i*100*ms, true)
		}
		if !opened {
			t.Fatal("a second of timeouts did not open the breaker")
		}
	})
	t.Run("a failed probe reopens it for a whole cooldown", func(t *testing.T) {
		b := newBreaker(1, time.Second, 0)
		b.failure(0, false)
		b.allow(1000 * ms)
		b.failure(1000*ms, false)
		if b.State() != BreakerOpen || b.allow(1500*ms) {
			t.Fatal("a failed probe must reopen the breaker until its cooldown ends")
		}
	})
	t.Run("an abandoned probe gives its turn back", func(t *testing.T) {
		b := newBreaker(1, time.Second, 0)
		b.failure(0, false)
		b.allow(1000 * ms)
		b.abandon()
		if !b.allow(1000*ms + 1) {
			t.Fatal("the probe's turn was lost")
		}
	})
}
