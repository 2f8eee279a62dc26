package tests_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// The distributed lock between Managers of one test process: each
// Manager, with a driver of its own, stands for a process (flights are a
// Manager's function's own, so two Managers never share one in memory).

// lockSubscribers counts the subscribers of channel on every node of d.
func lockSubscribers(t *testing.T, d conn.Driver, channel string) int64 {
	t.Helper()
	var n int64
	err := conn.ForEachNode(context.Background(), d, func(ctx context.Context, node conn.Driver) error {
		r, err := node.Do(ctx, "PUBSUB", "NUMSUB", channel)
		if err != nil {
			return err
		}
		if a, ok := r.([]any); ok && len(a) == 2 {
			c, _ := a[1].(int64)
			n += c
		}
		return nil
	})
	if err != nil {
		t.Fatalf("PUBSUB NUMSUB: %v", err)
	}
	return n
}

// holdingLoader is a loader that says when it started and returns its
// tag once released (or after 20s).
type holdingLoader struct {
	tag     string
	started chan struct{}
	release chan struct{}
	calls   atomic.Int32
}

func newHoldingLoader(tag string) *holdingLoader {
	return &holdingLoader{tag: tag, started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (h *holdingLoader) load(_ context.Context, k string) (string, error) {
	h.calls.Add(1)
	h.started <- struct{}{}
	select {
	case <-h.release:
	case <-time.After(20 * time.Second):
	}
	return h.tag + ":" + k, nil
}

type getResult struct {
	v   string
	err error
	at  time.Time
}

func goGet(ctx context.Context, get *core.Memo[string, string], k string) <-chan getResult {
	res := make(chan getResult, 1)
	go func() {
		v, err := get.Get(ctx, k)
		res <- getResult{v, err, time.Now()}
	}()
	return res
}

func waitStarted(t *testing.T, h *holdingLoader) {
	t.Helper()
	select {
	case <-h.started:
	case <-time.After(10 * time.Second):
		t.Fatalf("loader %s did not start", h.tag)
	}
}

// Issue 14 item 1: a process waiting for the lock is woken by the
// holder's announcement, not by polling: with a lease of 20s and a poll
// of 1s, a wait bounded by 800ms can only end through the message.
func TestDlockWakesByNotification(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		const lease = 20 * time.Second
		mA := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithDistributedLock(lease))
		t.Cleanup(func() { mA.Close() })
		dB := openLikeDriver(t, d)
		mB := core.New(core.WithDriver(dB), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		t.Cleanup(func() { mB.Close() })
		a := newHoldingLoader("A")
		getA := core.Memoize(mA, "wake", a.load)
		var bCalls atomic.Int32
		// The option given to Memoize alone.
		getB := core.Memoize(mB, "wake", func(_ context.Context, k string) (string, error) {
			bCalls.Add(1)
			return "B:" + k, nil
		}, core.WithDistributedLock(lease))

		// A first wait starts B's subscription.
		resA := goGet(ctx, getA, "warm")
		waitStarted(t, a)
		resB := goGet(ctx, getB, "warm")
		channel := core.LockChannel + ":" + prefix
		eventually(t, "B's lock subscription", func() bool { return lockSubscribers(t, d, channel) >= 1 })
		a.release <- struct{}{}
		if r := <-resA; r.err != nil || r.v != "A:warm" {
			t.Fatalf("A: %q, %v", r.v, r.err)
		}
		if r := <-resB; r.err != nil || r.v != "A:warm" {
			t.Fatalf("B: %q, %v; want A's value", r.v, r.err)
		}

		resA = goGet(ctx, getA, "k")
		waitStarted(t, a)
		bctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
		defer cancel()
		resB = goGet(bctx, getB, "k")
		time.Sleep(150 * time.Millisecond) // B is waiting
		released := time.Now()
		a.release <- struct{}{}
		if r := <-resA; r.err != nil || r.v != "A:k" {
			t.Fatalf("A: %q, %v", r.v, r.err)
		}
		r := <-resB
		if r.err != nil || r.v != "A:k" {
			t.Fatalf("B: %q, %v; want A's value, announced before B's deadline", r.v, r.err)
		}
		t.Logf("B woke %v after A's loader returned", r.at.Sub(released).Round(time.Millisecond))
		if n := bCalls.Load(); n != 0 {
			t.Fatalf("B's loader ran %d times; want 0: A's load answers B", n)
		}
		if s := getB.Stats(); s.LockWaits != 2 || s.Loads != 0 || s.LockFailOpen != 0 {
			t.Fatalf("B's stats %+v: want 2 lock waits answered and no load", s)
		}
		if n := a.calls.Load(); n != 2 {
			t.Fatalf("A's loader ran %d times, want 2", n)
		}
	})
}

