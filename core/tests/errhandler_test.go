package tests_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// reports collects what an ErrorHandler is told.
type reports struct {
	mu   sync.Mutex
	errs []*core.Error
}

func (r *reports) handle(_ context.Context, err *core.Error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *reports) all() []*core.Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*core.Error(nil), r.errs...)
}

// Every report is a *core.Error that says where the trouble was: the
// step, the function, the key, the driver and, on a cluster, the node
// that serves the key; the cause stays reachable with errors.Is.
func TestErrorHandlerIsToldWhere(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		var r reports
		var handler core.ErrorHandler = r.handle
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithErrorHandler(handler))
		t.Cleanup(func() { m.Close() })
		get := core.Memoize(m, "where", func(_ context.Context, k int) (int, error) { return k, nil })
		key, _ := get.Key(1)
		if err := d.Set(ctx, key, []byte("not an entry"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, err := get.Get(ctx, 1); err != nil || v != 1 {
			t.Fatalf("Get = %v, %v; want the loader's 1", v, err)
		}
		got := r.all()
		if len(got) != 1 {
			t.Fatalf("reported %v, want one corrupt entry", got)
		}
		e := got[0]
		if e.Op != core.OpDecode || e.Name != "where" || e.Key != key || e.Driver != d || e.Node != conn.NodeOf(d, key) ||
			!errors.Is(e, core.ErrCorruptEntry) {
			t.Fatalf("reported {Op %q, Name %q, Key %q, Driver %T, Node %q, Err %v}; want {%q, %q, %q, %T, %q, ErrCorruptEntry}",
				e.Op, e.Name, e.Key, e.Driver, e.Node, e.Err, core.OpDecode, "where", key, d, conn.NodeOf(d, key))
		}
		if strings.Contains(t.Name(), "cluster") && e.Node == "" {
			t.Fatal("a cluster driver's report names no node")
		}
	})
}

// Trouble found before any driver is known has no driver in its report.
func TestErrorHandlerWithoutDriver(t *testing.T) {
	var r reports
	m := core.New(core.WithPrefix(uniquePrefix(t)), core.WithErrorHandler(r.handle))
	t.Cleanup(func() { m.Close() })
	get := core.Memoize(m, "nowhere", func(_ context.Context, k int) (int, error) { return k, nil })
	if v, err := get.Get(context.Background(), 1); err != nil || v != 1 {
		t.Fatalf("Get = %v, %v", v, err)
	}
	got := r.all()
	if len(got) != 1 || got[0].Op != core.OpResolve || got[0].Driver != nil || got[0].Name != "nowhere" ||
		!errors.Is(got[0], conn.ErrNoConnection) {
		t.Fatalf("reported %v, want one OpResolve report of ErrNoConnection without a driver", got)
	}
}
