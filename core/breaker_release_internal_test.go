package core

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// unreachable is a tenant's Redis that cannot be reached: every call
// fails as a refused dial would. The registry under test keys its state
// by driver identity, and a Get through a driver that fails still
// creates that state (and is served by its loader), so this covers
// the release without a Redis; the tests module covers the same path
// against real servers.
type unreachable struct{}

var errUnreachable = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

func (unreachable) Get(context.Context, string) ([]byte, error)       { return nil, errUnreachable }
func (unreachable) MGet(context.Context, ...string) ([][]byte, error) { return nil, errUnreachable }
func (unreachable) Set(context.Context, string, []byte, time.Duration) error {
	return errUnreachable
}
func (unreachable) SetNX(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, errUnreachable
}
func (unreachable) Del(context.Context, ...string) (int64, error) { return 0, errUnreachable }
func (unreachable) PExpire(context.Context, string, time.Duration) (bool, error) {
	return false, errUnreachable
}
func (unreachable) Do(context.Context, ...any) (any, error)      { return nil, errUnreachable }
func (unreachable) Pipeline(context.Context, ...*conn.Cmd) error { return errUnreachable }
func (unreachable) Eval(context.Context, *conn.Script, []string, ...any) (any, error) {
	return nil, errUnreachable
}
func (unreachable) Subscribe(context.Context, ...string) (conn.Subscription, error) {
	return nil, errUnreachable
}
func (unreachable) Close() error { return nil }

// tenant is one tenant's driver; the field gives each a distinct address.
type tenant struct {
	unreachable
	_ byte
}

// newTenant returns a distinct driver value, as a driver per tenant is.
func newTenant() conn.Driver { return new(tenant) }

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
		d := newTenant()
		if v, err := memo.Get(conn.With(ctx, d), i); err != nil || v != i {
			t.Fatalf("Get = %v, %v", v, err)
		}
	}
	if states() != 20 || breakers() != 20 {
		t.Fatalf("%d generation states and %d breakers for 20 tenants", states(), breakers())
	}
	time.Sleep(300 * time.Millisecond) // the tenants go quiet
	last := newTenant()
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
