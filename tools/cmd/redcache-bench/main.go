// Command redcache-bench measures redcache against its peers (go-redis/cache,
// eko/gocache, gin-cache, raw go-redis and radix) on the same workloads and
// one Redis, and writes the figures as Markdown and an SVG chart: the
// source of docs/performance.md.
//
//	go run ./tools/cmd/redcache-bench [--quick] [--out FILE] [--svg FILE] [--url URL]
//
// It is a command of its own, apart from the redcache command, because it
// compiles every peer library it measures: keeping it out of redcache makes
// the first "go run ./tools/cmd/redcache demo" build a few hundred packages
// fewer. Exit status: 0 on success, 1 when the run failed, 2 for a usage
// error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/redcache/redcache/tools/internal/bench"
	"github.com/redcache/redcache/tools/internal/cli"
)

const usage = `redcache-bench [--quick] [--only IDS] [--out FILE] [--svg FILE] [--url URL]

Runs the comparison harness: the same workloads (hits from 1 and 64
goroutines, miss and fill, a 90/10 Zipf mix, a stampede on a cold key, a
batch of 100 keys, a cached SQL query, a cached gin route) side by side on
redcache (with the goredis and the radix driver), raw go-redis and radix,
go-redis/cache (with and without its TinyLFU local cache), eko/gocache and
gin-cache, against one Redis. It writes the figures as Markdown (--out;
standard output without it) with the machine, the versions, a table per
workload and the project's targets, and the main comparison as an SVG bar
chart (--svg). The targets are information: a run never fails on them.

The Redis is --url, else REDIS_URL (host:port or redis://host:port), and
must be on loopback: the harness sends its load nowhere else. With none, it
starts a redis-server of its own on a free loopback port in a temporary
folder (redis-server must be on PATH) and stops it at the end. It writes
only keys under "rcbench-<random>:" and deletes them at the end.

The full run takes about five minutes on two cores; --quick takes well
under two, with noisy figures, and is what the test runner calls to show
that the harness works. Run it on a quiet machine: every figure is
measured on the machine's own cores, Redis included. Both drivers are
measured.`

// usageError is what the user typed wrong: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	err := bench1(ctx, args, stdout, stderr, getenv)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "redcache-bench: %s\nRun 'redcache-bench -h' for usage.\n", ue.msg)
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "redcache-bench: interrupted")
		return 1
	}
	fmt.Fprintf(stderr, "redcache-bench: %s\n", strings.Join(strings.Fields(err.Error()), " "))
	return 1
}

func bench1(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("redcache-bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	quick := fs.Bool("quick", false, "measure for a fraction of the time (under 2 minutes)")
	out := fs.String("out", "", "write the Markdown report to `FILE` (default: standard output)")
	svg := fs.String("svg", "", "write the chart to `FILE`")
	var redisURL string
	fs.StringVar(&redisURL, "url", "", "the Redis to use, `URL` or HOST:PORT on loopback (default: $REDIS_URL, or a redis-server started for the run)")
	fs.StringVar(&redisURL, "redis", "", "the same as --url (an older name)")
	only := fs.String("only", "", "run only these workloads, comma-separated `IDS` ("+strings.Join(bench.WorkloadIDs(), ", ")+")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usage)
			fmt.Fprintln(stdout, "\nFlags:")
			printFlags(stdout, fs)
			return err
		}
		return usageErrorf("%s", cli.FlagError(err.Error()))
	}
	if fs.NArg() != 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}

	cfg := bench.Config{Mode: bench.Full, Command: command(*quick, *out, *svg, *only)}
	if *only != "" {
		for _, id := range strings.Split(*only, ",") {
			id = strings.TrimSpace(id)
			if !slices.Contains(bench.WorkloadIDs(), id) {
				return usageErrorf("--only: no workload %q (there are %s)", id, strings.Join(bench.WorkloadIDs(), ", "))
			}
			cfg.Only = append(cfg.Only, id)
		}
	}
	if *quick {
		cfg.Mode = bench.Quick
	}
	src, raw := "--url", redisURL
	if raw == "" {
		src, raw = "REDIS_URL", strings.TrimSpace(getenv("REDIS_URL"))
	}
	if raw != "" {
		var err error
		if cfg.Redis, err = bench.ParseAddr(ctx, raw); err != nil {
			return usageErrorf("%s (from %s)", strings.TrimPrefix(err.Error(), "bench: "), src)
		}
	}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		cfg.Progress = stderr
	}

	start := time.Now()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, bench.ErrNoRedisServer) {
			return usageErrorf("%s", strings.TrimPrefix(err.Error(), "bench: "))
		}
		return err
	}

	svgRef := ""
	if *svg != "" {
		if err := writeFile(*svg, rep.SVG()); err != nil {
			return err
		}
		svgRef = *svg
		if *out != "" {
			if rel, err := filepath.Rel(filepath.Dir(*out), *svg); err == nil {
				svgRef = filepath.ToSlash(rel)
			}
		}
	}
	md := rep.Markdown(svgRef)
	if *out == "" {
		_, err := stdout.Write(md) // the targets are in it, once
		return err
	}
	if err := writeFile(*out, md); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s", *out)
	if *svg != "" {
		fmt.Fprintf(stdout, " and %s", *svg)
	}
	fmt.Fprintf(stdout, " in %s\n", time.Since(start).Round(time.Second))
	printTargets(stdout, rep.Targets)
	return nil
}

// printTargets lists the project's targets and where this run stands, as
// information: figures of one run on a shared machine are not a verdict.
func printTargets(w io.Writer, targets []bench.Target) {
	if len(targets) == 0 {
		return
	}
	fmt.Fprintln(w, "\nTargets, for information (this run's figures; nothing is asserted on them):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range targets {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Status, t.Goal, t.Figure)
	}
	tw.Flush()
}

// printFlags lists the flags GNU-style (--name VALUE), as the redcache
// command does; -name works too.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if name != "" {
			arg += " " + name
		}
		fmt.Fprintf(tw, "  %s\t%s\n", arg, usage)
	})
	tw.Flush()
}

// command is the command line that reproduces a run, for the report.
func command(quick bool, out, svg, only string) string {
	parts := []string{"go run ./tools/cmd/redcache-bench"}
	if quick {
		parts = append(parts, "--quick")
	}
	if only != "" {
		parts = append(parts, "--only", only)
	}
	if out != "" {
		parts = append(parts, "--out", out)
	}
	if svg != "" {
		parts = append(parts, "--svg", svg)
	}
	return strings.Join(parts, " ")
}

// writeFile writes b to path, creating its folder.
func writeFile(path string, b []byte) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b, 0o644)
}
