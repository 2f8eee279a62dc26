package radix

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
)

func TestGroupByNode(t *testing.T) {
	topo := rdx.ClusterTopo{
		{Addr: "a", Slots: [][2]uint16{{0, 8192}}},
		{Addr: "b", Slots: [][2]uint16{{8192, 16384}}},
		{Addr: "b2", Slots: [][2]uint16{{8192, 16384}}, SecondaryOfAddr: "b"},
	}
	onA, onB := "foo{b}", "foo{a}" // conn.Slot("b") = 3300, conn.Slot("a") = 15495
	if primaryOf(topo, conn.Slot(onA)) != "a" || primaryOf(topo, conn.Slot(onB)) != "b" {
		t.Fatalf("test keys: %q on %s, %q on %s", onA, primaryOf(topo, conn.Slot(onA)), onB, primaryOf(topo, conn.Slot(onB)))
	}
	keyed := func(name, key string) *action {
		a := keyAction(opArgs, key, kindAny)
		a.name = name
		return a
	}
	keyless := func(name string) *action { return &action{op: opArgs, name: name} }

	cases := []struct {
		acts []*action
		want [][]string // names per pipe, pipes in order of first appearance
	}{
		{[]*action{keyed("1", onA), keyed("2", onB), keyed("3", onA)}, [][]string{{"1", "3"}, {"2"}}},
		// MULTI joins the command after it, EXEC the one before it.
		{[]*action{keyless("MULTI"), keyed("SET", onB), keyless("EXEC"), keyed("GET", onA)}, [][]string{{"MULTI", "SET", "EXEC"}, {"GET"}}},
		{[]*action{keyed("GET", onA), keyless("PING"), keyed("GET2", onB), keyless("PING2")}, [][]string{{"GET", "PING"}, {"GET2", "PING2"}}},
		{[]*action{keyless("PING"), keyless("PING2")}, [][]string{{"PING", "PING2"}}},
	}
	for i, c := range cases {
		var got [][]string
		pipes, addrs := groupByNode(topo, c.acts)
		if len(addrs) != len(pipes) {
			t.Fatalf("case %d: %d pipes, %d addresses", i, len(pipes), len(addrs))
		}
		for _, p := range pipes {
			var names []string
			for _, a := range p.acts {
				names = append(names, a.name)
			}
			got = append(got, names)
			if p.routed != anyRouted(p.acts) {
				t.Errorf("case %d: pipe routing %v for %v", i, p.routed, names)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("case %d: pipes %v, want %v", i, got, c.want)
		}
	}
}

func anyRouted(acts []*action) bool {
	for _, a := range acts {
		if a.routed {
			return true
		}
	}
	return false
}

// TestClusterRedirects sends pipelines grouped by a wrong topology, as after
// a resharding the driver has not seen yet: every command meets MOVED, and
// must be sent again to the right node and answer as if nothing happened.
func TestClusterRedirects(t *testing.T) {
	v := os.Getenv(conntest.EnvCluster)
	if v == "" {
		conntest.ClusterAddrs(t) // skips, or fails under the test runner
		return
	}
	addrs := strings.Split(v, ",")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Open(ctx, "redis://"+strings.Join(addrs, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// Give every primary's slots to the next primary.
	prims := d.cluster.Topo().Primaries()
	if len(prims) < 2 {
		t.Skip("needs a cluster of two primaries or more")
	}
	wrong := make(rdx.ClusterTopo, len(prims))
	for i, n := range prims {
		wrong[i] = rdx.ClusterNode{Addr: prims[(i+1)%len(prims)].Addr, Slots: n.Slots}
	}

	clients, err := d.cluster.Clients()
	if err != nil {
		t.Fatal(err)
	}
	direct := map[string]rdx.Client{}
	for addr, rs := range clients {
		direct[addr] = rs.Primary.(rdx.Client)
	}

	var keys []string
	defer func() { _, _ = d.Del(context.Background(), keys...) }()
	var acts []*action
	for i := 0; i < 40; i++ {
		k := fmt.Sprintf("radixtest:moved:%d:%d", time.Now().UnixNano(), i)
		keys = append(keys, k)
		for _, args := range [][]any{{"SET", k, i}, {"INCR", k}, {"GET", k}} {
			a, err := argsAction(args, false)
			if err != nil {
				t.Fatal(err)
			}
			acts = append(acts, a)
		}
	}
	before := movedCount(t, d)
	if err := d.runOnNodes(ctx, wrong, direct, acts); err != nil {
		t.Fatal(err)
	}
	if n := movedCount(t, d) - before; n < int64(len(acts)) {
		t.Fatalf("the servers answered MOVED %d times for %d commands sent to the wrong nodes", n, len(acts))
	}
	for i := 0; i < 40; i++ {
		set, incr, get := acts[3*i], acts[3*i+1], acts[3*i+2]
		if r, err := set.reply.result(); r != "OK" || err != nil {
			t.Fatalf("SET %d = %#v, %v", i, r, err)
		}
		if r, err := incr.reply.result(); r != int64(i+1) || err != nil {
			t.Fatalf("INCR %d = %#v, %v", i, r, err)
		}
		if r, err := get.reply.result(); r != fmt.Sprint(i+1) || err != nil {
			t.Fatalf("GET %d = %#v, %v", i, r, err)
		}
	}
}

// movedCount sums the MOVED error replies the cluster's primaries sent.
func movedCount(t *testing.T, d *Driver) int64 {
	t.Helper()
	var total int64
	err := d.ForEachNode(context.Background(), func(ctx context.Context, node conn.Driver) error {
		v, err := node.Do(ctx, "INFO", "errorstats")
		if err != nil {
			return err
		}
		info, _ := v.(string)
		for _, line := range strings.Split(info, "\r\n") {
			var n int64
			if _, err := fmt.Sscanf(line, "errorstat_MOVED:count=%d", &n); err == nil {
				total += n
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}