// openLikeDriver opens another driver of d's kind to the same Redis: a
// process of its own.
func openLikeDriver(t *testing.T, d conn.Driver) conn.Driver {
	t.Helper()
	name := fmt.Sprintf("%T", d)
	cluster := false
	if w, ok := d.(conn.NodeWalker); ok {
		nodes := 0
		_ = w.ForEachNode(context.Background(), func(context.Context, conn.Driver) error { nodes++; return nil })
		cluster = nodes > 1
	}
	url := "redis://" + conntest.RedisAddr(t)
	if cluster {
		url = "redis+cluster://" + strings.Join(conntest.ClusterAddrs(t), ",")
	}
	if strings.Contains(name, "radix") {
		return openRadix(t, url)
	}
	return openGoredis(t, url)
}

// Issue 14 item 1: the lease ends while the loader runs (its extension
// fails): another process takes over and loads; the first one's value is
// still returned to its caller, but its store is fenced, so the newer
// value stays; and the first one learns it lost the lock.
func TestDlockLeaseExpiresMidLoad(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		const lease = 400 * time.Millisecond
		hd := newHookDriver(d)
		logA := &errorLog{}
		mA := core.New(core.WithDriver(hd), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
			core.WithDistributedLock(lease), core.WithErrorHandler(logA.handler))
		t.Cleanup(func() { mA.Close() })
		mB := core.New(core.WithDriver(openLikeDriver(t, d)), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
			core.WithDistributedLock(lease))
		t.Cleanup(func() { mB.Close() })

		var block atomic.Bool
		blocked := errors.New("extension blocked by the test")
		hd.setBefore(func(_ context.Context, op, key string) error {
			if op == "eval" && strings.HasSuffix(key, ":~lock") && block.Load() {
				return blocked
			}
			return nil
		})
		bLoaded := make(chan struct{})
		getA := core.Memoize(mA, "lease", func(ctx context.Context, k string) (string, error) {
			block.Store(true) // the lock is A's: its extensions fail from now on
			select {
			case <-bLoaded:
			case <-time.After(20 * time.Second):
				return "", errors.New("B never took over")
			}
			block.Store(false) // A's next extension finds the lock B's
			for deadline := time.Now().Add(10 * time.Second); mA.Stats().LockLost == 0 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			return "A:" + k, nil
		})
		getB := core.Memoize(mB, "lease", func(ctx context.Context, k string) (string, error) {
			close(bLoaded)
			return "B:" + k, nil
		})
		key, _ := getA.Key("k")
		resA := goGet(ctx, getA, "k")
		eventually(t, "A to hold the lock", func() bool { return block.Load() })
		start := time.Now()
		rB := <-goGet(ctx, getB, "k")
		if rB.err != nil || rB.v != "B:k" {
			t.Fatalf("B: %q, %v; want B's own load once A's lease ended", rB.v, rB.err)
		}
		t.Logf("B took over %v after it began waiting (lease %v)", rB.at.Sub(start).Round(time.Millisecond), lease)
		rA := <-resA
		if rA.err != nil || rA.v != "A:k" {
			t.Fatalf("A: %q, %v; A's callers get A's value", rA.v, rA.err)
		}
		sA := mA.Stats()
		if sA.LockLost != 1 || sA.FencedStores != 1 || sA.Loads != 1 {
			t.Fatalf("A's stats %+v: want the lock lost, one load, its store fenced", sA)
		}
		var sawLost, sawBlocked bool
		for _, err := range logA.all() {
			var ce *core.Error
			if errors.As(err, &ce) && ce.Op == core.OpLock && ce.Key == key+":~lock" {
				sawLost = sawLost || errors.Is(err, core.ErrLockLost)
				sawBlocked = sawBlocked || errors.Is(err, blocked)
			}
		}
		if !sawLost || !sawBlocked {
			t.Fatalf("A reported %v: want its failed extensions and ErrLockLost, as OpLock on the lock key", logA.all())
		}
		// The value in Redis is B's.
		mC := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		t.Cleanup(func() { mC.Close() })
		peek := core.Memoize(mC, "lease", func(context.Context, string) (string, error) { return "", nil })
		if v, found, err := peek.Peek(ctx, "k"); err != nil || !found || v != "B:k" {
			t.Fatalf("cached %q, %v, %v; want B's value", v, found, err)
		}
	})
}

