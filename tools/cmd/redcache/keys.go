package main

import (
	"context"
	"fmt"
	"strconv"
	"unicode/utf8"
)

func init() {
	register(&command{
		name:    "keys",
		summary: "list the keys under a prefix (SCAN on every node, never KEYS)",
		usage: `redcache keys [--prefix P] [--match PATTERN] [--limit N] [--progress]

Lists the keys whose names start with "P:" (by default "cache:", the prefix
of core.Default), one per line on stdout, followed by a count on stderr.
Keys are found with SCAN ... MATCH "P:PATTERN" COUNT N, which walks the
keyspace in small steps without blocking Redis as KEYS would; on a Redis
Cluster every primary is scanned. The order is Redis's, not sorted. While
the keyspace is being resized, SCAN may list a key twice.

PATTERN is a Redis glob applied to what follows "P:": "users.get:*" lists
the entries of one function, "*:~gen" the generation keys.

A key that holds unprintable bytes is printed quoted, as a Go string.
When stdout is not a terminal (keys piped to a file or another command)
but stderr is, or with --progress, the scan reports on stderr every second
how far it got, and at the end how many keys it saw.`,
		run: runKeys,
	})
}

func runKeys(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("keys")
	prefix := fs.String("prefix", "cache", "key prefix `P` (the Manager's WithPrefix)")
	match := fs.String("match", "*", "Redis glob `PATTERN` for the part after \"PREFIX:\"")
	limit := fs.Int("limit", 0, "stop after `N` keys (0: no limit)")
	count := fs.Int("count", defaultScanCount, "COUNT hint `N` of each SCAN call")
	showProgress := fs.Bool("progress", false, "report progress on stderr even when it is not a terminal")
	args, err := env.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return usageErrorf("unexpected argument %q (the pattern goes in --match)", args[0])
	}
	if *limit < 0 {
		return usageErrorf("--limit %d: want 0 or more", *limit)
	}
	if *count <= 0 {
		return usageErrorf("--count %d: want 1 or more", *count)
	}
	d, err := env.Connect(ctx)
	if err != nil {
		return err
	}

	// Keys printed on a terminal show the progress themselves; a progress
	// line rewritten between them would only garble them.
	rewrite := env.stderrIsTerminal() && !isTerminal(env.Stdout)
	p := newProgress(env.Stderr, rewrite || *showProgress, rewrite, "keys")
	pattern := globEscape(*prefix) + ":" + *match
	n := 0
	err = scanKeys(ctx, d, pattern, *count, p, func(key string) error {
		fmt.Fprintln(env.Stdout, printableKey(key))
		n++
		if *limit > 0 && n >= *limit {
			return errStopScan
		}
		return nil
	})
	p.finish()
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%d keys", n)
	if n == 1 {
		what = "1 key"
	}
	if *limit > 0 && n >= *limit {
		what += " (--limit reached; there may be more)"
	}
	fmt.Fprintf(env.Stderr, "%s matching %s\n", what, strconv.Quote(pattern))
	return nil
}

// printableKey returns key as it is when it prints cleanly on one line,
// quoted as a Go string otherwise.
func printableKey(key string) string {
	if isPrintable(key) {
		return key
	}
	return strconv.Quote(key)
}

// isPrintable reports whether s is valid UTF-8 made of printable
// characters and plain spaces.
func isPrintable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !strconv.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}
