package tests_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// slotRouter gives a cluster driver that does not report its nodes yet a
// conn.NodeRouter, from CLUSTER SLOTS read once. The drivers' own NodeOf
// is used when they have one.
type slotRouter struct {
	conn.Driver
	ranges []slotRange
}

type slotRange struct {
	start, end int64
	node       string
}

func (r slotRouter) NodeOf(key string) string {
	s := int64(conn.Slot(key))
	for _, rg := range r.ranges {
		if s >= rg.start && s <= rg.end {
			return rg.node
		}
	}
	return ""
}

// routed returns d as a conn.NodeRouter.
func routed(t *testing.T, ctx context.Context, d conn.Driver) conn.Driver {
	t.Helper()
	if _, ok := d.(conn.NodeRouter); ok {
		return d
	}
	v, err := d.Do(ctx, "CLUSTER", "SLOTS")
	if err != nil {
		t.Fatalf("CLUSTER SLOTS: %v", err)
	}
	var r slotRouter
	r.Driver = d
	for _, e := range v.([]any) {
		row := e.([]any)
		master := row[2].([]any)
		r.ranges = append(r.ranges, slotRange{row[0].(int64), row[1].(int64), fmt.Sprintf("%s:%d", master[0], master[1])})
	}
	return r
}

// On a cluster, one stalled primary must not turn the cache off for the
// keys the healthy primaries serve: each node has its own breaker.
func TestBreakerPerClusterNode(t *testing.T) {
	cluster := conntest.ClusterAddrs(t)
	for _, tg := range targets(t) {
		if tg.name != "goredis/cluster" && tg.name != "radix/cluster" {
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			ctx := testCtx(t)
			d := routed(t, ctx, tg.open(t))
			prefix := uniquePrefix(t)
			log := &errorLog{}
			m := core.New(core.WithDriver(d), core.WithPrefix(prefix), core.WithErrorHandler(log.handler),
				core.WithTimeout(100*time.Millisecond), core.WithBreaker(3, time.Hour))
			t.Cleanup(func() { m.Close() })
			loads := map[int]int{}
			get := core.Memoize(m, "pernode", func(_ context.Context, i int) (int, error) { loads[i]++; return i, nil })
			// Warm every key on a healthy cluster, with a generous timeout
			// (a cold client may take longer than 100ms); a driver knows
			// its slot map once it has made a call.
			warm, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			// The driver's own first call, outside the Manager's 100ms: a
			// driver that dials lazily connects and loads its slot map
			// here, however loaded the machine.
			if err := d.Set(warm, prefix+":warmup", []byte("1"), time.Minute); err != nil {
				t.Fatal(err)
			}
			byNode := map[string][]int{}
			for i := 0; len(byNode) < len(cluster) || i < 60; i++ {
				if _, err := get.Get(warm, i); err != nil {
					t.Fatal(err)
				}
				key, _ := get.Key(i)
				n := conn.NodeOf(d, key)
				if n == "" {
					t.Fatalf("no node for %s", key)
				}
				byNode[n] = append(byNode[n], i)
			}
			genNode := conn.NodeOf(d, prefix+":pernode:~gen")
			var nodes []string
			for n := range byNode {
				nodes = append(nodes, n)
			}
			sort.Strings(nodes)
			paused := nodes[0]
			if paused == genNode {
				paused = nodes[1] // the function's generation stays readable
			}
			eventually(t, "every key cached", func() bool {
				for _, keys := range byNode {
					for _, i := range keys {
						if _, found, _ := get.Peek(ctx, i); !found {
							get.Get(warm, i)
							return false
						}
					}
				}
				return true
			})

			admin := openGoredis(t, "redis://"+paused)
			const pause = 2500 * time.Millisecond
			if _, err := admin.Do(ctx, "CLIENT", "PAUSE", pause.Milliseconds(), "ALL"); err != nil {
				t.Fatalf("CLIENT PAUSE: %v", err)
			}
			pausedAt := time.Now()
			t.Cleanup(func() { time.Sleep(time.Until(pausedAt.Add(pause + 100*time.Millisecond))) })

			statsBefore := m.Stats()
			before := map[int]int{}
			for k, v := range loads {
				before[k] = v
			}
			for round := 0; time.Since(pausedAt) < pause-700*time.Millisecond; round++ {
				for _, n := range nodes {
					for _, i := range byNode[n] {
						if v, err := get.Get(ctx, i); err != nil || v != i {
							t.Fatalf("Get(%d) with node %s paused = %v, %v", i, paused, v, err)
						}
					}
				}
			}
			if time.Since(pausedAt) > pause {
				t.Fatal("the calls outlasted the pause: nothing was bounded")
			}
			s := m.Stats()
			t.Logf("while %s was paused: %d hits, %d bypassed, %d loads, %d Redis errors", paused,
				s.Hits-statsBefore.Hits, s.Bypassed-statsBefore.Bypassed, s.Loads-statsBefore.Loads, s.RedisErrors-statsBefore.RedisErrors)
			if s.Breaker != core.BreakerOpen {
				t.Fatalf("Stats().Breaker = %v: the paused node's breaker did not open", s.Breaker)
			}
			for _, n := range nodes {
				if n == paused {
					continue
				}
				for _, i := range byNode[n] {
					if loads[i] != before[i] {
						t.Fatalf("key %d on healthy node %s was loaded %d times while %s was paused: its hits stopped",
							i, n, loads[i]-before[i], paused)
					}
				}
			}
		})
	}
}
