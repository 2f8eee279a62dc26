package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redcache/redcache/tools/internal/bench"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "measure redcache against go-redis/cache, gocache and gin-cache; write docs/performance.md",
		usage: `redcache bench [--quick] [--out FILE] [--svg FILE] [--redis HOST:PORT]

Runs the comparison harness: the same workloads (hits from 1 and 64
goroutines, miss and fill, a 90/10 Zipf mix, a stampede on a cold key, a
batch of 100 keys, a cached SQL query, a cached gin route) side by side on
redcache (with the goredis and the radix driver), raw go-redis and radix,
go-redis/cache (with and without its TinyLFU local cache), eko/gocache and
gin-cache, against one Redis. It writes the figures as Markdown (--out;
standard output without it) with the machine, the versions, a table per
workload and the project's targets marked met or not met, and the main
comparison as an SVG bar chart (--svg).

The Redis is --redis, else --url or REDIS_URL, and must be on loopback:
the harness sends its load nowhere else. With none, it starts a
redis-server of its own on a free loopback port in a temporary folder
(redis-server must be on PATH) and stops it at the end. It writes only
keys under "rcbench-<random>:" and deletes them at the end.

The full run takes about five minutes on two cores; --quick takes well
under two, with noisy figures, and is what the test runner calls to show
that the harness works. Run it on a quiet machine: every figure is
measured on the machine's own cores, Redis included. --driver is ignored:
both drivers are measured.`,
		run: runBench,
	})
}

func runBench(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("bench")
	quick := fs.Bool("quick", false, "measure for a fraction of the time (under 2 minutes)")
	out := fs.String("out", "", "write the Markdown report to `FILE` (default: standard output)")
	svg := fs.String("svg", "", "write the chart to `FILE`")
	redisAddr := fs.String("redis", "", "the Redis to use, `HOST:PORT` on loopback (default: --url, $REDIS_URL, or a redis-server started for the run)")
	args, err := env.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return usageErrorf("unexpected argument %q", args[0])
	}

	cfg := bench.Config{Mode: bench.Full, Command: benchCommand(*quick, *out, *svg)}
	if *quick {
		cfg.Mode = bench.Quick
	}
	src, raw := "--redis", *redisAddr
	if raw == "" {
		src, raw = env.urlSource(), env.redisURL()
	}
	if raw != "" {
		if cfg.Redis, err = bench.ParseAddr(ctx, raw); err != nil {
			return usageErrorf("%s (from %s)", strings.TrimPrefix(err.Error(), "bench: "), src)
		}
	}
	if env.stderrIsTerminal() {
		cfg.Progress = env.Stderr
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
		_, err := env.Stdout.Write(md)
		return err
	}
	if err := writeFile(*out, md); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s", *out)
	if *svg != "" {
		fmt.Fprintf(env.Stdout, " and %s", *svg)
	}
	fmt.Fprintf(env.Stdout, " in %s\n", time.Since(start).Round(time.Second))
	for _, t := range rep.Targets {
		fmt.Fprintf(env.Stdout, "  %-13s %s: %s\n", t.Status, t.Goal, t.Figure)
	}
	return nil
}

// benchCommand is the command line that reproduces a run, for the report.
func benchCommand(quick bool, out, svg string) string {
	parts := []string{"go run ./tools/cmd/redcache bench"}
	if quick {
		parts = append(parts, "--quick")
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
