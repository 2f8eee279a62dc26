package core_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/core"
)

// recorder is an ErrorHandler that keeps what it is given.
type recorder struct {
	mu  sync.Mutex
	got []core.Error
}

func (r *recorder) handle(_ context.Context, err *core.Error) {
	r.mu.Lock()
	r.got = append(r.got, *err)
	r.mu.Unlock()
}

func (r *recorder) reports() []core.Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.Error(nil), r.got...)
}

var errFull = errors.New("OOM command not allowed when used memory > 'maxmemory'")

func report(op core.Op, name string) *core.Error {
	return &core.Error{Op: op, Name: name, Key: "cache:" + name + ":1", Err: errFull}
}

func TestThrottleErrorsPassesABurstPerPeriod(t *testing.T) {
	var r recorder
	h := core.ThrottleErrors(r.handle, 400*time.Millisecond, 3)
	ctx := context.Background()
	for range 10 {
		h(ctx, report(core.OpSave, "users.get"))
	}
	h(ctx, report(core.OpSave, "orders.list")) // another kind is not hidden by the flood
	if got := r.reports(); len(got) != 4 {
		t.Fatalf("%d reports passed, want 3 of users.get and 1 of orders.list: %+v", len(got), got)
	}
	time.Sleep(500 * time.Millisecond) // the next period
	h(ctx, report(core.OpSave, "users.get"))
	got := r.reports()
	last := got[len(got)-1]
	if last.Name != "users.get" || last.Suppressed != 7 {
		t.Fatalf("first report of the next period: %s with Suppressed %d, want users.get with 7", last.Name, last.Suppressed)
	}
	for _, e := range got[:4] {
		if e.Suppressed != 0 {
			t.Errorf("a report of the first period carries Suppressed %d, want 0", e.Suppressed)
		}
	}
	if !errors.Is(&last, errFull) {
		t.Error("the passed report lost its cause")
	}
}

func TestThrottleErrorsDoesNotChangeTheReport(t *testing.T) {
	var r recorder
	h := core.ThrottleErrors(r.handle, time.Hour, 1)
	ctx := context.Background()
	h(ctx, report(core.OpLoad, "f"))
	h(ctx, report(core.OpLoad, "f"))
	if n := len(r.reports()); n != 1 {
		t.Fatalf("%d reports passed, want 1", n)
	}
	// Suppressed goes on a copy: the caller's report is left as it is.
	var passed []*core.Error
	h2 := core.SampleErrors(func(_ context.Context, e *core.Error) { passed = append(passed, e) }, 2)
	first, second, third := report(core.OpLoad, "g"), report(core.OpLoad, "g"), report(core.OpLoad, "g")
	h2(ctx, first)
	h2(ctx, second)
	h2(ctx, third)
	if len(passed) != 2 || passed[1].Suppressed != 1 || third.Suppressed != 0 {
		t.Fatalf("passed %d, second passed carries %d, original carries %d: want 2, 1, 0", len(passed), passed[len(passed)-1].Suppressed, third.Suppressed)
	}
}

// TestSampleErrorsFlood: the flood of the issue, 100,000 reports from
// concurrent callers, sampled 1 in 100: 1,000 pass, and what they carry
// in Suppressed plus what is still pending accounts for every report.
func TestSampleErrorsFlood(t *testing.T) {
	var r recorder
	h := core.SampleErrors(r.handle, 100)
	const callers, each = 8, 12500
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				h(context.Background(), report(core.OpSave, "users.get"))
			}
		}()
	}
	wg.Wait()
	got := r.reports()
	if len(got) != 1000 {
		t.Fatalf("%d reports passed, want 1000", len(got))
	}
	var suppressed uint64
	for _, e := range got {
		suppressed += e.Suppressed
	}
	// The 99 reports after the last one passed are not told yet.
	if total := uint64(len(got)) + suppressed + 99; total != callers*each {
		t.Fatalf("passed + suppressed + pending = %d, want %d", total, callers*each)
	}
}

func TestThrottleAndSampleEdgeCases(t *testing.T) {
	var r recorder
	ctx := context.Background()
	for _, h := range []core.ErrorHandler{
		core.ThrottleErrors(r.handle, 0, 5),
		core.ThrottleErrors(r.handle, time.Second, 0),
		core.SampleErrors(r.handle, 1),
		core.SampleErrors(r.handle, -3),
	} {
		h(ctx, report(core.OpLoad, "f"))
		h(ctx, report(core.OpLoad, "f"))
	}
	if n := len(r.reports()); n != 8 {
		t.Errorf("%d reports passed, want all 8: a limit that limits nothing passes everything", n)
	}
	if core.ThrottleErrors(nil, time.Second, 1) != nil || core.SampleErrors(nil, 10) != nil {
		t.Error("a nil handler wrapped is not nil")
	}
}
