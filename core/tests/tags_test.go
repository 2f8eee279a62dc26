package tests_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// isTagKey tells a tag's generation key from the other keys.
func isTagKey(key string) bool { return strings.Contains(key, "::tag:") }

// tagHookDriver is a hookDriver whose pipelines go through the hooks too
// (op "pipeline", the key of the first command), for the generation
// check before a store.
type tagHookDriver struct{ *hookDriver }

func (h tagHookDriver) Pipeline(ctx context.Context, cmds ...*conn.Cmd) error {
	key := ""
	for _, c := range cmds {
		if len(c.Args) > 1 {
			if k, ok := c.Args[1].(string); ok && isTagKey(k) {
				key = k
				break
			}
		}
	}
	if err := h.pre(ctx, "pipeline", key); err != nil {
		return err
	}
	err := h.hookDriver.Driver.Pipeline(ctx, cmds...)
	h.post(ctx, "pipeline", key)
	return err
}

// Values carrying an invalidated tag are misses in every function; the
// others are not. Tags come from the Manager, the function and the call
// and add up.
func TestTagsInvalidate(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)), core.WithTags("all"))
		t.Cleanup(func() { m.Close() })
		var users, orders, reports atomic.Int32
		getUser := core.Memoize(m, "users", func(_ context.Context, id int) (int32, error) { return users.Add(1), nil }, core.WithTags("table:users"))
		getOrder := core.Memoize(m, "orders", func(_ context.Context, id int) (int32, error) { return orders.Add(1), nil }, core.WithTags("table:orders"))
		getReport := core.Memoize(m, "reports", func(_ context.Context, id int) (int32, error) { return reports.Add(1), nil })

		get := func(name string, f func() (int32, error)) int32 {
			t.Helper()
			v, err := f()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return v
		}
		user := func() int32 { return get("user", func() (int32, error) { return getUser.Get(ctx, 1) }) }
		order := func() int32 { return get("order", func() (int32, error) { return getOrder.Get(ctx, 1) }) }
		// A report reads both tables: the call says so.
		report := func() int32 {
			return get("report", func() (int32, error) {
				return getReport.Get(ctx, 1, core.Tags("table:users", "table:orders", "table:users"))
			})
		}
		plain := func() int32 { return get("plain report", func() (int32, error) { return getReport.Get(ctx, 2) }) }

		for range 2 {
			if u, o, r, p := user(), order(), report(), plain(); u != 1 || o != 1 || r != 1 || p != 2 {
				t.Fatalf("warm: user %d order %d report %d plain %d; want 1 1 1 2", u, o, r, p)
			}
		}
		if err := m.InvalidateTag(ctx, "table:users"); err != nil {
			t.Fatal(err)
		}
		if u, o, r, p := user(), order(), report(), plain(); u != 2 || o != 1 || r != 3 || p != 2 {
			t.Fatalf("after InvalidateTag(users): user %d order %d report %d plain %d; want 2 1 3 2", u, o, r, p)
		}
		// The function's convenience reaches every function of the Manager.
		if err := getUser.InvalidateTag(ctx, "table:orders"); err != nil {
			t.Fatal(err)
		}
		if u, o, r, p := user(), order(), report(), plain(); u != 2 || o != 2 || r != 4 || p != 2 {
			t.Fatalf("after InvalidateTag(orders): user %d order %d report %d plain %d; want 2 2 4 2", u, o, r, p)
		}
		// The Manager's tag is every value's.
		if err := m.InvalidateTag(ctx, "all", "", "all"); err != nil {
			t.Fatal(err)
		}
		if u, o, r, p := user(), order(), report(), plain(); u != 3 || o != 3 || r != 5 || p != 6 {
			t.Fatalf("after InvalidateTag(all): user %d order %d report %d plain %d; want 3 3 5 6", u, o, r, p)
		}
		// Set writes a value with its call's tags; the tag reaches it.
		if err := getReport.Set(ctx, 3, 100, core.Tags("table:users")); err != nil {
			t.Fatal(err)
		}
		if v, err := getReport.Get(ctx, 3, core.Tags("table:users")); err != nil || v != 100 {
			t.Fatalf("after Set: %d, %v; want 100", v, err)
		}
		if err := m.InvalidateTag(ctx, "table:users"); err != nil {
			t.Fatal(err)
		}
		if v, err := getReport.Get(ctx, 3, core.Tags("table:users")); err != nil || v != 7 {
			t.Fatalf("after InvalidateTag of a Set value: %d, %v; want a load (7)", v, err)
		}
		if err := m.InvalidateTag(ctx); err != nil {
			t.Fatalf("InvalidateTag with no tags: %v", err)
		}
	})
}

