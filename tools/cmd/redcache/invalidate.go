package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

func init() {
	register(&command{
		name:    "invalidate",
		summary: "drop every entry of a function, or of a whole prefix, by bumping generations",
		usage: `redcache invalidate [--prefix P] NAME...
redcache invalidate --all [--prefix P] [--dry-run]

A NAME with no key under the prefix (no entry, no generation key) is
refused, as a typo would otherwise succeed silently; --force bumps its
generation anyway (for a function that has not written yet).

Drops every cached entry of the functions memoized under NAME (the name given
to core.Memoize), in O(1) per function: it increments the function's
generation (the key P:NAME:~gen) exactly as core.Manager.InvalidateAll does.
Every entry records the generation it was written in, so older entries now
read as misses and are overwritten by the next call. Nothing is deleted: the
old entries stay in Redis until their ttl ends, they are overwritten, or
Redis evicts them. The process that calls InvalidateAll sees it at once;
other processes see it within their generation refresh interval
(core.WithGenerationRefresh, 1s by default).

With --all, every function under the prefix: one SCAN pass (MATCH "P:*",
on every primary of a cluster) collects the names of the functions that
have entries or a generation key, then each one's generation is bumped.
The writes are O(number of functions), not O(number of keys); the SCAN
walks the keyspace, as any SCAN does. --dry-run lists the functions
without bumping anything.`,
		run: runInvalidate,
	})
}

func runInvalidate(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("invalidate")
	prefix := fs.String("prefix", "cache", "key prefix `P` (the Manager's WithPrefix)")
	all := fs.Bool("all", false, "invalidate every function under the prefix")
	dryRun := fs.Bool("dry-run", false, "with --all: list the functions, change nothing")
	count := fs.Int("count", defaultScanCount, "COUNT hint `N` of each SCAN call (--all)")
	showProgress := fs.Bool("progress", false, "report the scan's progress on stderr even when it is not a terminal")
	force := fs.Bool("force", false, "bump the generation of a NAME that has no keys under the prefix")
	names, err := env.Parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *all && len(names) > 0:
		return usageErrorf("--all and NAME exclude each other")
	case !*all && len(names) == 0:
		return usageErrorf("missing NAME (or --all for every function under the prefix)")
	case *dryRun && !*all:
		return usageErrorf("--dry-run goes with --all")
	case *count <= 0:
		return usageErrorf("--count %d: want 1 or more", *count)
	}
	for _, n := range names {
		if err := validName(n); err != nil {
			return usageErrorf("%v", err)
		}
	}
	d, err := env.Connect(ctx)
	if err != nil {
		return err
	}

	// A name with nothing under the prefix is most likely a typo (or the
	// wrong --prefix): refuse it rather than report success and create
	// a generation key nobody reads. All names are checked before any
	// is bumped.
	if !*all && !*force {
		var unknown []string
		for _, name := range names {
			known, err := functionKnown(ctx, d, *prefix, name)
			if err != nil {
				return err
			}
			if !known {
				unknown = append(unknown, strconv.Quote(name))
			}
		}
		if len(unknown) > 0 {
			return fmt.Errorf("no keys under prefix %q for function %s (no entry, no generation key): nothing invalidated; "+
				"check the name and --prefix (redcache stats lists the functions), or pass --force to bump the generation anyway",
				*prefix, strings.Join(unknown, ", "))
		}
	}

	scanned := 0
	if *all {
		tty := env.stderrIsTerminal()
		p := newProgress(env.Stderr, tty || *showProgress, tty, "keys")
		names, scanned, err = functionNames(ctx, d, *prefix, *count, p)
		p.finish()
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintf(env.Stdout, "no functions under prefix %q (%d keys scanned): nothing to invalidate\n", *prefix, scanned)
			return nil
		}
		if *dryRun {
			fmt.Fprintf(env.Stdout, "would invalidate %d functions under prefix %q (dry run, %d keys scanned):\n", len(names), *prefix, scanned)
			for _, n := range names {
				fmt.Fprintf(env.Stdout, "  %s\n", n)
			}
			return nil
		}
	}

	m := core.New(core.WithDriver(d), core.WithPrefix(*prefix))
	defer m.Close()
	var done []bump
	for _, name := range names {
		before := readGeneration(ctx, d, *prefix, name)
		if err := m.InvalidateAll(ctx, name); err != nil {
			if len(done) > 0 {
				fmt.Fprintf(env.Stdout, "invalidated %d of %d functions before the failure:\n", len(done), len(names))
				printBumps(env, done)
			}
			return fmt.Errorf("invalidate %s: %w", name, err)
		}
		done = append(done, bump{name, before, readGeneration(ctx, d, *prefix, name)})
	}

	if *all {
		fmt.Fprintf(env.Stdout, "invalidated %d functions under prefix %q: one SCAN pass over %d keys, one INCR per function, no entry deleted\n",
			len(done), *prefix, scanned)
	} else {
		fmt.Fprintf(env.Stdout, "invalidated %d function(s) under prefix %q (one INCR each, no entry deleted)\n", len(done), *prefix)
	}
	printBumps(env, done)
	fmt.Fprintln(env.Stdout, "Older entries now read as misses; other processes notice within their generation refresh (1s by default).")
	return nil
}

