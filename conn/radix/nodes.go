package radix

import (
	"context"
	"sort"

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