// A hit reads no tag generation: tags are cached as the function's
// generation is, so a call with three tags costs the entry's GET alone.
func TestTagsHitReadsNoTagKey(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		h := newHookDriver(d)
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithGenerationRefresh(time.Hour))
		t.Cleanup(func() { m.Close() })
		get := core.Memoize(m, "hit", func(_ context.Context, id int) (int, error) { return id, nil }, core.WithTags("a", "b"))
		if _, err := get.Get(ctx, 1, core.Tags("c")); err != nil {
			t.Fatal(err)
		}
		var tagReads, reads atomic.Int32
		h.setBefore(func(_ context.Context, op, key string) error {
			if isTagKey(key) {
				tagReads.Add(1)
			}
			reads.Add(1)
			return nil
		})
		for range 50 {
			if v, err := get.Get(ctx, 1, core.Tags("c")); err != nil || v != 1 {
				t.Fatalf("Get = %d, %v", v, err)
			}
		}
		if n := tagReads.Load(); n != 0 {
			t.Fatalf("50 hits read a tag generation %d times; want 0", n)
		}
		if n := reads.Load(); n != 50 {
			t.Fatalf("50 hits made %d Redis calls; want 50 (one GET each)", n)
		}
	})
}

// A load in flight when one of its tags is invalidated returns its value
// to its own caller, never stores it, and a call made after
// InvalidateTag returned does not join it: whether the invalidation is
// made by this process or by another one.
func TestTagInvalidateFencesLoadInFlight(t *testing.T) {
	for _, from := range []string{"same process", "other process"} {
		t.Run(from, func(t *testing.T) {
			eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
				ctx := testCtx(t)
				prefix := uniquePrefix(t)
				newManager := func() *core.Manager {
					m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
						core.WithGenerationRefresh(time.Hour))
					t.Cleanup(func() { m.Close() })
					return m
				}
				m := newManager()
				inv := m
				if from == "other process" {
					inv = newManager()
				}
				var loads atomic.Int32
				started, release := make(chan struct{}), make(chan struct{})
				get := core.Memoize(m, "fenced", func(ctx context.Context, k string) (int32, error) {
					n := loads.Add(1)
					if n == 2 {
						close(started)
						select { // the load read its source, then is held
						case <-release:
						case <-ctx.Done():
							return 0, ctx.Err()
						}
					}
					return n, nil
				})
				// The tag is known before the load starts, as on a warm process.
				if v, err := get.Get(ctx, "warm", core.Tags("t")); err != nil || v != 1 {
					t.Fatalf("warm Get = %d, %v", v, err)
				}
				first := make(chan int32, 1)
				go func() {
					v, _ := get.Get(ctx, "k", core.Tags("t"))
					first <- v
				}()
				<-started
				if err := inv.InvalidateTag(ctx, "t"); err != nil {
					t.Fatal(err)
				}
				if from == "same process" {
					// A call after InvalidateTag returned is a load of its own.
					after := make(chan int32, 1)
					go func() {
						v, _ := get.Get(ctx, "k", core.Tags("t"))
						after <- v
					}()
					select {
					case v := <-after:
						if v != 3 {
							t.Fatalf("a Get after InvalidateTag got %d; want 3", v)
						}
					case <-time.After(10 * time.Second):
						close(release)
						t.Fatal("a Get after InvalidateTag joined the load that began before it")
					}
				}
				close(release)
				if v := <-first; v != 2 {
					t.Fatalf("the held call got %d; want its own load's value 2", v)
				}
				// This process, which learnt the new tag generation from the
				// store's check at most, does not serve the held load's value.
				if v2, err := get.Get(ctx, "k", core.Tags("t")); err != nil || v2 == 2 {
					t.Fatalf("Get after the held load = %d, %v; never the fenced value 2", v2, err)
				}
				// A fresh process knows nothing cached: what Redis holds under
				// the key must not be the held load's value.
				fresh := core.Memoize(newManager(), "fenced", func(context.Context, string) (int32, error) { return 100, nil })
				v, err := fresh.Get(ctx, "k", core.Tags("t"))
				if err != nil {
					t.Fatal(err)
				}
				if v == 2 {
					t.Fatalf("the load in flight during InvalidateTag stored its value")
				}
				if want := map[string]int32{"same process": 3, "other process": 3}[from]; v != want {
					t.Fatalf("fresh Get = %d; want %d, the value of the load after InvalidateTag", v, want)
				}
			})
		})
	}
}

