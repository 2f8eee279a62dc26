package tests_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// The distributed lock across OS processes: the test binary runs itself
// again as the processes (TestDlockChildProcess, which does nothing in an
// ordinary run), each with a Manager of its own on the same Redis.

const (
	envDlockChild = "REDCACHE_DLOCK_CHILD" // the child's mode: "stampede" or "hold"
	envDlockURL   = "REDCACHE_DLOCK_URL"
	envDlockKind  = "REDCACHE_DLOCK_DRIVER" // goredis or radix
	envDlockPre   = "REDCACHE_DLOCK_PREFIX"
	envDlockLease = "REDCACHE_DLOCK_LEASE" // a time.Duration; 0: no lock
	envDlockN     = "REDCACHE_DLOCK_GOROUTINES"
)

// dlockServer is a Redis a child process can reach by URL, through one
// driver.
type dlockServer struct {
	name, kind string
	url        func(tb testing.TB) string
}

func dlockServers() []dlockServer {
	standalone := func(tb testing.TB) string { return "redis://" + conntest.RedisAddr(tb) }
	cluster := func(tb testing.TB) string {
		return "redis+cluster://" + strings.Join(conntest.ClusterAddrs(tb), ",")
	}
	return []dlockServer{
		{"goredis/standalone", "goredis", standalone},
		{"goredis/cluster", "goredis", cluster},
		{"radix/standalone", "radix", standalone},
		{"radix/cluster", "radix", cluster},
	}
}

// dlockLoaderKey is the key in which every process's loader counts its
// calls (INCR): a key apart from the cache's.
func dlockLoaderKey(prefix string) string { return prefix + "-loads" }

// TestDlockChildProcess is a process of the tests below; it is skipped
// unless one of them started it. It prints "dlock: ready", waits for a
// line on its standard input, then calls Get on one cold key from its
// goroutines and prints what they got.
func TestDlockChildProcess(t *testing.T) {
	mode := os.Getenv(envDlockChild)
	if mode == "" {
		t.Skip("a child process of the distributed lock tests")
	}
	url, prefix := os.Getenv(envDlockURL), os.Getenv(envDlockPre)
	d := openLike(t, os.Getenv(envDlockKind), url)
	lease, err := time.ParseDuration(os.Getenv(envDlockLease))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(os.Getenv(envDlockN))
	m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithDistributedLock(lease))
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	get := core.Memoize(m, "stampede", func(ctx context.Context, k string) (string, error) {
		calls, err := d.Do(ctx, "INCR", dlockLoaderKey(prefix))
		if err != nil {
			return "", err
		}
		if mode == "hold" {
			fmt.Println("dlock: loading")
			time.Sleep(5 * time.Minute) // until the test kills this process
		}
		time.Sleep(300 * time.Millisecond) // long enough for every process to miss
		return fmt.Sprintf("%s loaded by call %d", k, calls), nil
	})
	fmt.Println("dlock: ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := get.Get(ctx, "cold")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got[v]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	for v, c := range got {
		fmt.Printf("dlock: result %d %s\n", c, v)
	}
	s := m.Stats()
	fmt.Printf("dlock: stats loads=%d lockwaits=%d failopen=%d\n", s.Loads, s.LockWaits, s.LockFailOpen)
	fmt.Printf("dlock: summary %s\n", s)
}

// dlockChild is a running child process.
type dlockChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // its "dlock: " lines, without the prefix; closed at its end
	done  chan error
}

// startDlockChild runs the test binary as a child process in mode.
func startDlockChild(t *testing.T, mode string, srv dlockServer, prefix string, lease time.Duration, goroutines int) *dlockChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDlockChildProcess$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(),
		envDlockChild+"="+mode, envDlockURL+"="+srv.url(t), envDlockKind+"="+srv.kind,
		envDlockPre+"="+prefix, envDlockLease+"="+lease.String(), envDlockN+"="+strconv.Itoa(goroutines))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &dlockChild{cmd: cmd, stdin: stdin, lines: make(chan string, 64), done: make(chan error, 1)}
	var out strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if rest, ok := strings.CutPrefix(line, "dlock: "); ok {
				c.lines <- rest
			}
		}
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("%w\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
		}
		close(c.lines)
		c.done <- err
	}()
	lines := c.lines
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		for range lines { // until the reader saw the end
		}
	})
	return c
}

// next returns the child's next line, failing t when it ends first or
// says nothing for a minute.
func (c *dlockChild) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			t.Fatalf("child ended: %v", <-c.done)
		}
		return l
	case <-time.After(time.Minute):
		t.Fatal("child said nothing for a minute")
	}
	return ""
}

// rest returns the child's remaining lines once it exited, failing t
// when it failed.
func (c *dlockChild) rest(t *testing.T) []string {
	t.Helper()
	var ls []string
	for l := range c.lines {
		ls = append(ls, l)
	}
	if err := <-c.done; err != nil {
		t.Fatalf("child failed: %v", err)
	}
	return ls
}

