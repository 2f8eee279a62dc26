//go:build unix

// Command soak is redcache's consistency soak: it checks, under
// concurrency, mutations and a Redis that dies, that a memoized Get never
// returns a wrong value.
//
//	soak [-duration 25s] [-near] [-dir DIR] [-keys 1000] [-readers 64] [-ttl 2s]
//
// It starts two redis-servers of its own on loopback: the cache, which it
// kills (SIGKILL) and starts again, empty, at random moments, and the
// source, which it never touches and which plays the application's
// database: it holds a version per key and an epoch for the whole function.
// Then it runs itself again twice, as two worker processes: one on the
// go-redis driver, one on radix. Each worker runs, against the same cache
// and the same function:
//
//   - 64 readers calling the memoized Get over keys drawn from a Zipf
//     distribution. The loader reads the key's version and the epoch from
//     the source and returns them, with the time it loaded.
//   - 4 mutators. To Invalidate or Set a key, a mutator takes the key's lock
//     in the source (so that mutations of one key never race each other:
//     that race would be the application's), INCRs its version, calls
//     Invalidate (or Set with a value of that version), and, when that
//     returned no error, records the version as committed (a maximum) in
//     the source. InvalidateAll INCRs the epoch, calls InvalidateAll, then
//     records the epoch as committed.
//
// Before each Get, a reader reads the key's committed version from the
// source, which is how it sees what the other process committed too, and
// the epoch that binds it: its own process's last InvalidateAll, or the
// other process's, once the generation refresh interval (plus a timeout)
// has passed since its commit, the delay WithGenerationRefresh documents.
// A value is wrong when its version is lower than the committed version,
// when it was loaded in an older epoch than the binding one (Set values are
// not held to the epoch: a Set after an InvalidateAll is new data), when it
// is for another key, or when it is older than the TTL (plus the call
// timeout, the most that can pass between a load and the write of its
// entry) at the moment the Get began.
//
// With -near the workers also keep a near cache. Another process's near
// copies may lag by the announcement latency, so the readers then check
// only against what their own process committed.
//
// It prints one line of figures and exits 1 when a value was wrong, a
// goroutine was left after Close, or a worker failed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redcache/redcache/tools/internal/faults"
)

// config is what the coordinator hands its workers, as flags.
type config struct {
	duration   time.Duration
	keys       int
	readers    int
	mutators   int
	ttl        time.Duration
	timeout    time.Duration
	near       bool
	genRefresh time.Duration
	seed       uint64
}

