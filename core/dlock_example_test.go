package core_test

import (
	"context"
	"time"

	"github.com/redcache/redcache/core"
)

type monthlyReport struct {
	ID    int
	Total float64
}

// Every process of a fleet that misses the same key at the same moment
// (a cold start, an expiry under load) would run the expensive query
// once each. With WithDistributedLock the first to miss runs it, and the
// others wait for the value it stores (they are woken when it is
// stored), so the query runs once for the fleet. Should Redis be down,
// each process runs it on its own, and Stats.LockFailOpen counts it.
func ExampleWithDistributedLock() {
	m := core.New(core.WithDistributedLock(2 * time.Second)) // the lease: how long a dead holder blocks the others
	report := core.Memoize(m, "reports.monthly", func(ctx context.Context, id int) (monthlyReport, error) {
		return monthlyReport{ID: id}, nil // the expensive query
	}, core.WithTTL(time.Hour))
	_ = report // report.Get(ctx, id) in every process, as without the lock
}