func dlockLoaderCalls(t *testing.T, d conn.Driver, prefix string) int {
	t.Helper()
	r, err := d.Do(context.Background(), "GET", dlockLoaderKey(prefix))
	if err != nil {
		t.Fatalf("GET loader counter: %v", err)
	}
	n, err := strconv.Atoi(r.(string))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Issue 14 item 1: 8 OS processes x 100 goroutines on one cold key: with
// the lock, the loader runs exactly once in all of them, and every
// goroutine gets its value. Without it, each process loads once (its own
// flight), which -v prints as the figure to compare with.
//
//	go test -race -run TestDlockStampedeProcesses -v ./core/tests
func TestDlockStampedeProcesses(t *testing.T) {
	const procs, goroutines = 8, 100
	for _, srv := range dlockServers() {
		t.Run(srv.name, func(t *testing.T) {
			for _, lease := range []time.Duration{10 * time.Second, 0} {
				name := "lock"
				if lease == 0 {
					name = "nolock"
				}
				t.Run(name, func(t *testing.T) {
					d := openLike(t, srv.kind, srv.url(t))
					prefix := uniquePrefix(t)
					children := make([]*dlockChild, procs)
					for i := range children {
						children[i] = startDlockChild(t, "stampede", srv, prefix, lease, goroutines)
					}
					for _, c := range children {
						if l := c.next(t); l != "ready" {
							t.Fatalf("child said %q, want ready", l)
						}
					}
					for _, c := range children {
						if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
							t.Fatal(err)
						}
					}
					values := map[string]int{}
					var waits, failOpen int
					var summaries []string
					for _, c := range children {
						for _, l := range c.rest(t) {
							if r, ok := strings.CutPrefix(l, "summary "); ok {
								summaries = append(summaries, r)
							}
							if r, ok := strings.CutPrefix(l, "result "); ok {
								n, v, _ := strings.Cut(r, " ")
								k, _ := strconv.Atoi(n)
								values[v] += k
							}
							var loads, w, f int
							if _, err := fmt.Sscanf(l, "stats loads=%d lockwaits=%d failopen=%d", &loads, &w, &f); err == nil {
								waits += w
								failOpen += f
							}
						}
					}
					total := 0
					for _, k := range values {
						total += k
					}
					if total != procs*goroutines {
						t.Fatalf("%d goroutines got a value, want %d: %v", total, procs*goroutines, values)
					}
					calls := dlockLoaderCalls(t, d, prefix)
					t.Logf("%s, %d processes x %d goroutines on one cold key: %d loader calls (%s), %d distinct values, %d flights answered by another process's load",
						srv.name, procs, goroutines, calls, name, len(values), waits)
					if lease == 0 {
						if calls < 1 || calls > procs {
							t.Fatalf("without the lock: %d loader calls, want 1 to %d (one flight per process)", calls, procs)
						}
						return
					}
					if calls != 1 || len(values) != 1 {
						t.Fatalf("with the lock: %d loader calls and values %v, want exactly one call whose value every goroutine got; the processes' stats:\n%s",
							calls, values, strings.Join(summaries, "\n"))
					}
					if failOpen != 0 {
						t.Fatalf("%d loads went without the lock on a healthy Redis", failOpen)
					}
				})
			}
		})
	}
}

// Issue 14 item 1: the lock's holder is killed (SIGKILL) mid-load: a
// process waiting for it takes over once the lease ends, and loads.
func TestDlockHolderKilled(t *testing.T) {
	const lease = time.Second
	for _, srv := range dlockServers() {
		t.Run(srv.name, func(t *testing.T) {
			d := openLike(t, srv.kind, srv.url(t))
			prefix := uniquePrefix(t)
			holder := startDlockChild(t, "hold", srv, prefix, lease, 1)
			if l := holder.next(t); l != "ready" {
				t.Fatalf("child said %q, want ready", l)
			}
			if _, err := io.WriteString(holder.stdin, "go\n"); err != nil {
				t.Fatal(err)
			}
			if l := holder.next(t); l != "loading" {
				t.Fatalf("child said %q, want loading", l)
			}
			ctx := testCtx(t)
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithDistributedLock(lease))
			t.Cleanup(func() { m.Close() })
			var killedAt time.Time
			var loadedAt time.Time
			get := core.Memoize(m, "stampede", func(ctx context.Context, k string) (string, error) {
				loadedAt = time.Now()
				calls, err := d.Do(ctx, "INCR", dlockLoaderKey(prefix))
				if err != nil {
					return "", err
				}
				return fmt.Sprintf("%s loaded by call %d", k, calls), nil
			})
			key, _ := get.Key("cold")
			if _, err := d.Get(ctx, key+":~lock"); err != nil {
				t.Fatalf("the holder's lock is not in Redis: %v", err)
			}
			type result struct {
				v   string
				err error
			}
			res := make(chan result, 1)
			go func() {
				v, err := get.Get(ctx, "cold")
				res <- result{v, err}
			}()
			time.Sleep(200 * time.Millisecond) // the Get is waiting for the lock
			killedAt = time.Now()
			if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			r := <-res
			if r.err != nil || r.v != "cold loaded by call 2" {
				t.Fatalf("Get = %q, %v; want the value of the second loader call, after the killed holder's", r.v, r.err)
			}
			if loadedAt.Before(killedAt) {
				t.Fatal("the waiter loaded while the holder was alive and held the lock")
			}
			if n := dlockLoaderCalls(t, d, prefix); n != 2 {
				t.Fatalf("%d loader calls, want 2 (the killed holder's and the one that took over)", n)
			}
			t.Logf("took over %v after the kill (lease %v)", time.Since(killedAt).Round(time.Millisecond), lease)
			if s := m.Stats(); s.Loads != 1 || s.LockFailOpen != 0 {
				t.Fatalf("stats %+v: want one load under the lock", s)
			}
		})
	}
}