// The check before a store reads the tag generations again: a tag
// invalidated by another process during a load fences it even though
// this process never heard of the invalidation.
func TestTagStoreCheckReadsRedis(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		h := tagHookDriver{newHookDriver(d)}
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithGenerationRefresh(time.Hour))
		other := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		t.Cleanup(func() { m.Close(); other.Close() })
		var checks atomic.Int32
		h.setBefore(func(ctx context.Context, op, key string) error {
			if op == "pipeline" && isTagKey(key) {
				checks.Add(1)
			}
			return nil
		})
		var loads atomic.Int32
		get := core.Memoize(m, "check", func(ctx context.Context, k string) (int32, error) {
			n := loads.Add(1)
			if k == "k" {
				// Another process invalidates the tag while this load runs.
				if err := other.InvalidateTag(ctx, "x"); err != nil {
					return 0, err
				}
			}
			return n, nil
		}, core.WithTags("x", "y"))
		if _, err := get.Get(ctx, "cold"); err != nil { // the generations are known
			t.Fatal(err)
		}
		checks.Store(0)
		if _, err := get.Get(ctx, "warm"); err != nil {
			t.Fatal(err)
		}
		// On a cluster the store checks them again right after its write
		// (see TestRestartBeforeStoreKeepsLoadOut).
		want := int32(1)
		if strings.Contains(t.Name(), "cluster") {
			want = 2
		}
		if n := checks.Load(); n != want {
			t.Fatalf("a store read the tag generations in %d pipelines; want %d", n, want)
		}
		if v, err := get.Get(ctx, "k"); err != nil || v != 3 {
			t.Fatalf("Get = %d, %v; want 3", v, err)
		}
		// Not stored: the next call loads again, in the generation the
		// check learnt.
		if v, err := get.Get(ctx, "k"); err != nil || v != 4 {
			t.Fatalf("Get after the fenced load = %d, %v; want a new load 4", v, err)
		}
		if st := m.Stats(); st.FencedStores == 0 {
			t.Fatalf("stats count no fenced store: %+v", st)
		}
	})
}

// Another process's InvalidateTag reaches this process's near cache and
// cached tag generations at once, through the invalidation channel: with
// a generation refresh of an hour, only the announcement can.
func TestTagInvalidateReachesNearCaches(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		a := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
			core.WithNearCache(100, time.Hour), core.WithGenerationRefresh(time.Hour))
		b := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		t.Cleanup(func() { a.Close(); b.Close() })
		var loads atomic.Int32
		getTagged := core.Memoize(a, "near", func(context.Context, int) (int32, error) { return loads.Add(1), nil }, core.WithTags("n"))
		var callLoads, plainLoads atomic.Int32
		getCall := core.Memoize(a, "nearcall", func(context.Context, int) (int32, error) { return callLoads.Add(1), nil })
		getPlain := core.Memoize(a, "nearplain", func(context.Context, int) (int32, error) { return plainLoads.Add(1), nil })
		warm := func() {
			t.Helper()
			eventually(t, "near hits", func() bool {
				before := a.Stats().NearHits
				if _, err := getTagged.Get(ctx, 1); err != nil {
					t.Fatal(err)
				}
				if _, err := getCall.Get(ctx, 1, core.Tags("n")); err != nil {
					t.Fatal(err)
				}
				if _, err := getPlain.Get(ctx, 1); err != nil {
					t.Fatal(err)
				}
				return a.Stats().NearHits-before == 3
			})
		}
		warm()
		if err := b.InvalidateTag(ctx, "n"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the tagged values reloaded", func() bool {
			v, err := getTagged.Get(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			w, err := getCall.Get(ctx, 1, core.Tags("n"))
			if err != nil {
				t.Fatal(err)
			}
			return v == 2 && w == 2
		})
		if l, c := loads.Load(), callLoads.Load(); l != 2 || c != 2 {
			t.Fatalf("loads %d and %d; want 2 each", l, c)
		}
		// A value without the tag stays in the near cache.
		before := a.Stats().NearHits
		if v, err := getPlain.Get(ctx, 1); err != nil || v != 1 {
			t.Fatalf("untagged Get = %d, %v; want its first load 1", v, err)
		}
		if a.Stats().NearHits == before {
			t.Fatal("the untagged value left the near cache on a tag invalidation")
		}
	})
}