// Issue 14 item 1: the fence rules hold under the lock. A write (Set or
// Invalidate) made while the holder loads fences its store, and a
// process waiting for the lock returns only what a fresh read finds:
// the written value, or a load of its own after an invalidation, never
// the holder's value from before the write.
func TestDlockFence(t *testing.T) {
	for _, write := range []string{"set", "invalidate"} {
		t.Run(write, func(t *testing.T) {
			eachTarget(t, func(t *testing.T, d conn.Driver) {
				ctx := testCtx(t)
				prefix := uniquePrefix(t)
				managers := make([]*core.Manager, 3)
				for i := range managers {
					dd := d
					if i > 0 {
						dd = openLikeDriver(t, d)
					}
					managers[i] = core.New(core.WithDriver(dd), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
						core.WithDistributedLock(5*time.Second))
					m := managers[i]
					t.Cleanup(func() { m.Close() })
				}
				a := newHoldingLoader("old")
				getA := core.Memoize(managers[0], "fence", a.load)
				var bCalls atomic.Int32
				getB := core.Memoize(managers[1], "fence", func(_ context.Context, k string) (string, error) {
					bCalls.Add(1)
					return "B:" + k, nil
				})
				writer := core.Memoize(managers[2], "fence", func(context.Context, string) (string, error) {
					return "", errors.New("the writer does not load")
				})
				resA := goGet(ctx, getA, "k")
				waitStarted(t, a)
				resB := goGet(ctx, getB, "k")
				time.Sleep(100 * time.Millisecond) // B waits for A's lock
				want := "B:k"
				if write == "set" {
					if err := writer.Set(ctx, "k", "new:k"); err != nil {
						t.Fatal(err)
					}
					want = "new:k"
				} else if err := writer.Invalidate(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				close(a.release)
				if r := <-resA; r.err != nil || r.v != "old:k" {
					t.Fatalf("A: %q, %v", r.v, r.err)
				}
				r := <-resB
				if r.err != nil || r.v != want {
					t.Fatalf("B: %q, %v; want %q: never the value loaded before the %s", r.v, r.err, want, write)
				}
				if s := getA.Stats(); s.FencedStores != 1 {
					t.Fatalf("A's stats %+v: its store must be fenced by the %s", s, write)
				}
				if v, found, err := getB.Peek(ctx, "k"); err != nil || !found || v != want {
					t.Fatalf("cached %q, %v, %v; want %q", v, found, err, want)
				}
			})
		})
	}
}

// Issue 14 item 1: lock commands that fail: the process loads on its own
// (fail-open), stores as usual, reports the failure (OpLock) and counts
// it in Stats.LockFailOpen.
func TestDlockCommandsFailOpen(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		hd := newHookDriver(d)
		refused := errors.New("lock refused by the test")
		hd.setBefore(func(_ context.Context, op, key string) error {
			if op == "eval" && strings.HasSuffix(key, ":~lock") {
				return refused
			}
			return nil
		})
		log := &errorLog{}
		m := core.New(core.WithDriver(hd), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithDistributedLock(time.Second), core.WithErrorHandler(log.handler))
		t.Cleanup(func() { m.Close() })
		var calls counter
		get := core.Memoize(m, "failopen", func(_ context.Context, k string) (string, error) { calls.inc(); return "v:" + k, nil })
		if v, err := get.Get(ctx, "k"); err != nil || v != "v:k" {
			t.Fatalf("Get = %q, %v", v, err)
		}
		if s := m.Stats(); s.LockFailOpen != 1 || s.Loads != 1 {
			t.Fatalf("stats %+v: want one load without the lock, counted", s)
		}
		var reported bool
		for _, err := range log.all() {
			var ce *core.Error
			reported = reported || (errors.As(err, &ce) && ce.Op == core.OpLock && errors.Is(err, refused))
		}
		if !reported {
			t.Fatalf("reported %v: want the lock's failure as OpLock", log.all())
		}
		hd.clear()
		if v, err := get.Get(ctx, "k"); err != nil || v != "v:k" || calls.n() != 1 {
			t.Fatalf("Get = %q, %v after %d loads; want a hit: the load without the lock was stored", v, err, calls.n())
		}
	})
}