// bump is one generation increment, for the report.
type bump struct {
	name     string
	from, to string
}

// printBumps prints the generations that changed.
func printBumps(env *Env, done []bump) {
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  FUNCTION\tGENERATION")
	for _, b := range done {
		fmt.Fprintf(tw, "  %s\t%s -> %s\n", b.name, b.from, b.to)
	}
	tw.Flush()
}

// validName checks a function name with core's own check (core.Memoize
// panics, InvalidateAll fails), with a hint for the command line.
func validName(name string) error {
	if err := core.CheckName(name); err != nil {
		if name == "" {
			return err
		}
		return fmt.Errorf("%w (give the name, not the key)", err)
	}
	return nil
}

// functionKnown reports whether the function name has any key under
// prefix: its generation key, the key of a function without arguments,
// or an entry (one SCAN, stopped at the first match).
func functionKnown(ctx context.Context, d conn.Driver, prefix, name string) (bool, error) {
	base := prefix + ":" + name
	for _, k := range []string{base + ":~gen", base} {
		_, err := d.Get(ctx, k)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, conn.ErrMiss):
		case strings.Contains(err.Error(), "WRONGTYPE"):
			// Not a string: not ours, but something is there.
		default:
			return false, fmt.Errorf("look for %s: %w", k, err)
		}
	}
	found := false
	err := scanKeys(ctx, d, globEscape(base)+":*", defaultScanCount, nil, func(string) error {
		found = true
		return errStopScan
	})
	return found, err
}

// readGeneration returns the function's generation as text, for the
// report: "0" when it has none yet, "?" when it cannot be read.
func readGeneration(ctx context.Context, d conn.Driver, prefix, name string) string {
	b, err := d.Get(ctx, prefix+":"+name+":~gen")
	switch {
	case errors.Is(err, conn.ErrMiss):
		return "0"
	case err != nil:
		return "?"
	}
	if _, err := strconv.ParseUint(string(b), 10, 64); err != nil {
		return strconv.Quote(string(b))
	}
	return string(b)
}

// functionNames scans the keys under prefix and returns the sorted names
// of the functions they belong to (entries and generation keys alike), and
// how many keys it saw. Names that core would refuse are skipped: such
// keys were not written by a memoized function.
func functionNames(ctx context.Context, d conn.Driver, prefix string, count int, p *progress) ([]string, int, error) {
	seen := map[string]bool{}
	n := 0
	err := scanKeys(ctx, d, globEscape(prefix)+":*", count, p, func(key string) error {
		n++
		if name := functionName(prefix, key); validName(name) == nil {
			seen[name] = true
		}
		return nil
	})
	if err != nil {
		return nil, n, err
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, n, nil
}