// A tag generation that cannot be read fails open for the calls that
// need it: the loader runs, nothing is stored, the trouble is reported;
// calls without that tag are served from the cache as usual.
func TestTagGenerationUnreadableFailsOpen(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		h := tagHookDriver{newHookDriver(d)}
		var log errorLog
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithErrorHandler(log.handler), core.WithBreaker(1000, time.Millisecond))
		t.Cleanup(func() { m.Close() })
		injected := errors.New("injected: tag generation unreadable")
		h.setBefore(func(_ context.Context, op, key string) error {
			if isTagKey(key) {
				return injected
			}
			return nil
		})
		var loads atomic.Int32
		get := core.Memoize(m, "open", func(context.Context, int) (int32, error) { return loads.Add(1), nil })
		for i := int32(1); i <= 2; i++ {
			if v, err := get.Get(ctx, 1, core.Tags("down")); err != nil || v != i {
				t.Fatalf("Get %d with an unreadable tag = %d, %v; want the loader's %d", i, v, err, i)
			}
		}
		var ce *core.Error
		if errs := log.all(); len(errs) == 0 || !errors.As(errs[0], &ce) || ce.Op != core.OpGeneration || !errors.Is(ce, injected) {
			t.Fatalf("reported %v; want an OpGeneration error wrapping the injected one", errs)
		}
		// Without the tag, the function is cached as usual.
		for range 2 {
			if v, err := get.Get(ctx, 2); err != nil || v != 3 {
				t.Fatalf("untagged Get = %d, %v; want 3, loaded once", v, err)
			}
		}
		h.clear()
		if v, err := get.Get(ctx, 1, core.Tags("down")); err != nil || v != 4 {
			t.Fatalf("Get once the tag is readable = %d, %v; want a load (4): nothing was stored", v, err)
		}
		if v, err := get.Get(ctx, 1, core.Tags("down")); err != nil || v != 4 {
			t.Fatalf("next Get = %d, %v; want the stored 4", v, err)
		}
		// The check before a store failing stores nothing either.
		h.setBefore(func(_ context.Context, op, key string) error {
			if op == "pipeline" && isTagKey(key) {
				return injected
			}
			return nil
		})
		if v, err := get.Get(ctx, 5, core.Tags("down")); err != nil || v != 5 {
			t.Fatalf("Get with a failing store check = %d, %v; want 5", v, err)
		}
		h.clear()
		if v, err := get.Get(ctx, 5, core.Tags("down")); err != nil || v != 6 {
			t.Fatalf("Get after a failed store check = %d, %v; want a load (6)", v, err)
		}
	})
}

// A tag generation key that is lost (evicted, a restart) comes back from
// the clock: the values tagged before read as misses, never as hits.
func TestTagGenerationLost(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		t.Cleanup(func() { m.Close() })
		var loads atomic.Int32
		get := core.Memoize(m, "lost", func(context.Context, int) (int32, error) { return loads.Add(1), nil }, core.WithTags("l"))
		if _, err := get.Get(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Del(ctx, prefix+"::tag:l"); err != nil {
			t.Fatal(err)
		}
		fresh := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		t.Cleanup(func() { fresh.Close() })
		getFresh := core.Memoize(fresh, "lost", func(context.Context, int) (int32, error) { return 100, nil }, core.WithTags("l"))
		if v, err := getFresh.Get(ctx, 1); err != nil || v != 100 {
			t.Fatalf("Get after the tag key was lost = %d, %v; want a load (100)", v, err)
		}
	})
}