// Issue 14 item 1: Redis down: every process loads on its own, says so
// in its stats, and reports the trouble.
func TestDlockRedisDown(t *testing.T) {
	for i, name := range []string{"goredis", "radix"} {
		t.Run(name, func(t *testing.T) {
			p := newProxy(t)
			ctx := testCtx(t)
			var calls counter
			type process struct {
				m   *core.Manager
				get *core.Memo[string, string]
				log *errorLog
			}
			procs := make([]process, 2)
			for j := range procs {
				log := &errorLog{}
				m := core.New(core.WithDriver(proxiedTargets(t, p)[i].open(t)), core.WithPrefix(uniquePrefix(t)),
					core.WithTimeout(200*time.Millisecond), core.WithDistributedLock(time.Second), core.WithErrorHandler(log.handler))
				t.Cleanup(func() { m.Close() })
				get := core.Memoize(m, "down", func(_ context.Context, k string) (string, error) { calls.inc(); return "v:" + k, nil })
				procs[j] = process{m, get, log}
			}
			p.set("down")
			for _, pr := range procs {
				if v, err := pr.get.Get(ctx, "k"); err != nil || v != "v:k" {
					t.Fatalf("Redis down: Get = %q, %v; want the loader's value", v, err)
				}
				if s := pr.m.Stats(); s.LockFailOpen != 1 || s.Loads != 1 {
					t.Fatalf("stats %+v: want one load without the lock, counted", s)
				}
				if len(pr.log.all()) == 0 {
					t.Fatal("Redis down, nothing reported")
				}
			}
			if calls.n() != 2 {
				t.Fatalf("%d loads; want each process to load on its own", calls.n())
			}
		})
	}
}

