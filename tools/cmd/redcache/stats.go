package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/core/format"
	"github.com/redcache/redcache/tools/internal/cli"
)

func init() {
	register(&command{
		name:    "stats",
		summary: "what Redis can tell: server INFO, and the cache's keys and generations",
		usage: `redcache stats [--prefix P] [--top N] [--progress]

Shows two things, both read from Redis:

  Redis     from INFO, per server (every primary of a cluster): version,
            uptime, connected clients, memory used, keyspace hits and
            misses (Redis-wide: every read of every client counts, not only
            the cache's), evictions, and keys per database.
  cache     from a SCAN of the keys under "P:" (every primary of a cluster):
            how many keys there are, and per function name how many keys it
            has and its generation (the P:NAME:~gen key; 0 when it has
            none). A name counts as a function when it has a generation
            key or one of its keys (one sampled per name) holds a redcache
            entry; keys of other applications under the prefix are counted
            as "other keys".

What it cannot show: the hit, miss, load and error counters of the cache
itself (core.Manager.Stats). They live in the memory of each application
process and no other process can read them; expose them from your
application (a metrics endpoint, a log line) to see them.`,
		run: runStats,
	})
}

func runStats(ctx context.Context, env *Env, args []string) error {
	fs := env.FlagSet("stats")
	prefix := fs.String("prefix", "cache", "key prefix `P` (the Manager's WithPrefix)")
	top := fs.Int("top", 20, "list at most `N` functions, those with the most keys first")
	count := fs.Int("count", defaultScanCount, "COUNT hint `N` of each SCAN call")
	showProgress := fs.Bool("progress", false, "report the scan's progress on stderr even when it is not a terminal")
	args, err := env.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return usageErrorf("unexpected argument %q", args[0])
	}
	if *top < 0 || *count <= 0 {
		return usageErrorf("--top wants 0 or more, --count 1 or more")
	}
	d, err := env.Connect(ctx)
	if err != nil {
		return err
	}

	// Redis, node by node.
	err = conn.ForEachNode(ctx, d, func(ctx context.Context, node conn.Driver) error {
		info, err := readInfo(ctx, node)
		if err != nil {
			return err
		}
		addr := cli.Redact(env.redisURL())
		if info["redis_mode"] == "cluster" {
			addr = clusterAddr(ctx, node, addr)
		}
		printInfo(env.Stdout, addr, info)
		return nil
	})
	if err != nil {
		return err
	}

	// The cache, from its keys.
	tty := env.stderrIsTerminal()
	p := newProgress(env.Stderr, tty || *showProgress, tty, "keys")
	perName := map[string]int{}
	sample := map[string]string{} // one key of each name, to tell ours from foreign ones
	hasGen := map[string]bool{}
	total, genKeys, other := 0, 0, 0
	err = scanKeys(ctx, d, globEscape(*prefix)+":*", *count, p, func(key string) error {
		total++
		name := functionName(*prefix, key)
		switch {
		case validName(name) != nil:
			other++
		case key == *prefix+":"+name+":~gen":
			hasGen[name] = true
			if _, ok := perName[name]; !ok {
				perName[name] = 0
			}
		default:
			perName[name]++
			if _, ok := sample[name]; !ok {
				sample[name] = key
			}
		}
		return nil
	})
	p.finish()
	if err != nil {
		return err
	}
	// A name is a function when its keys are redcache's: it has a
	// generation key, or a sampled key holds an entry. Keys of another
	// application under the same prefix are "other keys".
	foreign, err := foreignNames(ctx, d, perName, sample, hasGen)
	if err != nil {
		return err
	}
	for _, name := range foreign {
		other += perName[name]
		delete(perName, name)
	}
	for name := range hasGen {
		if _, ok := perName[name]; ok {
			genKeys++
		}
	}
	names := make([]string, 0, len(perName))
	for n := range perName {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := perName[b] - perName[a]; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	shown := names[:min(len(names), *top)]
	gens, err := generations(ctx, d, *prefix, shown)
	if err != nil {
		return err
	}

	w := env.Stdout
	fmt.Fprintf(w, "Cache under prefix %q (from a SCAN of its keys)\n", *prefix)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  keys\t%d\n", total)
	fmt.Fprintf(tw, "  entries\t%d\n", total-genKeys-other)
	fmt.Fprintf(tw, "  generation keys\t%d\n", genKeys)
	if other > 0 {
		fmt.Fprintf(tw, "  other keys\t%d (not redcache's: no entry, no generation key)\n", other)
	}
	fmt.Fprintf(tw, "  functions\t%d\n", len(names))
	tw.Flush()
	if len(shown) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  FUNCTION\tKEYS\tGENERATION")
		for i, n := range shown {
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", n, perName[n], gens[i])
		}
		tw.Flush()
		if len(names) > len(shown) {
			fmt.Fprintf(w, "  … and %d more functions (--top)\n", len(names)-len(shown))
		}
	}
	fmt.Fprintln(w, "\nThe cache's own hit/miss/load counters (core.Manager.Stats) live in each application process; Redis cannot show them.")
	return nil
}