// A call whose function and tag generations are all due for a read (a
// cold process, or the end of a refresh interval) reads them in one
// pipeline, not one round trip each.
func TestTagGenerationsReadTogether(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		fn := func(_ context.Context, id int) (int, error) { return id, nil }
		tags := core.WithTags("a", "b", "c")
		warm := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		t.Cleanup(func() { warm.Close() })
		if _, err := core.Memoize(warm, "together", fn, tags).Get(ctx, 1); err != nil {
			t.Fatal(err)
		}
		h := tagHookDriver{newHookDriver(d)}
		var pipelines, genGets atomic.Int32
		h.setBefore(func(_ context.Context, op, key string) error {
			switch {
			case op == "pipeline" && isTagKey(key):
				pipelines.Add(1)
			case op == "get" && (isTagKey(key) || strings.HasSuffix(key, "~gen")):
				genGets.Add(1)
			}
			return nil
		})
		const refresh = 300 * time.Millisecond
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithGenerationRefresh(refresh))
		t.Cleanup(func() { m.Close() })
		get := core.Memoize(m, "together", fn, tags)
		for round := range 2 {
			if round == 1 {
				time.Sleep(refresh + refresh/2)
			}
			pipelines.Store(0)
			genGets.Store(0)
			if v, err := get.Get(ctx, 1); err != nil || v != 1 {
				t.Fatalf("Get = %d, %v", v, err)
			}
			if p, g := pipelines.Load(), genGets.Load(); p != 1 || g != 0 {
				t.Fatalf("round %d: %d pipelines and %d single generation reads; want 1 and 0", round, p, g)
			}
		}
	})
}

// An InvalidateTag that lands between a load's generation check and its
// conditional write lets the write through, but the entry records the
// generations from before: the invalidating process, and any process
// that reads the tag afterwards, reads it as a miss.
func TestTagInvalidateBetweenCheckAndWrite(t *testing.T) {
	for _, from := range []string{"same process", "other process"} {
		t.Run(from, func(t *testing.T) {
			eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
				ctx := testCtx(t)
				prefix := uniquePrefix(t)
				h := newHookDriver(d)
				newManager := func(d conn.Driver) *core.Manager {
					m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
						core.WithGenerationRefresh(time.Hour))
					t.Cleanup(func() { m.Close() })
					return m
				}
				m := newManager(h)
				inv := m
				if from == "other process" {
					inv = newManager(d)
				}
				var loads atomic.Int32
				load := func(context.Context, string) (int32, error) { return loads.Add(1), nil }
				get := core.Memoize(m, "window", load, core.WithTags("w"))
				getInv := get
				if inv != m {
					getInv = core.Memoize(inv, "window", load, core.WithTags("w"))
				}
				key, err := get.Key("k")
				if err != nil {
					t.Fatal(err)
				}
				var once atomic.Bool
				h.setBefore(func(ctx context.Context, op, k string) error {
					if (op == "setnx" || op == "eval") && k == key && once.CompareAndSwap(false, true) {
						if err := inv.InvalidateTag(ctx, "w"); err != nil {
							t.Error(err)
						}
					}
					return nil
				})
				if v, err := get.Get(ctx, "k"); err != nil || v != 1 {
					t.Fatalf("Get = %d, %v; want 1", v, err)
				}
				if !once.Load() {
					t.Fatal("the write was not reached")
				}
				if v, err := getInv.Get(ctx, "k"); err != nil || v == 1 {
					t.Fatalf("the invalidating process got %d, %v after InvalidateTag; never the value loaded before it", v, err)
				}
				fresh := core.Memoize(newManager(d), "window", func(context.Context, string) (int32, error) { return 100, nil }, core.WithTags("w"))
				if v, err := fresh.Get(ctx, "k"); err != nil || v == 1 {
					t.Fatalf("a fresh process got %d, %v; never the value loaded before InvalidateTag", v, err)
				}
			})
		})
	}
}

