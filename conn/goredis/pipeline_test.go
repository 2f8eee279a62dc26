package goredis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
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

// TestPipelineFaults runs the auto-pipelining fault cases every driver
// shares (a stall and a kill under 64 callers, mid-batch), with
// auto-pipelining on (the default) and off.
func TestPipelineFaults(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := "on"
		if !on {
			name = "off"
		}
		t.Run(name, func(t *testing.T) {
			conntest.RunPipelineFaults(t, func(t *testing.T, addr string) conn.Driver {
				d, err := goredis.Open(context.Background(), "redis://"+addr, goredis.WithAutoPipeline(on))
				must(t, err)
				return d
			})
		})
	}
}

// TestInterleaved runs the interleaved case (48 callers whose commands
// share batches, mixed with callers that give up within 2 ms) on a single
// server and on a cluster, with auto-pipelining on and off.
func TestInterleaved(t *testing.T) {
	servers := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"Standalone", func(t *testing.T) string { return "redis://" + conntest.RedisAddr(t) }},
		{"Cluster", func(t *testing.T) string {
			return "redis+cluster://" + strings.Join(conntest.ClusterAddrs(t), ",")
		}},
	}
	for _, srv := range servers {
		for _, on := range []bool{true, false} {
			name := srv.name + "/on"
			if !on {
				name = srv.name + "/off"
			}
			t.Run(name, func(t *testing.T) {
				conntest.RunInterleaved(t, func(t *testing.T) conn.Driver {
					d, err := goredis.Open(context.Background(), srv.url(t), goredis.WithAutoPipeline(on))
					must(t, err)
					return d
				})
			})
		}
	}
}

// TestAutoPipelineSlotMoves moves a hash slot from one primary to another
// while 32 goroutines read and write keys of that slot through batches,
// and back again: batches formed for the node that owned the slot meet
// ASK and MOVED, and no command is lost or answered with another's reply.
func TestAutoPipelineSlotMoves(t *testing.T) {
	addrs := conntest.ClusterAddrs(t)
	ctx := context.Background()
	d, err := goredis.Open(ctx, "redis+cluster://"+strings.Join(addrs, ","))
	must(t, err)
	t.Cleanup(func() { _ = d.Close() })
	tag := "{apmove" + strconv.Itoa(rand.IntN(1_000_000)) + "}"
	slot := int(conn.Slot(tag))

	admin := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = admin.Close() })
	owner, err := admin.MasterForKey(ctx, tag)
	must(t, err)
	var other *redis.Client
	for _, a := range addrs {
		if a != owner.Options().Addr {
			c := redis.NewClient(&redis.Options{Addr: a})
			t.Cleanup(func() { _ = c.Close() })
			if role, err := c.Do(ctx, "ROLE").Slice(); err == nil && len(role) > 0 && role[0] == "master" {
				other = c
				break
			}
		}
	}
	if other == nil {
		t.Fatal("no second primary in the cluster")
	}
	from := redis.NewClient(&redis.Options{Addr: owner.Options().Addr})
	t.Cleanup(func() { _ = from.Close() })
	// Should the test stop halfway, the slot goes back to its owner, so
	// that the cluster serves it for the tests that follow.
	t.Cleanup(func() {
		if id, err := from.Do(ctx, "CLUSTER", "MYID").Text(); err == nil {
			other.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", id)
			from.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", id)
		}
	})

	// Load: each worker sets and reads back a key of the slot.
	const workers = 32
	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		calls    atomic.Int64
		problems = make(chan string, workers)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := tag + ":" + strconv.Itoa(w)
			for i := 0; !stop.Load(); i++ {
				want := strconv.Itoa(w) + "/" + strconv.Itoa(i)
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := d.Set(cctx, key, []byte(want), time.Minute)
				var got []byte
				if err == nil {
					got, err = d.Get(cctx, key)
				}
				cancel()
				calls.Add(1)
				if err != nil {
					problems <- fmt.Sprintf("worker %d: %v", w, err)
					return
				}
				if string(got) != want {
					problems <- fmt.Sprintf("worker %d: Get = %q, want %q", w, got, want)
					return
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	moveSlot(t, ctx, slot, from, other)
	time.Sleep(200 * time.Millisecond)
	moveSlot(t, ctx, slot, other, from)
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	close(problems)
	for p := range problems {
		t.Error(p)
	}
	t.Logf("%d Set+Get rounds while slot %d moved there and back", calls.Load(), slot)
}

// moveSlot migrates slot from src to dst as redis-cli --cluster reshard
// does: IMPORTING and MIGRATING, MIGRATE of its keys, then NODE on every
// primary.
func moveSlot(t *testing.T, ctx context.Context, slot int, src, dst *redis.Client) {
	t.Helper()
	srcID, err := src.Do(ctx, "CLUSTER", "MYID").Text()
	must(t, err)
	dstID, err := dst.Do(ctx, "CLUSTER", "MYID").Text()
	must(t, err)
	must(t, dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err())
	must(t, src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err())
	host, port, _ := strings.Cut(dst.Options().Addr, ":")
	for {
		keys, err := src.Do(ctx, "CLUSTER", "GETKEYSINSLOT", slot, 100).StringSlice()
		must(t, err)
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "REPLACE", "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		must(t, src.Do(ctx, args...).Err())
	}
	must(t, dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
	must(t, src.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
}
