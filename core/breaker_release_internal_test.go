package core

import (
	"context"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/memory"
)

// A driver per tenant, used for a while and dropped, must not leave its
// breakers and generations in the Manager for good.
func TestStateOfUnusedDriversIsReleased(t *testing.T) {
	m := New(WithTimeout(time.Second))
	m.breakers.idle = 200 * time.Millisecond
	memo := Memoize(m, "tenants", func(_ context.Context, i int) (int, error) { return i, nil })
	states := func() (n int) {
		memo.e.gens.each(func(*genState) { n++ })
		return n
	}
	breakers := func() (n int) {
		m.breakers.each(func(*breaker) { n++ })
		return n
	}
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		d := memory.New()
		if v, err := memo.Get(conn.With(ctx, d), i); err != nil || v != i {
			t.Fatalf("Get = %v, %v", v, err)
		}
	}
	if states() != 20 || breakers() != 20 {
		t.Fatalf("%d generation states and %d breakers for 20 tenants", states(), breakers())
	}
	time.Sleep(300 * time.Millisecond) // the tenants go quiet
	last := memory.New()
	memo.Get(conn.With(ctx, last), 99) // a new tenant: its breaker's making sweeps
	if n := breakers(); n != 1 {
		t.Fatalf("%d breakers kept, want only the new tenant's", n)
	}
	if n := states(); n != 1 {
		t.Fatalf("%d generation states kept, want only the new tenant's", n)
	}
	// A released tenant that comes back starts afresh and is served.
	if v, err := memo.Get(conn.With(ctx, last), 99); err != nil || v != 99 {
		t.Fatalf("Get = %v, %v", v, err)
	}
}
