package radix

import (
	"context"
	"strings"
	"sync"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/redcache/redcache/conn"
)

// Pipeline implements [conn.Driver.Pipeline]. The commands are written
// together and their replies read back in order, on one connection: a
// MULTI ... EXEC inside one Pipeline call is a transaction no other call
// can interleave with. A command whose arguments cannot be sent, or that
// would change a shared connection's state (see [ErrStatefulCommand]),
// gets that error in its Err and is not sent; the others are.
//
// On a cluster the commands are grouped by the node that holds the hash
// slot of their first key, one pipeline per node, run concurrently; a
// command without a key joins the group of the keyed command before it (or
// after it, when it comes first), which keeps a MULTI with the commands
// it wraps. A command answered by a MOVED or ASK redirection (the cluster
// is resharding) is sent again on its own, through radix's redirection
// handling. When one node's pipeline fails as a whole, its commands get the
// error in Err and Pipeline returns it; the other nodes' commands keep
// their replies.
func (d *Driver) Pipeline(ctx context.Context, cmds ...*conn.Cmd) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	if len(cmds) == 0 {
		return nil
	}
	acts := make([]*action, len(cmds))
	send := make([]*action, 0, len(cmds))
	for i, c := range cmds {
		c.Reply, c.Err = nil, nil
		a, err := argsAction(c.Args, false)
		if err != nil {
			c.Err = err
			continue
		}
		acts[i] = a
		send = append(send, a)
	}
	var err error
	switch {
	case len(send) == 0:
	case d.cluster != nil:
		err = d.runCluster(ctx, send)
	default:
		if err = d.do(ctx, newPipe(send, true)); err != nil {
			for _, a := range send {
				a.xerr = err
			}
		}
	}
	for i, a := range acts {
		if a == nil {
			continue
		}
		if a.xerr != nil {
			cmds[i].Err = a.xerr
			continue
		}
		cmds[i].Reply, cmds[i].Err = a.reply.result()
	}
	return err
}

// perSlot runs one command name per hash slot of keys on the cluster, each
// with the keys of its slot, and returns the actions and, for each, the
// positions in keys of the keys it carried.
func (d *Driver) perSlot(ctx context.Context, name string, keys []string, k kind) ([]*action, [][]int, error) {
	var (
		acts  []*action
		idx   [][]int
		slots = make(map[uint16]int)
	)
	for i, key := range keys {
		s := conn.Slot(key)
		j, ok := slots[s]
		if !ok {
			j = len(acts)
			slots[s] = j
			a := keyAction(opKeys, key, k)
			a.name = name
			acts = append(acts, a)
			idx = append(idx, nil)
		}
		acts[j].keys = append(acts[j].keys, key)
		idx[j] = append(idx[j], i)
	}
	var err error
	if len(acts) == 1 {
		err = d.do(ctx, acts[0]) // one slot: no pipeline needed
	} else {
		err = d.runCluster(ctx, acts)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, a := range acts {
		if a.xerr != nil {
			return nil, nil, a.xerr
		}
		if a.reply.err != nil {
			return nil, nil, a.reply.err
		}
	}
	return acts, idx, nil
}

// runCluster sends acts in one pipeline per cluster node, concurrently,
// then sends again on its own each action redirected by MOVED or ASK. A
// pipeline that fails as a whole sets xerr in its actions; runCluster
// returns the first such error.
func (d *Driver) runCluster(ctx context.Context, acts []*action) error {
	return d.runOnNodes(ctx, d.cluster.Topo(), nil, acts)
}

// runOnNodes is runCluster with the topology to group by. Each pipe goes
// through the cluster, routed by a key of its node, or, for tests, straight
// to the client of its node in direct.
func (d *Driver) runOnNodes(ctx context.Context, topo rdx.ClusterTopo, direct map[string]rdx.Client, acts []*action) error {
	pipes, nodes := groupByNode(topo, acts)
	send := func(i int) error {
		if c := direct[nodes[i]]; c != nil {
			if err := c.Do(ctx, pipes[i]); err != nil {
				return d.convert(err)
			}
			return nil
		}
		return d.do(ctx, pipes[i])
	}
	errs := make([]error, len(pipes))
	if len(pipes) == 1 {
		errs[0] = send(0)
	} else {
		var wg sync.WaitGroup
		for i := range pipes {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = send(i)
			}(i)
		}
		wg.Wait()
	}
	var first error
	for i, p := range pipes {
		if errs[i] == nil {
			continue
		}
		if first == nil {
			first = errs[i]
			d.trouble(first) // d.do did, but not the direct sends of tests
		}
		for _, a := range p.acts {
			a.xerr = errs[i]
		}
	}
	// Redirections: in the order of the commands, so that a SET and the
	// GET after it, both moved, still run in that order.
	for _, a := range acts {
		if a.xerr != nil || !isRedirect(a.reply.err) {
			continue
		}
		if err := d.check(ctx); err != nil {
			a.xerr = err
			continue
		}
		b := *a
		b.reply = reply{kind: a.reply.kind}
		err := d.client.Do(ctx, &b)
		switch {
		case err == nil:
			a.reply = b.reply
		case isReplyErr(err):
			a.reply = reply{kind: a.reply.kind, err: d.convert(err).(*conn.ReplyError)}
		default:
			a.xerr = d.convert(err)
		}
	}
	return first
}

func isRedirect(re *conn.ReplyError) bool {
	return re != nil && (strings.HasPrefix(re.Msg, "MOVED ") || strings.HasPrefix(re.Msg, "ASK "))
}

// groupByNode splits acts into one pipe per primary of topo, each routed
// by a key of its own node, keeping the order of acts within each pipe, and
// returns the pipes and their nodes' addresses. Actions without a key go
// with the keyed action before them, or else after them; with no keyed
// action at all, the one pipe goes to any node.
func groupByNode(topo rdx.ClusterTopo, acts []*action) ([]*pipe, []string) {
	nodes := make([]string, len(acts))
	keyed := -1 // last keyed action seen
	for i, a := range acts {
		if !a.routed {
			continue
		}
		nodes[i] = primaryOf(topo, conn.Slot(a.route[0]))
		if keyed < 0 {
			for j := 0; j < i; j++ { // keyless ones before the first keyed one
				nodes[j] = nodes[i]
			}
		} else {
			for j := keyed + 1; j < i; j++ {
				nodes[j] = nodes[keyed]
			}
		}
		keyed = i
	}
	if keyed >= 0 {
		for j := keyed + 1; j < len(acts); j++ {
			nodes[j] = nodes[keyed]
		}
	}

	byNode := make(map[string]int)
	var (
		groups [][]*action
		addrs  []string
	)
	for i, a := range acts {
		g, ok := byNode[nodes[i]]
		if !ok {
			g = len(groups)
			byNode[nodes[i]] = g
			groups = append(groups, nil)
			addrs = append(addrs, nodes[i])
		}
		groups[g] = append(groups[g], a)
	}
	pipes := make([]*pipe, len(groups))
	for i, g := range groups {
		pipes[i] = newPipe(g, true)
	}
	return pipes, addrs
}

// primaryOf returns the address of the primary serving slot s, or "" when
// topo does not know it (the pipe is then routed by its key and the
// commands redirected as needed).
func primaryOf(topo rdx.ClusterTopo, s uint16) string {
	for _, n := range topo {
		if n.SecondaryOfAddr != "" {
			continue
		}
		for _, r := range n.Slots {
			if s >= r[0] && s < r[1] {
				return n.Addr
			}
		}
	}
	return ""
}
