package radix

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/redcache/redcache/conn"
)

// ForEachNode implements [conn.NodeWalker]. On a cluster it calls fn for
// every primary, in the order of their addresses, with a driver that sends
// everything to that node alone (a SCAN, an INFO, a SCRIPT FLUSH); it
// stops at fn's first error and returns it. With any other client it calls
// fn once with d.
//
// The node drivers share d's connections; closing one only stops it, and
// they stop working when d is closed.
func (d *Driver) ForEachNode(ctx context.Context, fn func(ctx context.Context, node conn.Driver) error) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	if d.cluster == nil {
		return fn(ctx, d)
	}
	clients, err := d.cluster.Clients()
	if err != nil {
		return d.convert(err)
	}
	addrs := make([]string, 0, len(clients))
	for addr, rs := range clients {
		if rs.Primary != nil {
			addrs = append(addrs, addr)
		}
	}
	sort.Strings(addrs)
	for _, addr := range addrs {
		cfg := d.cfg
		cfg.own = false
		node := newDriver(clients[addr].Primary, cfg, d.subs)
		node.node = true
		if err := fn(ctx, node); err != nil {
			return err
		}
	}
	return nil
}

// NodeOf implements [conn.NodeRouter]. On a cluster it returns the address
// (host:port, as CLUSTER SLOTS gives it) of the primary that serves key's
// hash slot in the driver's current slot map, or "" when no primary
// serves it; it makes no network call. With any other client it returns
// "": one server serves every key.
//
// The slot map is radix's: read at Open, refreshed every 5 seconds, and,
// with this driver, also at once (in the background, at most once every
// 100 ms) after a MOVED redirection or after a call failed for want of a
// node (a refused, reset or stalled connection, a timeout, CLUSTERDOWN),
// so that NodeOf and the routing of calls follow a failover or a
// resharding within a fraction of a second of the cluster knowing it.
func (d *Driver) NodeOf(key string) string {
	if d.cluster == nil {
		return ""
	}
	return primaryOf(d.cluster.Topo(), conn.Slot(key))
}

const (
	// refreshEvery rate-limits the slot map refreshes of slotRefresh.
	refreshEvery = 100 * time.Millisecond
	// refreshTimeout bounds one refresh (a CLUSTER SLOTS on some node).
	refreshTimeout = 500 * time.Millisecond
)

// slotRefresh refreshes a cluster's slot map in the background when
// calls meet trouble, at most once every refreshEvery and one at a time.
//
// A refresh is never cancelled: radix v4.1.4 reads the late reply of a
// cancelled CLUSTER SLOTS into the topology that Sync is reading (a data
// race). Closing the cluster ends a refresh instead, by closing its
// connection.
type slotRefresh struct {
	cluster *rdx.Cluster

	mu      sync.Mutex
	last    time.Time // when the last refresh started
	running bool
	stopped bool
	wg      sync.WaitGroup
}

func newSlotRefresh(c *rdx.Cluster) *slotRefresh {
	return &slotRefresh{cluster: c}
}

// refresh starts a refresh unless one runs or ran within refreshEvery.
func (r *slotRefresh) refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.stopped || r.running || now.Sub(r.last) < refreshEvery {
		return
	}
	r.running, r.last = true, now
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		// A failed refresh (the node asked was the failed one) is
		// retried by the next call in trouble, refreshEvery later.
		_ = r.cluster.Sync(ctx)
		cancel()
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}()
}

// stop refuses new refreshes.
func (r *slotRefresh) stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
}

// wait waits for the refresh running, if any.
func (r *slotRefresh) wait() { r.wg.Wait() }

// topologyHint reports an error after which the slot map may be stale: a
// redirection, CLUSTERDOWN, or a failure to reach a node. An error reply
// of another kind, a cancellation and a closed driver are not.
func topologyHint(err error) bool {
	var re *conn.ReplyError
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, conn.ErrClosed):
		return false
	case errors.As(err, &re):
		switch re.Prefix() {
		case "MOVED", "CLUSTERDOWN", "TRYAGAIN":
			return true
		}
		return false
	}
	return true
}