// Issue 14 item 1: Redis restarts (empty) while a process waits for
// another's lock: the waiter neither hangs nor fails; it loads once the
// lock is gone, and the cache works again.
func TestDlockRedisRestartDuringWait(t *testing.T) {
	for _, kind := range driverKinds {
		t.Run(kind.name, func(t *testing.T) {
			srv := conntest.StartRedis(t)
			url := "redis://" + srv.Addr()
			ctx := testCtx(t)
			prefix := uniquePrefix(t)
			newManager := func() *core.Manager {
				m := core.New(core.WithDriver(kind.open(t, url)), core.WithTimeout(time.Second), core.WithPrefix(prefix),
					core.WithDistributedLock(10*time.Second), core.WithBreaker(0, 0))
				t.Cleanup(func() { m.Close() })
				return m
			}
			a := newHoldingLoader("A")
			getA := core.Memoize(newManager(), "restart", a.load)
			var bCalls atomic.Int32
			getB := core.Memoize(newManager(), "restart", func(_ context.Context, k string) (string, error) {
				bCalls.Add(1)
				return "B:" + k, nil
			})
			resA := goGet(ctx, getA, "k")
			waitStarted(t, a)
			resB := goGet(ctx, getB, "k")
			d := kind.open(t, url)
			eventually(t, "B's lock subscription", func() bool { return lockSubscribers(t, d, core.LockChannel+":"+prefix) >= 1 })
			srv.Restart() // the lock (lease 10s) is gone with the data
			select {
			case r := <-resB:
				if r.err != nil || r.v != "B:k" || bCalls.Load() != 1 {
					t.Fatalf("B: %q, %v after %d loads; want its own load once the lock was lost", r.v, r.err, bCalls.Load())
				}
			case <-time.After(8 * time.Second): // under the lease: B did not wait for it
				t.Fatal("B still waits for a lock Redis lost")
			}
			close(a.release)
			if r := <-resA; r.err != nil || r.v != "A:k" {
				t.Fatalf("A: %q, %v", r.v, r.err)
			}
			var cCalls counter
			getC := core.Memoize(newManager(), "restart", func(_ context.Context, k string) (string, error) { cCalls.inc(); return "C:" + k, nil })
			eventually(t, "the cache to work after the restart", func() bool {
				before := cCalls.n()
				v1, err1 := getC.Get(ctx, "after")
				v2, err2 := getC.Get(ctx, "after")
				return err1 == nil && err2 == nil && v1 == "C:after" && v2 == v1 && cCalls.n() == before+1
			})
		})
	}
}

// Issue 14 item 1: the holder's lease is extended while its loader runs,
// so a loader slower than the lease keeps the lock: the waiting process
// gets its value and never loads.
func TestDlockLeaseExtended(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		const lease = 300 * time.Millisecond
		mA := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithDistributedLock(lease))
		t.Cleanup(func() { mA.Close() })
		mB := core.New(core.WithDriver(openLikeDriver(t, d)), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithDistributedLock(lease))
		t.Cleanup(func() { mB.Close() })
		a := newHoldingLoader("A")
		getA := core.Memoize(mA, "extended", a.load)
		var bCalls atomic.Int32
		getB := core.Memoize(mB, "extended", func(_ context.Context, k string) (string, error) {
			bCalls.Add(1)
			return "B:" + k, nil
		})
		resA := goGet(ctx, getA, "k")
		waitStarted(t, a)
		resB := goGet(ctx, getB, "k")
		time.Sleep(4 * lease) // four leases: without extension B would have taken over
		close(a.release)
		if r := <-resA; r.err != nil || r.v != "A:k" {
			t.Fatalf("A: %q, %v", r.v, r.err)
		}
		if r := <-resB; r.err != nil || r.v != "A:k" || bCalls.Load() != 0 {
			t.Fatalf("B: %q, %v after %d loads; want A's value and no load of its own", r.v, r.err, bCalls.Load())
		}
		if s := mA.Stats(); s.LockLost != 0 || s.FencedStores != 0 {
			t.Fatalf("A's stats %+v: the lease must have been kept", s)
		}
	})
}

// Issue 14 item 1: a stale-while-revalidate reload takes the lock too:
// two processes that read one stale value refresh it once between them.
func TestDlockStaleRefreshOnce(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		var calls atomic.Int32
		release := make(chan struct{})
		loader := func(_ context.Context, k string) (string, error) {
			n := calls.Add(1)
			if n > 1 {
				<-release // the refresh holds the lock until the test lets it go
			}
			return fmt.Sprintf("%s#%d", k, n), nil
		}
		gets := make([]*core.Memo[string, string], 2)
		for i := range gets {
			dd := d
			if i > 0 {
				dd = openLikeDriver(t, d)
			}
			m := core.New(core.WithDriver(dd), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithDistributedLock(5*time.Second),
				core.WithTTL(300*time.Millisecond), core.WithStaleWhileRevalidate(time.Minute))
			t.Cleanup(func() { m.Close() })
			gets[i] = core.Memoize(m, "swr", loader)
		}
		if v, err := gets[0].Get(ctx, "k"); err != nil || v != "k#1" {
			t.Fatalf("first Get = %q, %v", v, err)
		}
		time.Sleep(400 * time.Millisecond) // stale now
		for i, g := range gets {
			if v, err := g.Get(ctx, "k"); err != nil || v != "k#1" {
				t.Fatalf("process %d: Get = %q, %v; want the stale value at once", i, v, err)
			}
		}
		eventually(t, "a refresh to start", func() bool { return calls.Load() == 2 })
		time.Sleep(200 * time.Millisecond) // the other refresh waits for the lock
		close(release)
		eventually(t, "the refreshed value", func() bool {
			v, err := gets[1].Get(ctx, "k")
			return err == nil && v == "k#2"
		})
		// The refresh that waited is answered once it read the value.
		eventually(t, "the waiting refresh to be answered", func() bool {
			return gets[0].Stats().LockWaits+gets[1].Stats().LockWaits == 1
		})
		if n := calls.Load(); n != 2 {
			t.Fatalf("%d loader calls; want the first load and one refresh for both processes", n)
		}
	})
}

