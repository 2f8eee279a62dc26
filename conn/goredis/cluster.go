package goredis

import (
	"context"
	"errors"
	"time"

	"github.com/redcache/redcache/conn"
)

// cancelled is a context that has ended, so that a go-redis call made
// with it cannot wait on the network.
var cancelled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// NodeOf returns the address (host:port) of the cluster primary that
// serves key, as go-redis's current slot map says, without a network
// call. It returns "" for a client that is not a cluster (one node serves
// every key) and for a cluster whose slot map go-redis has not loaded yet
// (before the first command succeeded). The answer changes when the slot
// map does, after a failover or a resharding.
func (d *Driver) NodeOf(key string) string {
	if d.cluster == nil || !d.mapped.Load() {
		return ""
	}
	// With a slot map loaded, MasterForKey reads it and makes no call.
	c, err := d.cluster.MasterForKey(cancelled, key)
	if err != nil {
		return ""
	}
	return c.Options().Addr
}

// served records that a command succeeded: on a cluster, go-redis has
// its slot map then.
func (d *Driver) served() {
	if d.cluster != nil && !d.mapped.Load() {
		d.mapped.Store(true)
	}
}

// conv converts err as convErr does, and keeps the driver's view of a
// cluster up to date: a failure that may mean the slot map is out of date
// starts the slot map watch.
func (d *Driver) conv(ctx context.Context, err error) error {
	if d.cluster == nil {
		return convErr(ctx, err)
	}
	err = convErr(ctx, err)
	switch {
	case err == nil:
		d.served()
	case staleMap(err):
		d.lastFail.Store(time.Now().UnixNano())
		if !d.watching.Load() && d.watching.CompareAndSwap(false, true) {
			go d.watch()
		}
	case isReplyErr(err):
		d.served()
	}
	return err
}

// staleMap reports whether err may come from a slot map that is out of
// date: the node did not answer (refused, reset, timed out: it may be
// dead, and its replica promoted) or it says it no longer serves the slot.
// A miss, another error reply and the caller's cancellation do not.
func staleMap(err error) bool {
	switch {
	case errors.Is(err, conn.ErrMiss), errors.Is(err, conn.ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, errBadArg):
		return false
	case isReplyErr(err):
		for _, p := range []string{"MOVED", "ASK", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY"} {
			if conn.IsReplyError(err, p) {
				return true
			}
		}
		return false
	}
	return true
}

// The slot map watch. go-redis reloads its slot map on MOVED, and
// otherwise once a minute (ClusterStateReloadInterval): when a primary
// dies, its address keeps failing and never answers MOVED, so its keys
// stay unserved after its replica took over, until the periodic reload.
// The watch asks go-redis to reload (ReloadState, which does it in the
// background and coalesces requests) every reloadEvery while calls keep
// failing, and stops watchFor after the last failure. A replica is
// promoted a few seconds after its primary dies (the cluster's node
// timeout and an election), and calls to that primary may stop meanwhile
// (a circuit breaker); the watch keeps reloading for long enough to see
// the promotion.
const (
	reloadEvery = 200 * time.Millisecond
	watchFor    = 30 * time.Second
)

// watch runs while calls fail, see above.
func (d *Driver) watch() {
	tick := time.NewTicker(reloadEvery)
	defer tick.Stop()
	for {
		d.cluster.ReloadState(context.Background())
		select {
		case <-tick.C:
		case <-d.stop:
			d.watching.Store(false)
			return
		}
		if time.Since(time.Unix(0, d.lastFail.Load())) > watchFor {
			d.watching.Store(false)
			// A failure between the check and the Store would have found
			// the watch running: look again.
			if time.Since(time.Unix(0, d.lastFail.Load())) > watchFor || !d.watching.CompareAndSwap(false, true) {
				return
			}
		}
	}
}
