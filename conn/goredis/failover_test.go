package goredis_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redis/go-redis/v9"
)

// ownedCluster is a Redis Cluster of 3 primaries and 3 replicas that a
// test starts on loopback, with a node timeout of 2 s, so that it may kill
// a primary and watch its replica take over.
type ownedCluster struct {
	nodes []*conntest.Process
}

func startCluster(t *testing.T) *ownedCluster {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not found")
	}
	c := &ownedCluster{}
	var addrs []string
	for range 6 {
		r := conntest.StartRedis(t, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
			"--cluster-replica-validity-factor", "0", "--cluster-config-file", "nodes.conf")
		c.nodes = append(c.nodes, r)
		addrs = append(addrs, r.Addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node sees a healthy cluster with its replicas in sync.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c.healthy(t, nil) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("the cluster did not come up")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// addrs returns the addresses of the nodes.
func (c *ownedCluster) addrs() []string {
	var a []string
	for _, n := range c.nodes {
		a = append(a, n.Addr())
	}
	return a
}

// nodeInfo runs a command on one node.
func nodeDo(addr string, args ...any) (any, error) {
	cl := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, MaxRetries: -1})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return cl.Do(ctx, args...).Result()
}

// healthy reports whether every live node (all but dead) says the cluster
// is ok and has 3 primaries each with an in-sync replica, unless dead.
func (c *ownedCluster) healthy(t *testing.T, dead *conntest.Process) bool {
	t.Helper()
	for _, n := range c.nodes {
		if n == dead {
			continue
		}
		v, err := nodeDo(n.Addr(), "CLUSTER", "INFO")
		if err != nil || !strings.Contains(fmt.Sprint(v), "cluster_state:ok") {
			return false
		}
	}
	if dead != nil {
		return true
	}
	masters := 0
	for _, n := range c.nodes {
		v, err := nodeDo(n.Addr(), "INFO", "replication")
		if err != nil {
			return false
		}
		s := fmt.Sprint(v)
		if strings.Contains(s, "role:master") {
			if !strings.Contains(s, "connected_slaves:1") {
				return false
			}
			masters++
		} else if !strings.Contains(s, "master_link_status:up") {
			return false
		}
	}
	return masters == 3
}

// primaryOf returns the node that is the primary serving key.
func (c *ownedCluster) primaryOf(t *testing.T, key string) *conntest.Process {
	t.Helper()
	for _, n := range c.nodes {
		v, err := nodeDo(n.Addr(), "INFO", "replication")
		if err != nil || !strings.Contains(fmt.Sprint(v), "role:master") {
			continue
		}
		// A primary answers a READONLY-less GET for its own keys; others
		// answer MOVED.
		_, err = nodeDo(n.Addr(), "GET", key)
		if err == nil || errors.Is(err, redis.Nil) {
			return n
		}
	}
	t.Fatalf("no primary serves %s", key)
	return nil
}

