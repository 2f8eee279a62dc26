package radix_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

// slotOwners reads CLUSTER SLOTS through d: the primary's host:port for
// every slot.
func slotOwners(t *testing.T, d conn.Driver) [conn.SlotCount]string {
	t.Helper()
	v, err := d.Do(ctxT(t), "CLUSTER", "SLOTS")
	must(t, err)
	var owners [conn.SlotCount]string
	for _, r := range v.([]any) {
		rng := r.([]any)
		lo, hi := rng[0].(int64), rng[1].(int64)
		prim := rng[2].([]any)
		addr := fmt.Sprintf("%s:%d", prim[0].(string), prim[1].(int64))
		for s := lo; s <= hi; s++ {
			owners[s] = addr
		}
	}
	return owners
}

// TestNodeOf checks that NodeOf agrees with the cluster's own CLUSTER
// KEYSLOT and CLUSTER SLOTS, and is "" on a standalone server.
func TestNodeOf(t *testing.T) {
	standalone := openT(t, "redis://"+conntest.RedisAddr(t))
	if n := standalone.NodeOf("k"); n != "" {
		t.Errorf("NodeOf on a standalone server = %q, want \"\"", n)
	}
	if n := conn.NodeOf(standalone, "k"); n != "" {
		t.Errorf("conn.NodeOf on a standalone server = %q, want \"\"", n)
	}

	d := openT(t, clusterURL(conntest.ClusterAddrs(t)))
	ctx := ctxT(t)
	owners := slotOwners(t, d)
	keys := []string{"", "a", "{user1}.name", "{user1}.mail", "foo{}{bar}", "{}x", "x{y"}
	for i := 0; i < 300; i++ {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		keys = append(keys, hex.EncodeToString(b))
	}
	seen := map[string]int{}
	for _, k := range keys {
		v, err := d.Do(ctx, "CLUSTER", "KEYSLOT", k)
		must(t, err)
		want := owners[v.(int64)]
		got := d.NodeOf(k)
		if got != want || conn.NodeOf(d, k) != want {
			t.Errorf("NodeOf(%q) = %q, want %q (slot %d)", k, got, want, v)
		}
		seen[got]++
	}
	if len(seen) < 2 {
		t.Errorf("300 keys all on %v: want them spread over the primaries", seen)
	}
}

// ownedCluster is a Redis Cluster of primaries without replicas that a
// test starts, so that it may move slots and kill nodes.
type ownedCluster struct {
	nodes []*conntest.Process
	ids   []string
}

// clusterNodeArgs are the redis-server arguments of an owned cluster's
// nodes: a node timeout of 2 s, and the slots of live nodes served when
// others fail.
var clusterNodeArgs = []string{"--cluster-enabled", "yes",
	"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
	"--cluster-require-full-coverage", "no"}

// startCluster starts n primaries, each with an equal share of the slots,
// and waits until every node agrees on the slot map.
func startCluster(t *testing.T, n int) *ownedCluster {
	t.Helper()
	c := &ownedCluster{}
	for i := 0; i < n; i++ {
		c.nodes = append(c.nodes, conntest.StartRedis(t, clusterNodeArgs...))
	}
	ctx := ctxT(t)
	per := conn.SlotCount / n
	for i, r := range c.nodes {
		d := openT(t, "redis://"+r.Addr())
		id, err := d.Do(ctx, "CLUSTER", "MYID")
		must(t, err)
		c.ids = append(c.ids, id.(string))
		lo, hi := i*per, (i+1)*per-1
		if i == n-1 {
			hi = conn.SlotCount - 1
		}
		_, err = d.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi)
		must(t, err)
		if i > 0 {
			_, err = d.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", c.nodes[0].Port())
			must(t, err)
		}
	}
	c.waitAgreed(t)
	return c
}