// Issue 14 items 1 and 4: a value the holder stored that is already past
// its eager-refresh point is still a fresh value: it answers a waiting
// call, which does not load it again.
func TestDlockEagerValueAnswersWaiter(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		opts := func(dd conn.Driver) []core.ManagerOption {
			return []core.ManagerOption{core.WithDriver(dd), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
				core.WithDistributedLock(5 * time.Second), core.WithTTL(time.Minute), core.WithEagerRefresh(1e-6)} // eager after 1ms
		}
		mA := core.New(opts(d)...)
		t.Cleanup(func() { mA.Close() })
		// B reads the key 5ms late: past the eager point of a value just stored.
		hB := newHookDriver(openLikeDriver(t, d))
		hB.setBefore(func(_ context.Context, op, key string) error {
			if op == "get" && strings.HasSuffix(key, ":s1:k") {
				time.Sleep(5 * time.Millisecond)
			}
			return nil
		})
		mB := core.New(opts(hB)...)
		t.Cleanup(func() { mB.Close() })
		a := newHoldingLoader("A")
		getA := core.Memoize(mA, "eager", a.load)
		var bCalls atomic.Int32
		getB := core.Memoize(mB, "eager", func(_ context.Context, k string) (string, error) {
			bCalls.Add(1)
			return "B:" + k, nil
		})
		resA := goGet(ctx, getA, "k")
		waitStarted(t, a)
		resB := goGet(ctx, getB, "k")
		time.Sleep(100 * time.Millisecond) // B waits for A's lock
		close(a.release)
		if r := <-resA; r.err != nil || r.v != "A:k" {
			t.Fatalf("A: %q, %v", r.v, r.err)
		}
		if r := <-resB; r.err != nil || r.v != "A:k" || bCalls.Load() != 0 {
			t.Fatalf("B: %q, %v after %d loads; want A's value, due for an eager refresh but fresh", r.v, r.err, bCalls.Load())
		}
	})
}

// Issue 14 item 1: the lock's subscription is background work of the
// Manager: Close ends it, and its connection.
func TestDlockCloseEndsSubscription(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		mA := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithDistributedLock(5*time.Second))
		t.Cleanup(func() { mA.Close() })
		mB := core.New(core.WithDriver(openLikeDriver(t, d)), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithDistributedLock(5*time.Second))
		a := newHoldingLoader("A")
		getA := core.Memoize(mA, "close", a.load)
		getB := core.Memoize(mB, "close", func(_ context.Context, k string) (string, error) { return "B:" + k, nil })
		resA := goGet(ctx, getA, "k")
		waitStarted(t, a)
		resB := goGet(ctx, getB, "k")
		channel := core.LockChannel + ":" + prefix
		eventually(t, "B's lock subscription", func() bool { return lockSubscribers(t, d, channel) == 1 })
		close(a.release)
		<-resA
		if r := <-resB; r.err != nil || r.v != "A:k" {
			t.Fatalf("B: %q, %v", r.v, r.err)
		}
		if err := mB.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		eventually(t, "the subscription to end with Close", func() bool { return lockSubscribers(t, d, channel) == 0 })
	})
}