func main() {
	var (
		cfg      config
		dir      = flag.String("dir", "", "folder for the servers' files (default: a new temp folder, removed at the end)")
		worker   = flag.String("worker", "", "internal: run as a worker on this driver (goredis or radix)")
		cacheA   = flag.String("cache", "", "internal: the cache Redis (host:port)")
		sourceA  = flag.String("source", "", "internal: the source Redis (host:port)")
		peers    = flag.String("peers", "", "internal: every worker's name, comma-separated")
		restarts = flag.Bool("restart", true, "kill and restart the cache Redis at random")
	)
	flag.DurationVar(&cfg.duration, "duration", 25*time.Second, "how long the workers run")
	flag.IntVar(&cfg.keys, "keys", 1000, "number of keys")
	flag.IntVar(&cfg.readers, "readers", 64, "reader goroutines per worker")
	flag.IntVar(&cfg.mutators, "mutators", 4, "mutator goroutines per worker")
	flag.DurationVar(&cfg.ttl, "ttl", 2*time.Second, "the memoized function's TTL")
	flag.DurationVar(&cfg.timeout, "timeout", 100*time.Millisecond, "the cache's Redis timeout")
	flag.DurationVar(&cfg.genRefresh, "generation-refresh", time.Second, "the workers' WithGenerationRefresh: how long another process's InvalidateAll may take to bind")
	flag.BoolVar(&cfg.near, "near", false, "give the workers a near cache (checks only in-process staleness)")
	flag.Uint64Var(&cfg.seed, "seed", 0, "random seed (default: from the clock)")
	flag.Parse()
	if cfg.seed == 0 {
		cfg.seed = uint64(time.Now().UnixNano())
	}
	if *worker != "" {
		os.Exit(runWorker(*worker, *cacheA, *sourceA, strings.Split(*peers, ","), cfg))
	}
	if err := coordinate(cfg, *dir, *restarts); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// report is a worker's figures, printed as one JSON line on its stdout.
type report struct {
	Driver     string `json:"driver"`
	Calls      int64  `json:"calls"`
	Errors     int64  `json:"errors"`
	Loads      int64  `json:"loads"`
	Hits       uint64 `json:"hits"`
	Stale      int64  `json:"stale"`   // version or epoch older than committed
	Expired    int64  `json:"expired"` // older than the TTL
	Foreign    int64  `json:"foreign"` // a value for another key
	Mutations  int64  `json:"mutations"`
	MutateErrs int64  `json:"mutate_errors"`
	Leaked     int    `json:"leaked"`
	FirstWrong string `json:"first_wrong,omitempty"`
	FirstError string `json:"first_error,omitempty"`
}

func (r report) wrong() int64 { return r.Stale + r.Expired + r.Foreign }

func coordinate(cfg config, dir string, restarts bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if dir == "" {
		d, err := os.MkdirTemp("", "redcache-soak-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	source, err := faults.StartServer(sctx, filepath.Join(dir, "source"))
	if err != nil {
		return fmt.Errorf("source redis: %w", err)
	}
	defer source.Close()
	cache, err := faults.StartServer(sctx, filepath.Join(dir, "cache"))
	if err != nil {
		return fmt.Errorf("cache redis: %w", err)
	}
	defer cache.Close()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	type result struct {
		r   report
		err error
	}
	drivers := []string{"goredis", "radix"}
	results := make(chan result, len(drivers))
	var procs []*os.Process
	for i, drv := range drivers {
		args := []string{
			"-worker", drv, "-cache", cache.Addr, "-source", source.Addr,
			"-duration", cfg.duration.String(), "-keys", fmt.Sprint(cfg.keys),
			"-readers", fmt.Sprint(cfg.readers), "-mutators", fmt.Sprint(cfg.mutators),
			"-ttl", cfg.ttl.String(), "-timeout", cfg.timeout.String(),
			"-generation-refresh", cfg.genRefresh.String(), "-peers", strings.Join(drivers, ","),
			fmt.Sprintf("-near=%v", cfg.near), "-seed", fmt.Sprint(cfg.seed + uint64(i)*7919),
		}
		cmd := exec.Command(self, args...)
		// go-redis logs every failed dial on stderr; keep a worker's
		// stderr in a file and show it when the worker fails.
		errf, err := os.Create(filepath.Join(dir, drv+".stderr"))
		if err != nil {
			return err
		}
		defer errf.Close()
		cmd.Stderr = errf
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("worker %s: %w", drv, err)
		}
		procs = append(procs, cmd.Process)
		go func(drv string) {
			var r report
			var last string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				last = sc.Text()
			}
			werr := cmd.Wait()
			if err := json.Unmarshal([]byte(last), &r); err != nil {
				results <- result{err: fmt.Errorf("worker %s: no report (%v; last line %q); its stderr:\n%s", drv, werr, last, tail(errf.Name()))}
				return
			}
			if werr != nil && r.wrong() == 0 && r.Leaked == 0 {
				results <- result{r: r, err: fmt.Errorf("worker %s: %w", drv, werr)}
				return
			}
			results <- result{r: r}
		}(drv)
	}

	// Chaos: kill the cache at random moments, restart it after a random
	// outage, until the workers' time is up.
	rng := rand.New(rand.NewPCG(cfg.seed, 1))
	end := time.Now().Add(cfg.duration)
	kills := 0
	var down time.Duration
	for restarts && time.Now().Add(time.Second).Before(end) {
		if !sleep(ctx, time.Duration(1500+rng.IntN(3000))*time.Millisecond) {
			break
		}
		if !time.Now().Before(end) {
			break
		}
		if err := cache.Kill(); err != nil {
			return err
		}
		kills++
		outage := time.Duration(50+rng.IntN(700)) * time.Millisecond
		t0 := time.Now()
		sleep(ctx, outage)
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := cache.Restart(rctx)
		rcancel()
		if err != nil {
			return fmt.Errorf("restarting the cache redis: %w", err)
		}
		down += time.Since(t0)
	}

	var total report
	var failures []string
	var parts []string
	// A worker that hangs (a Get or a Close that never returns) must not
	// hang CI: past a grace period it is killed, and the soak fails.
	grace := time.NewTimer(time.Until(end) + time.Minute)
	defer grace.Stop()
	for range drivers {
		var res result
		select {
		case res = <-results:
		case <-grace.C:
			for _, p := range procs {
				_ = p.Kill()
			}
			res = <-results
			res.err = fmt.Errorf("a worker did not finish within a minute of the end and was killed: %v", res.err)
		}
		if res.err != nil {
			failures = append(failures, res.err.Error())
		}
		r := res.r
		total.Calls += r.Calls
		total.Errors += r.Errors
		total.Loads += r.Loads
		total.Hits += r.Hits
		total.Stale += r.Stale
		total.Expired += r.Expired
		total.Foreign += r.Foreign
		total.Mutations += r.Mutations
		total.MutateErrs += r.MutateErrs
		total.Leaked += r.Leaked
		parts = append(parts, fmt.Sprintf("%s: calls=%d hits=%d loads=%d errors=%d wrong=%d leaked=%d",
			r.Driver, r.Calls, r.Hits, r.Loads, r.Errors, r.wrong(), r.Leaked))
		if r.FirstWrong != "" {
			failures = append(failures, fmt.Sprintf("%s: first wrong value: %s", r.Driver, r.FirstWrong))
		}
		if r.Leaked != 0 {
			failures = append(failures, fmt.Sprintf("%s: goroutines left after Close (%d; -1: Close hung); its stderr:\n%s",
				r.Driver, r.Leaked, tail(filepath.Join(dir, r.Driver+".stderr"))))
		}
		if r.FirstError != "" {
			fmt.Fprintf(os.Stderr, "soak: %s: first Get error: %s\n", r.Driver, r.FirstError)
		}
	}
	mode := "no near cache, cross-process check"
	if cfg.near {
		mode = "near cache, in-process check"
	}
	verdict := "PASS"
	if total.wrong() > 0 || total.Leaked > 0 || len(failures) > 0 {
		verdict = "FAIL"
	}
	fmt.Printf("soak %s: %v, 2 workers (%s), %s; %d keys (zipf), %d readers + %d mutators per worker; cache killed %d times (down %v): calls=%d hits=%d loads=%d get_errors=%d mutations=%d mutation_errors=%d wrong=%d (stale %d, expired %d, foreign %d) leaked_goroutines=%d [%s]\n",
		verdict, cfg.duration, strings.Join(drivers, "+"), mode, cfg.keys, cfg.readers, cfg.mutators,
		kills, down.Round(time.Millisecond), total.Calls, total.Hits, total.Loads, total.Errors,
		total.Mutations, total.MutateErrs, total.wrong(), total.Stale, total.Expired, total.Foreign,
		total.Leaked, strings.Join(parts, "; "))
	if verdict == "FAIL" {
		return errors.New(strings.Join(failures, "\n      "))
	}
	return nil
}

// tail returns the last lines of the file at path.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// sleep waits d, or less when ctx ends; it reports whether ctx is alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