// waitAgreed waits until every live node reports cluster_state:ok and
// the same slot map.
func (c *ownedCluster) waitAgreed(t *testing.T, skip ...int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		agreed, why := c.agreed(t, skip)
		if agreed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not settle: %s", why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *ownedCluster) agreed(t *testing.T, skip []int) (bool, string) {
	var first [conn.SlotCount]string
	for i, r := range c.nodes {
		if contains(skip, i) {
			continue
		}
		d := openT(t, "redis://"+r.Addr())
		info, err := d.Do(ctxT(t), "CLUSTER", "INFO")
		if err != nil {
			return false, err.Error()
		}
		if !strings.Contains(info.(string), "cluster_state:ok") {
			return false, r.Addr() + " not ok"
		}
		owners := slotOwners(t, d)
		if i == 0 || (len(skip) > 0 && i == 1 && contains(skip, 0)) {
			first = owners
		} else if owners != first {
			return false, r.Addr() + " sees another slot map"
		}
		_ = d.Close()
	}
	return true, ""
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// moveSlot gives slot, which holds no key, to node to, telling every live
// node.
func (c *ownedCluster) moveSlot(t *testing.T, slot int64, to int, skip ...int) {
	t.Helper()
	for i, r := range c.nodes {
		if contains(skip, i) {
			continue
		}
		d := openT(t, "redis://"+r.Addr())
		_, err := d.Do(ctxT(t), "CLUSTER", "SETSLOT", slot, "NODE", c.ids[to])
		must(t, err)
		_ = d.Close()
	}
}

// keyOn returns a key whose slot node i serves, with its slot.
func keyOn(t *testing.T, d *radix.Driver, addr string) (string, int64) {
	t.Helper()
	for i := 0; i < 100000; i++ {
		k := "radixtest:route:" + strconv.Itoa(i)
		if d.NodeOf(k) == addr {
			return k, int64(conn.Slot(k))
		}
	}
	t.Fatalf("no key on %s", addr)
	return "", 0
}

// TestSlotMapFollowsMoved moves a slot behind the driver's back: the call
// that meets the MOVED redirection succeeds, and NodeOf follows at once.
func TestSlotMapFollowsMoved(t *testing.T) {
	c := startCluster(t, 3)
	d := openT(t, "redis://"+c.nodes[0].Addr()+"?cluster=true")
	ctx := ctxT(t)
	k, slot := keyOn(t, d, c.nodes[1].Addr())
	c.moveSlot(t, slot, 2)
	c.waitAgreed(t)

	if got := d.NodeOf(k); got != c.nodes[1].Addr() {
		t.Fatalf("NodeOf before any call = %q, want the old owner %s (no network call)", got, c.nodes[1].Addr())
	}
	must(t, d.Set(ctx, k, []byte("v"), time.Minute))
	if got := d.NodeOf(k); got != c.nodes[2].Addr() {
		t.Fatalf("NodeOf after a MOVED = %q, want the new owner %s", got, c.nodes[2].Addr())
	}
	got, err := d.Get(ctx, k)
	must(t, err)
	if string(got) != "v" {
		t.Fatalf("Get = %q", got)
	}
}

// TestSlotMapFollowsFailedNode moves a slot away from a node, then kills
// the node: the driver, whose slot map still names the dead node, learns
// the new owner from the connection errors, and calls on that slot
// succeed within a second, long before radix's periodic refresh.
func TestSlotMapFollowsFailedNode(t *testing.T) {
	c := startCluster(t, 3)
	d := openT(t, "redis://"+c.nodes[0].Addr()+"?cluster=true")
	k, slot := keyOn(t, d, c.nodes[2].Addr())
	c.moveSlot(t, slot, 0, 2) // node 2 is not told: it is about to die
	c.nodes[2].Kill()
	killed := time.Now()

	st := &faultStats{}
	var err error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		_, err = d.Get(ctx, k)
		cancel()
		if err == conn.ErrMiss {
			err = nil
		}
		st.add(time.Since(start), err)
		if err == nil || time.Since(killed) > 3*time.Second {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec := time.Since(killed)
	t.Logf("radix cluster, slot moved and its old node killed: %v; served again after %v", st, rec.Round(time.Millisecond))
	if err != nil {
		t.Fatalf("calls on the moved slot still fail %v after the old node died: %v", rec, err)
	}
	if rec > time.Second {
		t.Errorf("calls on the moved slot came back after %v, want within 1 s", rec)
	}
	if got := d.NodeOf(k); got != c.nodes[0].Addr() {
		t.Errorf("NodeOf = %q, want the new owner %s", got, c.nodes[0].Addr())
	}
}

// addReplicas gives each of the n primaries (nodes 0 to n-1) a replica,
// nodes n to 2n-1, and waits until each replica is in sync.
func (c *ownedCluster) addReplicas(t *testing.T) {
	t.Helper()
	ctx := ctxT(t)
	n := len(c.nodes)
	for i := 0; i < n; i++ {
		r := conntest.StartRedis(t, clusterNodeArgs...)
		d := openT(t, "redis://"+r.Addr())
		id, err := d.Do(ctx, "CLUSTER", "MYID")
		must(t, err)
		_, err = d.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", c.nodes[0].Port())
		must(t, err)
		c.nodes = append(c.nodes, r)
		c.ids = append(c.ids, id.(string))
	}
	for i := n; i < 2*n; i++ {
		d := openT(t, "redis://"+c.nodes[i].Addr())
		deadline := time.Now().Add(20 * time.Second)
		for { // the replica must know its primary first
			_, err := d.Do(ctx, "CLUSTER", "REPLICATE", c.ids[i-n])
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("CLUSTER REPLICATE on %s: %v", c.nodes[i].Addr(), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for {
			info, err := d.Do(ctx, "INFO", "replication")
			must(t, err)
			if strings.Contains(info.(string), "master_link_status:up") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the replica %s did not sync", c.nodes[i].Addr())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	c.waitAgreed(t)
}

// TestClusterFailover kills a primary of a 3+3 cluster under a steady load
// of calls on two keys, one on the killed primary and one on a healthy
// one. The healthy key is served throughout; the other is a hit again
// within 2 s of its replica's promotion.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("a failover takes seconds")
	}
	c := startCluster(t, 3)
	c.addReplicas(t)
	d := openT(t, "redis://"+c.nodes[0].Addr()+"?cluster=true")
	ctx := ctxT(t)
	dead, deadSlot := keyOn(t, d, c.nodes[0].Addr())
	healthy, _ := keyOn(t, d, c.nodes[1].Addr())
	must(t, d.Set(ctx, dead, []byte("v"), time.Minute))
	must(t, d.Set(ctx, healthy, []byte("v"), time.Minute))
	direct := openT(t, "redis://"+c.nodes[0].Addr())
	_, err := direct.Do(ctx, "WAIT", 1, 5000) // the replica has the key
	must(t, err)

	type result struct {
		at   time.Time
		took time.Duration
		err  error
	}
	results := map[string]chan []result{}
	stop := make(chan struct{})
	for _, k := range []string{dead, healthy} {
		ch := make(chan []result, 1)
		results[k] = ch
		go func(k string) {
			var rs []result
			for {
				select {
				case <-stop:
					ch <- rs
					return
				default:
				}
				cctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				start := time.Now()
				v, err := d.Get(cctx, k)
				cancel()
				if err == nil && string(v) != "v" {
					err = fmt.Errorf("read %q", v)
				}
				rs = append(rs, result{at: time.Now(), took: time.Since(start), err: err})
				time.Sleep(10 * time.Millisecond)
			}
		}(k)
	}

	time.Sleep(100 * time.Millisecond)
	c.nodes[0].Kill()
	killed := time.Now()
	// The promotion, as a surviving primary sees it.
	watch := openT(t, "redis://"+c.nodes[1].Addr())
	var promoted time.Time
	for promoted.IsZero() {
		owners := slotOwners(t, watch)
		if o := owners[deadSlot]; o != "" && o != c.nodes[0].Addr() {
			promoted = time.Now()
			break
		}
		if time.Since(killed) > 20*time.Second {
			close(stop)
			t.Fatal("no replica was promoted within 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond)
	close(stop)

	for _, k := range []string{healthy, dead} {
		st := &faultStats{}
		var back time.Time
		for _, r := range <-results[k] {
			st.add(r.took, r.err)
			if r.err != nil {
				back = time.Time{}
			} else if back.IsZero() && r.at.After(killed) {
				back = r.at
			}
		}
		name := "key on a healthy primary"
		if k == dead {
			name = "key on the killed primary"
		}
		switch {
		case back.IsZero():
			t.Errorf("%s: not served again by the end: %v", name, st)
		case k == dead:
			t.Logf("radix cluster failover, %s: %v; promotion %v after the kill, hits back %v after the promotion",
				name, st, promoted.Sub(killed).Round(time.Millisecond), back.Sub(promoted).Round(time.Millisecond))
			if back.Sub(promoted) > 2*time.Second {
				t.Errorf("%s: hits came back %v after the promotion, want within 2 s", name, back.Sub(promoted))
			}
		default:
			t.Logf("radix cluster failover, %s: %v", name, st)
			if st.errs > 0 {
				t.Errorf("%s: %d errors during the failover of another primary", name, st.errs)
			}
		}
	}
}