// promoted waits until a live node other than dead is the primary of
// key's slot, as the cluster itself says, and returns when.
func (c *ownedCluster) promoted(t *testing.T, dead *conntest.Process, key string, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, n := range c.nodes {
			if n == dead {
				continue
			}
			v, err := nodeDo(n.Addr(), "INFO", "replication")
			if err != nil || !strings.Contains(fmt.Sprint(v), "role:master") {
				continue
			}
			if _, err := nodeDo(n.Addr(), "GET", key); err == nil || errors.Is(err, redis.Nil) {
				return time.Now()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica took over %s within %v", key, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failoverBound is how soon after a replica's promotion every key must be
// a hit again (issue 9, item 4).
const failoverBound = 2 * time.Second

func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3+3 cluster and waits for a failover")
	}
	c := startCluster(t)
	d, err := goredis.Open(context.Background(), "redis+cluster://"+strings.Join(c.addrs(), ","))
	must(t, err)
	t.Cleanup(func() { _ = d.Close() })

	// Keys on every primary, replicated before the kill.
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = fmt.Sprintf("goredis-test:failover:%d", i)
		must(t, d.Set(ctxT(t), keys[i], []byte(keys[i]), 0))
	}
	must(t, d.ForEachNode(ctxT(t), func(ctx context.Context, node conn.Driver) error {
		_, err := node.Do(ctx, "WAIT", 1, 2000)
		return err
	}))

	victim := c.primaryOf(t, keys[0])
	oldAddr := victim.Addr()
	if got := d.NodeOf(keys[0]); got != oldAddr {
		t.Fatalf("NodeOf(%s) = %q before the failover, want %s", keys[0], got, oldAddr)
	}
	onVictim := map[string]bool{}
	for _, k := range keys {
		onVictim[k] = d.NodeOf(k) == oldAddr
	}

	// A load on every key: 16 callers, 300 ms deadlines.
	var (
		stop                      = make(chan struct{})
		wg                        sync.WaitGroup
		healthyCalls, healthyHits atomic.Int64
		st                        faultStats
		mu                        sync.Mutex
		lastFail                  = map[string]time.Time{}
		lastHit                   = map[string]time.Time{}
	)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i += 16 {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[i%len(keys)]
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				start := time.Now()
				v, err := d.Get(ctx, k)
				el := time.Since(start)
				cancel()
				st.add(el, err)
				hit := err == nil && string(v) == k
				if !onVictim[k] {
					healthyCalls.Add(1)
					if hit {
						healthyHits.Add(1)
					}
				}
				mu.Lock()
				if hit {
					lastHit[k] = time.Now()
				} else {
					lastFail[k] = time.Now()
				}
				mu.Unlock()
				if !hit {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	victim.Kill()
	killed := time.Now()
	promotedAt := c.promoted(t, victim, keys[0], 30*time.Second)
	t.Logf("fault %-28s replica promoted %v after the SIGKILL", "cluster primary SIGKILL", promotedAt.Sub(killed).Round(time.Millisecond))

	// Wait until every key was a hit after its last failure, or the bound.
	var allBack time.Time
	for time.Since(promotedAt) < failoverBound+3*time.Second {
		mu.Lock()
		back := true
		for _, k := range keys {
			h := lastHit[k]
			if !h.After(lastFail[k]) || onVictim[k] && !h.After(promotedAt) {
				back = false
				break
			}
		}
		mu.Unlock()
		if back {
			allBack = time.Now()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	nodeOfAt := d.NodeOf(keys[0])
	close(stop)
	wg.Wait()
	st.log(t, "cluster primary SIGKILL")
	t.Logf("fault %-28s keys on healthy primaries: %d of %d calls were hits during the failover", "cluster primary SIGKILL", healthyHits.Load(), healthyCalls.Load())
	if allBack.IsZero() {
		t.Fatalf("not every key was a hit again within %v of the promotion", failoverBound+3*time.Second)
	}
	rec := allBack.Sub(promotedAt)
	t.Logf("fault %-28s every key a hit again %v after the promotion", "cluster primary SIGKILL", rec.Round(time.Millisecond))
	if rec > failoverBound {
		t.Errorf("hits came back %v after the promotion, want within %v", rec, failoverBound)
	}
	if nodeOfAt == oldAddr || nodeOfAt == "" {
		t.Errorf("NodeOf(%s) = %q after the failover, want the promoted replica", keys[0], nodeOfAt)
	}
}

func TestNodeOf(t *testing.T) {
	addrs := conntest.ClusterAddrs(t)
	d, err := goredis.Open(context.Background(), "redis+cluster://"+strings.Join(addrs, ","))
	must(t, err)
	t.Cleanup(func() { _ = d.Close() })
	if got := d.NodeOf("k"); got != "" {
		t.Fatalf("NodeOf before any command = %q, want \"\" (no slot map yet)", got)
	}
	primaries := map[string]bool{}
	must(t, d.ForEachNode(ctxT(t), func(ctx context.Context, node conn.Driver) error {
		if _, err := node.Do(ctx, "PING"); err != nil {
			return err
		}
		primaries[node.(*goredis.Driver).Client().(*redis.Client).Options().Addr] = true
		return nil
	}))
	_, err = d.Get(ctxT(t), "goredis-test:nodeof")
	if !errors.Is(err, conn.ErrMiss) {
		must(t, err)
	}
	seen := map[string]bool{}
	for i := range 200 {
		k := fmt.Sprintf("goredis-test:nodeof:%d", i)
		n := d.NodeOf(k)
		if !primaries[n] {
			t.Fatalf("NodeOf(%s) = %q, not a primary of %v", k, n, primaries)
		}
		// The node named serves the key itself: no MOVED.
		if _, err := nodeDo(n, "GET", k); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("GET %s on NodeOf's %s: %v", k, n, err)
		}
		seen[n] = true
	}
	if len(seen) != len(primaries) {
		t.Errorf("200 keys went to %d nodes of %d", len(seen), len(primaries))
	}
	// A driver whose first command is a hit knows the slot map too.
	k := "goredis-test:nodeof:hit"
	must(t, d.Set(ctxT(t), k, []byte("v"), time.Minute))
	d2 := mustOpen(t, "redis+cluster://"+strings.Join(addrs, ","))
	if _, err := d2.Get(ctxT(t), k); err != nil {
		t.Fatal(err)
	}
	if got := conn.NodeOf(d2, k); got != d.NodeOf(k) || got == "" {
		t.Errorf("NodeOf after a hit = %q, want %q", got, d.NodeOf(k))
	}
	if got := conn.NodeOf(mustOpen(t, "redis://"+conntest.RedisAddr(t)), "k"); got != "" {
		t.Errorf("NodeOf on a single node = %q, want \"\"", got)
	}
}

func mustOpen(t *testing.T, rawURL string) conn.Driver {
	t.Helper()
	d, err := goredis.Open(context.Background(), rawURL)
	must(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestClusterWatchEndsWithClose checks that the slot map watch a failure
// starts ends when the driver is closed.
func TestClusterWatchEndsWithClose(t *testing.T) {
	addrs := conntest.ClusterAddrs(t)
	before := runtime.NumGoroutine()
	d, err := goredis.Open(context.Background(), "redis+cluster://"+strings.Join(addrs, ","))
	must(t, err)
	if _, err := d.Get(ctxT(t), "goredis-test:watch"); !errors.Is(err, conn.ErrMiss) {
		must(t, err)
	}
	// A call that runs out of time may come from a stale slot map.
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	time.Sleep(time.Millisecond)
	_, err = d.Get(ctx, "goredis-test:watch")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with an expired deadline: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // the watch reloads at least once
	must(t, d.Close())
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