// An entry written in newer generations than this process knows (another
// process invalidated a tag and stored again): a process that read its
// generations within the last second loads once, stores nothing over the
// newer entry, and learns the generations in its store check, so that
// its next call hits; one that read them longer ago re-reads every part
// first, in one pipeline, and hits at once.
func TestTagNewerEntry(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		var loads atomic.Int32
		fn := func(context.Context, int) (int32, error) { return loads.Add(1), nil }
		tags := core.WithTags("a", "b", "c")
		other := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		t.Cleanup(func() { other.Close() })
		getOther := core.Memoize(other, "newer", fn, tags)
		h := tagHookDriver{newHookDriver(d)}
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithGenerationRefresh(time.Hour))
		t.Cleanup(func() { m.Close() })
		get := core.Memoize(m, "newer", fn, tags)
		var pipelines, genGets atomic.Int32
		h.setBefore(func(_ context.Context, op, key string) error {
			switch {
			case op == "pipeline" && isTagKey(key):
				pipelines.Add(1)
			case op == "get" && (isTagKey(key) || strings.HasSuffix(key, "~gen")):
				genGets.Add(1)
			}
			return nil
		})
		expect := func(what string, want, wantPipelines int32) {
			t.Helper()
			pipelines.Store(0)
			genGets.Store(0)
			if v, err := get.Get(ctx, 1); err != nil || v != want {
				t.Fatalf("%s: Get = %d, %v; want %d", what, v, err, want)
			}
			if p, g := pipelines.Load(), genGets.Load(); p != wantPipelines || g != 0 {
				t.Fatalf("%s: %d pipelines and %d single generation reads; want %d and 0", what, p, g, wantPipelines)
			}
		}
		newer := func(want int32) {
			t.Helper()
			if err := other.InvalidateTag(ctx, "b"); err != nil {
				t.Fatal(err)
			}
			if v, err := getOther.Get(ctx, 1); err != nil || v != want {
				t.Fatalf("other Get = %d, %v; want a load (%d)", v, err, want)
			}
		}
		if v, err := getOther.Get(ctx, 1); err != nil || v != 1 {
			t.Fatalf("other Get = %d, %v; want 1", v, err)
		}
		expect("cold", 1, 1) // the generations read together, then a hit
		newer(2)
		expect("a newer entry, generations read just now", 3, 1) // a load, its store fenced
		expect("the next call", 2, 0)                            // the other's entry, a hit
		newer(4)
		time.Sleep(1100 * time.Millisecond)
		expect("a newer entry, generations read over a second ago", 4, 1) // one pipeline, a hit
		if n := loads.Load(); n != 4 {
			t.Fatalf("%d loads; want 4", n)
		}
	})
}

// Right after InvalidateTag, the misses of the process that invalidated
// do not each read the generations again: they were just bumped there.
func TestTagMissesAfterInvalidateReadNoGenerations(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		h := tagHookDriver{newHookDriver(d)}
		m := core.New(core.WithDriver(h), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)), core.WithGenerationRefresh(time.Hour))
		t.Cleanup(func() { m.Close() })
		var loads atomic.Int32
		get := core.Memoize(m, "storm", func(_ context.Context, k int) (int32, error) { loads.Add(1); return int32(k), nil }, core.WithTags("s"))
		const n = 5
		for k := range n {
			if _, err := get.Get(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.InvalidateTag(ctx, "s"); err != nil {
			t.Fatal(err)
		}
		var pipelines atomic.Int32
		h.setBefore(func(_ context.Context, op, key string) error {
			if op == "pipeline" && isTagKey(key) {
				pipelines.Add(1)
			}
			return nil
		})
		for k := range n {
			if v, err := get.Get(ctx, k); err != nil || v != int32(k) {
				t.Fatalf("Get(%d) = %d, %v", k, v, err)
			}
		}
		if l := loads.Load(); l != 2*n {
			t.Fatalf("%d loads; want %d: every value loaded again after InvalidateTag", l, 2*n)
		}
		// One pipeline per store (its check), none to re-read before.
		if p := pipelines.Load(); p != n {
			t.Fatalf("%d generation pipelines for %d misses after InvalidateTag; want %d, the stores' checks", p, n, n)
		}
	})
}
