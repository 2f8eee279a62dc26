package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// user is a cached value of the tests.
type user struct {
	ID   int
	Name string
}

var errNotFound = errors.New("user not found")

// fill memoizes a loader under prefix and name and calls it for ids
// 1..n, so that n entries exist. It returns the keys.
func fill(t *testing.T, d conn.Driver, prefix, name string, n int, opts ...core.ManagerOption) []string {
	t.Helper()
	ctx := context.Background()
	m := core.New(append([]core.ManagerOption{core.WithDriver(d), core.WithPrefix(prefix), core.WithTimeout(2 * time.Second)}, opts...)...)
	t.Cleanup(func() { _ = m.Close() })
	memo := core.Memoize(m, name, func(_ context.Context, id int) (user, error) {
		return user{ID: id, Name: fmt.Sprintf("user %d", id)}, nil
	}, core.WithTTL(time.Minute))
	var keys []string
	for id := 1; id <= n; id++ {
		if _, err := memo.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		k, err := memo.Key(id)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	// The writes are synchronous, but make sure they all landed.
	for _, k := range keys {
		if _, err := d.Get(ctx, k); err != nil {
			t.Fatalf("entry %s was not written: %v", k, err)
		}
	}
	return keys
}

// wantBumped checks that invalidate reported a generation that moved
// forward for each of names.
func wantBumped(t *testing.T, out string, names ...string) {
	t.Helper()
	for _, name := range names {
		m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + ` +(\d+) -> (\d+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("no generation change reported for %s:\n%s", name, out)
			continue
		}
		from, _ := strconv.ParseUint(m[1], 10, 64)
		to, _ := strconv.ParseUint(m[2], 10, 64)
		if to <= from {
			t.Errorf("%s: generation %d -> %d, want it to move forward", name, from, to)
		}
	}
}

// withGen returns keys and, when the function has one, its generation
// key: core may write it with the first entry.
func withGen(t *testing.T, d conn.Driver, prefix, name string, keys []string) []string {
	t.Helper()
	gen := prefix + ":" + name + ":~gen"
	_, err := d.Get(context.Background(), gen)
	switch {
	case err == nil:
		return append(keys, gen)
	case errors.Is(err, conn.ErrMiss):
		return keys
	}
	t.Fatal(err)
	return nil
}

func lines(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestKeys(t *testing.T) {
	for _, tt := range []struct {
		name   string
		url    func(*testing.T) string
		driver string
	}{
		{"standalone", redisURL, "goredis"},
		{"cluster", clusterURL, "goredis"},
		{"standalone radix", redisURL, "radix"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url(t)
			d := openDriver(t, url)
			prefix := uniquePrefix(t, d)
			want := withGen(t, d, prefix, "users.get", fill(t, d, prefix, "users.get", 60))
			other := withGen(t, d, prefix, "orders.list", fill(t, d, prefix, "orders.list", 5))
			env := map[string]string{"REDIS_URL": url}
			all := append(slices.Clone(want), other...)

			r := runCmd(t, env, "keys", "--prefix", prefix, "--driver", tt.driver, "--count", "7")
			r.want(t, exitOK, nil, []string{fmt.Sprintf("%d keys matching", len(all))})
			got := lines(r.stdout)
			slices.Sort(got)
			slices.Sort(all)
			if !slices.Equal(got, all) {
				t.Errorf("keys listed %d keys, want %d:\ngot  %q\nwant %q", len(got), len(all), got, all)
			}

			r = runCmd(t, env, "keys", "--prefix", prefix, "--match", "users.get:*", "--driver", tt.driver)
			got = lines(r.stdout)
			slices.Sort(got)
			slices.Sort(want)
			if r.code != exitOK || !slices.Equal(got, want) {
				t.Errorf("keys --match users.get:* (exit %d) listed %q, want %q", r.code, got, want)
			}

			r = runCmd(t, env, "keys", "--prefix", prefix, "--limit", "3", "--driver", tt.driver)
			r.want(t, exitOK, nil, []string{"3 keys", "--limit reached"})
			if n := len(lines(r.stdout)); n != 3 {
				t.Errorf("keys --limit 3 listed %d keys", n)
			}

			r = runCmd(t, env, "keys", "--prefix", prefix, "--progress", "--count", "10", "--driver", tt.driver)
			r.want(t, exitOK, nil, []string{"scanned ", " keys (DBSIZE) on ", fmt.Sprintf(" keys/s; %d matched", len(all))})

			// A prefix with glob characters matches itself only.
			r = runCmd(t, env, "keys", "--prefix", prefix[:len(prefix)-2]+"*", "--driver", tt.driver)
			r.want(t, exitOK, nil, []string{"0 keys"})
		})
	}
}

func TestInspect(t *testing.T) {
	url := redisURL(t)
	d := openDriver(t, url)
	prefix := uniquePrefix(t, d)
	ctx := context.Background()
	env := map[string]string{"REDIS_URL": url}

	m := core.New(core.WithDriver(d), core.WithPrefix(prefix), core.WithTimeout(2*time.Second))
	t.Cleanup(func() { _ = m.Close() })
	jsonMemo := core.Memoize(m, "users.json", func(_ context.Context, id int) (user, error) {
		return user{ID: id, Name: "Zoë"}, nil
	}, core.WithCodec(codec.JSON), core.WithTTL(time.Minute))
	gobMemo := core.Memoize(m, "users.gob", func(_ context.Context, id int) (user, error) {
		return user{ID: id, Name: "alice"}, nil
	}, core.WithStaleWhileRevalidate(time.Minute), core.WithTTL(time.Minute))
	rawMemo := core.Memoize(m, "pages.raw", func(_ context.Context, id int) ([]byte, error) {
		return []byte("<html>\x00</html>"), nil
	}, core.WithCodec(codec.Compress(codec.Raw, codec.WithThreshold(1))))
	negMemo := core.Memoize(m, "users.neg", func(_ context.Context, id int) (user, error) {
		return user{}, errNotFound
	}, core.WithNegativeCaching(time.Minute, errNotFound))
	for _, f := range []func() error{
		func() error { _, err := jsonMemo.Get(ctx, 1); return err },
		func() error { _, err := gobMemo.Get(ctx, 2); return err },
		func() error { _, err := rawMemo.Get(ctx, 3); return err },
		func() error {
			if _, err := negMemo.Get(ctx, 4); !errors.Is(err, errNotFound) {
				return fmt.Errorf("negMemo: %v", err)
			}
			return nil
		},
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	key := func(k string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}

	r := runCmd(t, env, "inspect", "--prefix", prefix, key(jsonMemo.Key(1)))
	r.want(t, exitOK, []string{
		"format      redcache entry, version ",
		"flags       none",
		"codec       json (id 0x02)",
		"(current: the entry is live)",
		"function    users.json",
		`value       {"ID":1,"Name":"Zoë"}`,
		"ttl         ",
	}, nil)

	r = runCmd(t, env, "inspect", "--prefix", prefix, key(gobMemo.Key(2)))
	r.want(t, exitOK, []string{
		"codec        gob (id 0x01)",
		"flags        soft expiry (stale-while-revalidate)",
		"soft expiry  ",
		"(fresh for ",
		`value        user{ID: 2, Name: "alice"}`,
	}, nil)

	r = runCmd(t, env, "inspect", "--prefix", prefix, "--hex", key(rawMemo.Key(3)))
	r.want(t, exitOK, []string{
		"raw+flate (id 0x83)",
		"flags       compressed",
		`value       "<html>\x00</html>"`,
		"00000000  c5 0",
	}, nil)

	r = runCmd(t, env, "inspect", "--prefix", prefix, key(negMemo.Key(4)))
	r.want(t, exitOK, []string{
		"flags         negative (a cached loader error)",
		`cached error  "user not found"`,
		`the error "user not found" given to WithNegativeCaching`,
	}, nil)

	// After InvalidateAll the entry is from an older generation.
	if err := jsonMemo.InvalidateAll(ctx); err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, env, "inspect", "--prefix", prefix, key(jsonMemo.Key(1)))
	r.want(t, exitOK, []string{"(current is ", ": invalidated, reads as a miss)"}, nil)
	r = runCmd(t, env, "inspect", "--prefix", prefix, prefix+":users.json:~gen")
	r.want(t, exitOK, []string{"generation key of function users.json", "generation  "}, nil)

	// Not ours.
	foreign := prefix + ":foreign"
	if err := d.Set(ctx, foreign, []byte("hello, world"), time.Minute); err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, env, "inspect", foreign)
	r.want(t, exitFailure, []string{"not a redcache entry", `first bytes  "hello, world"`, "ttl "}, []string{"is not a redcache entry"})

	hash := prefix + ":hash"
	if _, err := d.Do(ctx, "HSET", hash, "f", "v"); err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, env, "inspect", hash)
	r.want(t, exitFailure, nil, []string{"holds a hash, not a redcache entry"})

	r = runCmd(t, env, "inspect", prefix+":missing")
	r.want(t, exitFailure, nil, []string{"does not exist"})
	if r.stdout != "" {
		t.Errorf("inspect of a missing key printed %q", r.stdout)
	}
}

func TestInvalidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		url  func(*testing.T) string
	}{
		{"standalone", redisURL},
		{"cluster", clusterURL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url(t)
			d := openDriver(t, url)
			prefix := uniquePrefix(t, d)
			ctx := context.Background()
			env := map[string]string{"REDIS_URL": url}

			// Generation refresh 0: this process reads the generation on
			// every call, so it sees another process's invalidation at once.
			m := core.New(core.WithDriver(d), core.WithPrefix(prefix), core.WithGenerationRefresh(0), core.WithTimeout(2*time.Second))
			t.Cleanup(func() { _ = m.Close() })
			var loadsA, loadsB atomic.Int64
			a := core.Memoize(m, "a.get", func(_ context.Context, id int) (int, error) { loadsA.Add(1); return id, nil })
			b := core.Memoize(m, "b.get", func(_ context.Context, id int) (int, error) { loadsB.Add(1); return id, nil })
			call := func(memo *core.Memo[int, int], id int) {
				t.Helper()
				if _, err := memo.Get(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			call(a, 1)
			call(a, 1)
			call(b, 1)
			if loadsA.Load() != 1 || loadsB.Load() != 1 {
				t.Fatalf("loads before invalidate: a %d, b %d; want 1, 1", loadsA.Load(), loadsB.Load())
			}

			r := runCmd(t, env, "invalidate", "--prefix", prefix, "a.get")
			r.want(t, exitOK, []string{"invalidated 1 function(s)"}, nil)
			wantBumped(t, r.stdout, "a.get")
			call(a, 1)
			call(b, 1)
			if loadsA.Load() != 2 || loadsB.Load() != 1 {
				t.Errorf("loads after invalidate a.get: a %d, b %d; want 2, 1", loadsA.Load(), loadsB.Load())
			}

			r = runCmd(t, env, "invalidate", "--prefix", prefix, "--all", "--dry-run")
			r.want(t, exitOK, []string{"would invalidate 2 functions", "  a.get\n", "  b.get\n"}, nil)

			r = runCmd(t, env, "invalidate", "--prefix", prefix, "--all")
			r.want(t, exitOK, []string{"invalidated 2 functions under prefix", "no entry deleted"}, nil)
			wantBumped(t, r.stdout, "a.get", "b.get")
			call(a, 1)
			call(b, 1)
			if loadsA.Load() != 3 || loadsB.Load() != 2 {
				t.Errorf("loads after invalidate --all: a %d, b %d; want 3, 2", loadsA.Load(), loadsB.Load())
			}

			r = runCmd(t, env, "invalidate", "--prefix", prefix+"-empty", "--all")
			r.want(t, exitOK, []string{"no functions under prefix"}, nil)
		})
	}
}

func TestStats(t *testing.T) {
	for _, tt := range []struct {
		name  string
		url   func(*testing.T) string
		nodes int
	}{
		{"standalone", redisURL, 1},
		{"cluster", clusterURL, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url(t)
			d := openDriver(t, url)
			prefix := uniquePrefix(t, d)
			fill(t, d, prefix, "users.get", 12)
			fill(t, d, prefix, "orders.list", 3)
			m := core.New(core.WithDriver(d), core.WithPrefix(prefix))
			t.Cleanup(func() { _ = m.Close() })
			for range 2 {
				if err := m.InvalidateAll(context.Background(), "orders.list"); err != nil {
					t.Fatal(err)
				}
			}

			genKeys := len(withGen(t, d, prefix, "users.get", nil)) + len(withGen(t, d, prefix, "orders.list", nil))
			r := runCmd(t, map[string]string{"REDIS_URL": url}, "stats", "--prefix", prefix)
			for _, row := range []string{`(?m)^  users\.get +12 +\d+$`, `(?m)^  orders\.list +3 +\d+$`} {
				if !regexp.MustCompile(row).MatchString(r.stdout) {
					t.Errorf("stats lacks a row %s:\n%s", row, r.stdout)
				}
			}
			r.want(t, exitOK, []string{
				"version ", "uptime ", "connected clients ", "memory used ", "keyspace hits ", "keyspace misses ", "keys ", "db0: ",
				fmt.Sprintf("Cache under prefix %q", prefix),
				fmt.Sprintf("keys             %d\n", 15+genKeys),
				"entries          15\n",
				fmt.Sprintf("generation keys  %d\n", genKeys),
				"functions        2\n",
				"core.Manager.Stats",
			}, nil)
			if n := len(regexp.MustCompile(`(?m)^Redis `).FindAllString(r.stdout, -1)); n != tt.nodes {
				t.Errorf("stats shows %d servers, want %d:\n%s", n, tt.nodes, r.stdout)
			}
		})
	}
}

// The demo plays the README's program: the key of the README, on the
// runner's Redis (REDIS_URL) or the embedded one, with either driver.
func TestDemoCommand(t *testing.T) {
	for _, tt := range []struct {
		name   string
		env    func(*testing.T) map[string]string
		driver string
		says   string
	}{
		{"embedded", func(*testing.T) map[string]string { return nil }, "goredis", "embedded, in-process Redis (miniredis) at 127.0.0.1:"},
		{"redis url radix", func(t *testing.T) map[string]string { return map[string]string{"REDIS_URL": redisURL(t)} }, "radix", "(radix driver)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env(t)
			r := runCmd(t, env, "demo", "--delay", "50ms", "--driver", tt.driver)
			r.want(t, exitOK, []string{tt.says, "key cache:something:s2:42, Gob codec", "waiting ", "7 requests, 2 loads, 2 misses, 5 hits"}, nil)
			var got []string
			for _, m := range regexp.MustCompile(`(?m)^ +\d+ +[\d.]+s  (MISS|HIT) `).FindAllStringSubmatch(r.stdout, -1) {
				got = append(got, m[1])
			}
			want := []string{"MISS", "HIT", "HIT", "HIT", "MISS", "HIT", "HIT"}
			if !slices.Equal(got, want) {
				t.Errorf("demo played %v, want %v:\n%s", got, want, r.stdout)
			}
		})
	}
}

// REDIS_URL naming a Redis that does not answer: the demo says so and
// plays on the embedded Redis.
func TestDemoFallback(t *testing.T) {
	r := runCmd(t, map[string]string{"REDIS_URL": "redis://127.0.0.1:1"}, "demo", "--delay", "10ms")
	r.want(t, exitOK, []string{"cannot reach Redis at redis://127.0.0.1:1", "playing on an embedded Redis instead", "7 requests, 2 loads"}, nil)
}

// The redcache command, whose first build is the demo's first "go run",
// does not compile the libraries the benchmark measures.
func TestNoBenchPeers(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, peer := range []string{"github.com/go-redis/cache", "github.com/eko/gocache", "github.com/chenyahui/gin-cache",
		"github.com/go-redis/redis/v8", "modernc.org/sqlite", "github.com/vmihailenco/msgpack", "redcache/tools/internal/bench"} {
		if strings.Contains(string(out), peer) {
			t.Errorf("the redcache command compiles %s", peer)
		}
	}
}
