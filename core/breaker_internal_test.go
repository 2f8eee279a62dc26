package core

import (
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
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
	t.Run("a probe that never reports is replaced", func(t *testing.T) {
		b := newBreaker(1, time.Second, 200*time.Millisecond)
		b.failure(0, false)
		if !b.allow(1000 * ms) {
			t.Fatal("no probe after the cooldown")
		}
		// The probe ends without a word (a Refresh whose loader failed).
		if b.allow(1999 * ms) {
			t.Fatal("a second probe before the bound")
		}
		if !b.allow(2000 * ms) {
			t.Fatal("a silent probe was not replaced after the bound: the breaker would stay half-open for good")
		}
		if b.allow(2000*ms + 1) {
			t.Fatal("the replacement let two probes through")
		}
		b.success()
		if b.State() != BreakerClosed {
			t.Fatal("the replacement probe's success did not close it")
		}
	})
	t.Run("the bound is at least twice the timeout", func(t *testing.T) {
		b := newBreaker(1, 100*time.Millisecond, 3*time.Second)
		b.failure(0, false)
		b.allow(100 * ms)
		if b.allow(2000 * ms) {
			t.Fatal("a probe replaced before its Redis call could have timed out")
		}
		if !b.allow(3100 * ms) {
			t.Fatal("not replaced after the bound")
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

// nodeDriver is a driver on a two-node "cluster" for the breaker lookup:
// keys starting with "a" live on node A, the others on node B. Nothing
// here talks to Redis.
type nodeDriver struct{ conn.Driver }

func (nodeDriver) NodeOf(key string) string {
	if key != "" && key[0] == 'a' {
		return "A"
	}
	return "B"
}

func TestBreakersPerNodeAndSettings(t *testing.T) {
	m := New(WithBreaker(3, time.Second))
	d := &nodeDriver{}
	cfg := m.cfg
	a1, a2, b1 := m.breakerForKey(&cfg, d, "a1"), m.breakerForKey(&cfg, d, "a2"), m.breakerForKey(&cfg, d, "b1")
	if a1 != a2 {
		t.Fatal("two keys on one node got different breakers")
	}
	if a1 == b1 {
		t.Fatal("keys on two nodes share a breaker: one dead primary would stop the cache for all")
	}
	other := &nodeDriver{}
	if m.breakerForKey(&cfg, other, "a1") == a1 {
		t.Fatal("two drivers share a breaker")
	}
	own := cfg
	own.breakerFail, own.breakerWait = 1, time.Hour
	if b := m.breakerForKey(&own, d, "a1"); b == a1 || b.threshold != 1 || b.cooldown != int64(time.Hour) {
		t.Fatal("a function's own WithBreaker is not honoured")
	}
	off := cfg
	off.breakerFail = 0
	if m.breakerForKey(&off, d, "a1") != nil {
		t.Fatal("WithBreaker(0, 0) on a function did not turn its breaker off")
	}
	// Open A: B and Stats see it.
	for i := int64(0); i < 3; i++ {
		a1.failure(i, false)
	}
	if a1.State() != BreakerOpen || b1.State() != BreakerClosed {
		t.Fatal("node A's failures moved node B's breaker")
	}
	if m.Stats().Breaker != BreakerOpen {
		t.Fatal("Stats().Breaker does not show the open node")
	}
}

// forgetful records the drivers the Manager tells it to forget.
type forgetful struct{ forgot []conn.Driver }

func (f *forgetful) adoptGeneration(conn.Driver, uint64) {}
func (f *forgetful) generationChanged()                  {}
func (f *forgetful) alive() bool                         { return true }
func (f *forgetful) forgetDriver(d conn.Driver)          { f.forgot = append(f.forgot, d) }

func TestBreakersOfUnusedDriversAreReleased(t *testing.T) {
	m := New()
	m.breakers.idle = time.Minute
	h := &forgetful{}
	m.register("cache:f", h)
	cfg := m.cfg
	const n = 100
	now := time.Now().UnixNano()
	for i := 0; i < n; i++ {
		k := breakerKey{d: &nodeDriver{}, typ: reflect.TypeFor[*nodeDriver](), fails: 5, wait: time.Second}
		m.breakers.get(k, now)
	}
	kept := &nodeDriver{}
	m.breakerFor(&cfg, kept)
	count := func() (c int) {
		m.breakers.each(func(*breaker) { c++ })
		return c
	}
	if c := count(); c != n+1 {
		t.Fatalf("%d breakers, want %d", c, n+1)
	}
	// Two idle periods later, the one driver still used makes a call; a
	// new tenant's first call sweeps.
	later := now + int64(2*time.Minute)
	m.breakerFor(&cfg, kept).allow(later)
	m.breakers.get(breakerKey{d: &nodeDriver{}, typ: reflect.TypeFor[*nodeDriver](), fails: 5, wait: time.Second}, later)
	if c := count(); c != 2 {
		t.Fatalf("%d breakers after the sweep, want the used one and the new one", c)
	}
	if len(h.forgot) != n {
		t.Fatalf("told to forget %d drivers, want the %d unused", len(h.forgot), n)
	}
	for _, d := range h.forgot {
		if d == conn.Driver(kept) {
			t.Fatal("told to forget a driver still in use")
		}
	}
	runtime.KeepAlive(kept)
}