// foreignNames returns the names, among those of perName without a
// generation key, whose sampled key does not hold a redcache entry: one
// MGET (split per slot on a cluster) for them all.
func foreignNames(ctx context.Context, d conn.Driver, perName map[string]int, sample map[string]string, hasGen map[string]bool) ([]string, error) {
	var names, keys []string
	for name := range perName {
		if !hasGen[name] {
			names = append(names, name)
			keys = append(keys, sample[name])
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	vals, err := d.MGet(ctx, keys...)
	if err != nil && !errors.Is(err, conn.ErrMiss) {
		return nil, fmt.Errorf("MGET of a key per function: %w", err)
	}
	var foreign []string
	for i, name := range names {
		if i < len(vals) && vals[i] != nil && isEntry(vals[i]) {
			continue
		}
		foreign = append(foreign, name)
	}
	return foreign, nil
}

// isEntry reports whether b is a redcache entry, of this format version
// or a newer one.
func isEntry(b []byte) bool {
	_, err := format.Parse(b)
	return err == nil || errors.Is(err, core.ErrNewerEntry)
}

// readInfo runs INFO on one server and returns its fields.
func readInfo(ctx context.Context, d conn.Driver) (map[string]string, error) {
	reply, err := d.Do(ctx, "INFO")
	if err != nil {
		return nil, fmt.Errorf("INFO: %w", err)
	}
	text, ok := reply.(string)
	if !ok {
		return nil, fmt.Errorf("INFO: unexpected reply %T", reply)
	}
	info := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			info[k] = v
		}
	}
	return info, nil
}

// clusterAddr returns the address of a cluster node as the cluster knows
// it (the "myself" line of CLUSTER NODES), or fallback.
func clusterAddr(ctx context.Context, node conn.Driver, fallback string) string {
	reply, err := node.Do(ctx, "CLUSTER", "NODES")
	if err != nil {
		return fallback
	}
	text, _ := reply.(string)
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && strings.Contains(f[2], "myself") {
			addr, _, _ := strings.Cut(f[1], "@")
			return addr
		}
	}
	return fallback
}

// printInfo prints the INFO fields worth a glance.
func printInfo(w io.Writer, addr string, info map[string]string) {
	mode := info["redis_mode"]
	if mode == "" {
		mode = "standalone"
	}
	fmt.Fprintf(w, "Redis %s (%s)\n", addr, mode)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, value string) { fmt.Fprintf(tw, "  %s\t%s\n", name, value) }
	row("version", orUnknown(info["redis_version"]))
	if s, err := strconv.ParseInt(info["uptime_in_seconds"], 10, 64); err == nil {
		row("uptime", (time.Duration(s) * time.Second).String())
	}
	row("connected clients", orUnknown(info["connected_clients"]))
	mem := orUnknown(info["used_memory_human"])
	if peak := info["used_memory_peak_human"]; peak != "" {
		mem += ", peak " + peak
	}
	if maxm := info["maxmemory_human"]; maxm != "" {
		if info["maxmemory"] == "0" {
			mem += ", no maxmemory"
		} else {
			mem += ", maxmemory " + maxm
		}
	}
	if pol := info["maxmemory_policy"]; pol != "" {
		mem += ", policy " + pol
	}
	row("memory used", mem)
	hits, herr := strconv.ParseUint(info["keyspace_hits"], 10, 64)
	misses, merr := strconv.ParseUint(info["keyspace_misses"], 10, 64)
	row("keyspace hits", orUnknown(info["keyspace_hits"]))
	ratio := ""
	if herr == nil && merr == nil && hits+misses > 0 {
		ratio = fmt.Sprintf("   (hit ratio %.1f%%, all clients, all keys)", 100*float64(hits)/float64(hits+misses))
	}
	row("keyspace misses", orUnknown(info["keyspace_misses"])+ratio)
	row("expired keys", orUnknown(info["expired_keys"]))
	row("evicted keys", orUnknown(info["evicted_keys"]))
	dbs := dbKeys(info)
	if len(dbs) == 0 {
		dbs = []string{"none"}
	}
	row("keys", strings.Join(dbs, "; "))
	tw.Flush()
	fmt.Fprintln(w)
}

// dbKeys reads the keyspace section: "db0: 12 keys (3 with a ttl)".
func dbKeys(info map[string]string) []string {
	var dbs []string
	for k, v := range info {
		if !strings.HasPrefix(k, "db") {
			continue
		}
		if _, err := strconv.Atoi(k[2:]); err != nil {
			continue
		}
		fields := map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			if a, b, ok := strings.Cut(kv, "="); ok {
				fields[a] = b
			}
		}
		dbs = append(dbs, fmt.Sprintf("%s: %s keys (%s with a ttl)", k, fields["keys"], fields["expires"]))
	}
	slices.Sort(dbs)
	return dbs
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// generations reads the generation of each function, in one MGET (split
// per slot by the driver on a cluster).
func generations(ctx context.Context, d conn.Driver, prefix string, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = prefix + ":" + n + ":~gen"
	}
	vals, err := d.MGet(ctx, keys...)
	if err != nil && !errors.Is(err, conn.ErrMiss) {
		return nil, fmt.Errorf("MGET of the generation keys: %w", err)
	}
	out := make([]string, len(names))
	for i := range names {
		switch {
		case i >= len(vals) || vals[i] == nil:
			out[i] = "0"
		default:
			out[i] = printableKey(string(vals[i]))
		}
	}
	return out, nil
}
