package bench

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Report is the outcome of [Run]: the machine, the versions, a table per
// workload and the targets.
type Report struct {
	Date         time.Time
	Mode         Mode
	Command      string // how to reproduce the run
	Machine      Machine
	RedisVersion string
	RedisStarted bool // the harness started its own redis-server
	Libraries    []Library
	ValueSizes   string // the encoded sizes of the value, for the fairness notes
	Tables       []*Table
	Targets      []Target
	Elapsed      time.Duration
}

// Machine describes where the figures were taken.
type Machine struct {
	CPU        string
	Cores      int
	GoVersion  string
	OS         string
	LoadAvg    string // /proc/loadavg when the run started
	LoadAvgEnd string // and when it ended
}

// Library is a module the figures depend on, and its version.
type Library struct {
	Path    string
	Version string
}

// Table is one workload's figures.
type Table struct {
	ID           string // "hit1", "hit64", "miss", "zipf", "stampede", "batch", "sql", "paginate", "http"
	Title        string
	What         string // what an operation is
	Unit         string // what one operation is, for the column headers
	Skipped      string // set when the workload was not measured, and why
	Rows         []Row
	LoaderHeader string // the header of the Loader column; empty: no column
	Notes        []string
}

// Row is one subject's figures in a workload.
type Row struct {
	Subject     string
	Codec       string
	Redcache    bool
	Ops         int64
	OpsPerSec   float64
	P50, P99    time.Duration
	AllocsPerOp float64
	CPUPerOp    time.Duration // the process's CPU time per operation; 0: not measured
	Errors      int64
	LoaderCalls []int64 // per round (per stampede, for the stampede)
	Loader      string  // the Loader column, formatted
	Failed      string  // set when the subject could not run
	Notes       []string
}

// Table returns the table with the given ID, or nil.
func (r *Report) Table(id string) *Table {
	for _, t := range r.Tables {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// Row returns the row of the named subject, or nil. The subject may carry
// a suffix (" (MGET)").
func (t *Table) Row(subject string) *Row {
	if t == nil {
		return nil
	}
	for i := range t.Rows {
		if t.Rows[i].Subject == subject || strings.HasPrefix(t.Rows[i].Subject, subject+" (") {
			return &t.Rows[i]
		}
	}
	return nil
}

// Status is the verdict on a target.
type Status string

// The verdicts.
const (
	Met      Status = "met"
	NotMet   Status = "not met"
	NotBuilt Status = "not built yet"
	Unknown  Status = "not measured"
)

// Target is one of the goals the project set itself, and how this run
// measured against it.
type Target struct {
	Goal   string
	Status Status
	Figure string
	Why    string // what stands between the figure and the goal, when not met
}

func machine() Machine {
	m := Machine{CPU: "unknown", Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`) + ", " + m.OS
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += ", Linux " + strings.TrimSpace(string(b))
	}
	m.LoadAvg = loadAvg()
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// measuredModules are the modules whose versions the report lists.
var measuredModules = []string{
	"github.com/redcache/redcache/core",
	"github.com/redcache/redcache/conn/goredis",
	"github.com/redcache/redcache/conn/radix",
	"github.com/redis/go-redis/v9",
	"github.com/mediocregopher/radix/v4",
	"github.com/go-redis/cache/v9",
	"github.com/eko/gocache/lib/v4",
	"github.com/eko/gocache/store/redis/v4",
	"github.com/chenyahui/gin-cache",
	"github.com/go-redis/redis/v8",
	"github.com/gin-gonic/gin",
	"github.com/vmihailenco/msgpack/v5",
	"modernc.org/sqlite",
}

func libraries() []Library {
	info, ok := debug.ReadBuildInfo()
	deps := map[string]string{}
	if ok {
		for _, d := range info.Deps {
			v := d.Version
			if d.Replace != nil {
				if d.Replace.Version != "" {
					v = d.Replace.Version
				} else {
					v = "this tree (" + d.Replace.Path + ")"
				}
			}
			if v == "(devel)" {
				v = "this tree (workspace)"
			}
			deps[d.Path] = v
		}
	}
	out := make([]Library, 0, len(measuredModules))
	for _, p := range measuredModules {
		v, ok := deps[p]
		if !ok {
			v = "unknown (no build info)"
			if strings.HasPrefix(p, "github.com/redcache/") {
				v = "this tree"
			}
		}
		out = append(out, Library{Path: p, Version: v})
	}
	return out
}

// targets judges the run against the project's goals.
func targets(r *Report) []Target {
	var out []Target
	drivers := []struct{ rc, raw string }{{"redcache/goredis", "raw go-redis GET+decode"}, {"redcache/radix", "raw radix GET+decode"}}

	// 1 and 2. Hits over Redis, 64 goroutines, uniform and Zipf, against
	// go-redis/cache.
	for _, w := range []struct{ table, what string }{{"hit64", "uniform over 1,000 keys"}, {"zipf64", "Zipf s=1.1 over 100,000 keys"}} {
		t := Target{Goal: fmt.Sprintf("Hits over Redis, 64 goroutines, %s: redcache ≥ 2x go-redis/cache (Redis only) ops/s, with both drivers", w.what)}
		tab := r.Table(w.table)
		peer := tab.Row("go-redis/cache")
		t.Status = Met
		var figs, whys []string
		for _, d := range drivers {
			rc := tab.Row(d.rc)
			if !usable(rc) || !usable(peer) {
				t.Status = Unknown
				continue
			}
			x := rc.OpsPerSec / peer.OpsPerSec
			figs = append(figs, fmt.Sprintf("%s %s (%s vs %s ops/s)", short(d.rc), ratio(x), thousands(rc.OpsPerSec), thousands(peer.OpsPerSec)))
			if x < 2 {
				if t.Status == Met {
					t.Status = NotMet
				}
				whys = append(whys, short(d.rc))
			}
		}
		if plain := tab.Row("go-redis/cache, uncompressed"); usable(plain) {
			var like []string
			for _, d := range drivers {
				if rc := tab.Row(d.rc); usable(rc) {
					like = append(like, fmt.Sprintf("%s %s", short(d.rc), ratio(rc.OpsPerSec/plain.OpsPerSec)))
				}
			}
			figs = append(figs, "against go-redis/cache storing the same uncompressed bytes: "+strings.Join(like, ", "))
		}
		if len(figs) == 0 {
			figs = append(figs, "—")
		}
		t.Figure = strings.Join(figs, "; ")
		if t.Status == NotMet {
			t.Why = fmt.Sprintf("not met by %s.", strings.Join(whys, ", "))
			if raw := tab.Row("raw go-redis GET+decode"); usable(raw) && usable(peer) {
				t.Why += fmt.Sprintf(" A bare go-redis GET + decode reaches %s go-redis/cache here.", ratio(raw.OpsPerSec/peer.OpsPerSec))
			}
			t.Why += " Redis shares the machine's two cores with the clients: past the point where Redis's own CPU is the bound, pipelining (both drivers do) saves round trips, not Redis's work per GET."
		}
		out = append(out, t)
	}

	// 3. Near cache on the Zipf reads, against go-redis/cache's TinyLFU.
	{
		t := Target{Goal: "Near cache, Zipf reads (64 goroutines, 10,000 values in memory): redcache ≥ 2x go-redis/cache + TinyLFU ops/s"}
		tab := r.Table("zipf64")
		near, peer := tab.Row("redcache/goredis + near cache"), tab.Row("go-redis/cache + TinyLFU")
		switch {
		case !usable(near) || !usable(peer):
			t.Status, t.Figure = Unknown, "—"
		default:
			x := near.OpsPerSec / peer.OpsPerSec
			t.Figure = fmt.Sprintf("%s (%s vs %s ops/s)", ratio(x), thousands(near.OpsPerSec), thousands(peer.OpsPerSec))
			for _, row := range []*Row{near, peer} {
				for _, n := range row.Notes {
					if strings.Contains(n, "of reads from process memory") {
						t.Figure += "; " + short(row.Subject) + ": " + n
					}
				}
			}
			t.Status = Met
			if x < 2 {
				t.Status = NotMet
				t.Why = "the reads the process caches do not hold go to Redis for both, and Redis's round trips are the bound for the rest."
			}
		}
		out = append(out, t)
	}

	// 4. Hit path, 1 goroutine, against raw GET + decode: judged on the
	// CPU a hit costs the process, which the wake-up latency of the round
	// trip does not blur; wall time where CPU time was not measured.
	{
		t := Target{Goal: "Hit path, 1 goroutine: a redcache hit costs ≤ 10% more than a raw GET + decode (same driver, same codec; judged on process CPU per hit)"}
		hit := r.Table("hit1")
		t.Status = Met
		var figs, whys []string
		for _, d := range drivers {
			rc, raw := hit.Row(d.rc), hit.Row(d.raw)
			if !usable(rc) || !usable(raw) {
				t.Status = Unknown
				continue
			}
			over := raw.OpsPerSec/rc.OpsPerSec - 1
			if rc.CPUPerOp > 0 && raw.CPUPerOp > 0 {
				over = float64(rc.CPUPerOp)/float64(raw.CPUPerOp) - 1
				figs = append(figs, fmt.Sprintf("%s %+.1f%% CPU per hit (%s vs %s; wall time per hit %+.1f%%)",
					short(d.rc), 100*over, dur(rc.CPUPerOp), dur(raw.CPUPerOp), 100*(raw.OpsPerSec/rc.OpsPerSec-1)))
			} else {
				figs = append(figs, fmt.Sprintf("%s %+.1f%% time per hit (p50 %s vs %s)", short(d.rc), 100*over, dur(rc.P50), dur(raw.P50)))
			}
			if over > 0.10 {
				if t.Status == Met {
					t.Status = NotMet
				}
				whys = append(whys, short(d.rc))
			}
		}
		t.Figure = strings.Join(figs, "; ")
		if t.Status == NotMet {
			t.Why = fmt.Sprintf("not met by %s: the memoizer's own work per hit (key building, entry header and CRC-32C check, generation, breaker, stats, "+
				"the deadline context) is more than a tenth of a loopback round trip on this machine.", strings.Join(whys, ", "))
		}
		out = append(out, t)
	}

	// 5. Near hit.
	out = append(out, nearCacheTarget(r))

	// 6. Stampede.
	{
		t := Target{Goal: "Stampede: exactly 1 loader call for 1,000 concurrent callers of a cold key"}
		st := r.Table("stampede")
		t.Status = Met
		var figs []string
		for _, d := range drivers {
			rc := st.Row(d.rc)
			if rc == nil || rc.Failed != "" || len(rc.LoaderCalls) == 0 {
				t.Status = Unknown
				continue
			}
			figs = append(figs, fmt.Sprintf("%s: %s", short(d.rc), rc.Loader))
			for _, c := range rc.LoaderCalls {
				if c == 1 {
					continue
				}
				t.Status = NotMet
				if len(rc.Notes) > 0 {
					t.Why = "Redis calls failed or timed out during the burst (see the stampede table's notes): a caller whose read fails loads again. "
				}
				t.Why += "core reads the cache outside its singleflight, so a caller whose read missed before the leader's write, " +
					"but that reached the singleflight after the leader had finished, starts a second load."
				break
			}
		}
		t.Figure = "loader calls per stampede, " + strings.Join(figs, "; ")
		out = append(out, t)
	}

	// 7. Allocations per hit.
	{
		t := Target{Goal: "A redcache hit allocates no more than a go-redis/cache hit"}
		hit := r.Table("hit1")
		peer := hit.Row("go-redis/cache")
		t.Status = Met
		var figs, whys []string
		for _, d := range drivers {
			rc := hit.Row(d.rc)
			if !usable(rc) || !usable(peer) {
				t.Status = Unknown
				continue
			}
			figs = append(figs, fmt.Sprintf("%s %.1f", short(d.rc), rc.AllocsPerOp))
			if rc.AllocsPerOp > peer.AllocsPerOp+0.05 {
				if t.Status == Met {
					t.Status = NotMet
				}
				whys = append(whys, short(d.rc))
			}
		}
		if usable(peer) {
			figs = append(figs, fmt.Sprintf("go-redis/cache %.1f allocs per hit (1 goroutine)", peer.AllocsPerOp))
		}
		t.Figure = strings.Join(figs, "; ")
		if t.Status == NotMet {
			t.Why = fmt.Sprintf("not met by %s: see where its allocations go in the hit-path tables.", strings.Join(whys, ", "))
		}
		out = append(out, t)
	}
	return out
}

func nearCacheTarget(r *Report) Target {
	t := Target{Goal: "A near hit (1 goroutine, redcache/goredis with core.WithNearCache) takes ≤ 270 ns at p50 and allocates ≤ 1 time"}
	hit := r.Table("hit1")
	near, redis := hit.Row("redcache/goredis + near cache"), hit.Row("redcache/goredis")
	if !usable(near) {
		t.Status, t.Figure = Unknown, "—"
		return t
	}
	t.Figure = fmt.Sprintf("p50 %s, %.1f allocs per hit (%s hits/s", dur(near.P50), near.AllocsPerOp, thousands(near.OpsPerSec))
	if usable(redis) {
		t.Figure += fmt.Sprintf("; %s a Redis hit's rate", ratio(near.OpsPerSec/redis.OpsPerSec))
	}
	if local, plain := hit.Row("go-redis/cache + TinyLFU"), hit.Row("go-redis/cache"); usable(local) && usable(plain) {
		t.Figure += fmt.Sprintf("; go-redis/cache's TinyLFU: p50 %s, %.1f allocs", dur(local.P50), local.AllocsPerOp)
	}
	t.Figure += ")"
	t.Status = Met
	// AllocsPerOp is the whole process's: the harness's own share rounds
	// it up a little.
	if near.P50 > 270*time.Nanosecond || near.AllocsPerOp > 1.05 {
		t.Status = NotMet
		t.Why = fmt.Sprintf("p50 includes the harness's two clock reads around each call; a near hit is the key building, the lookup and its bookkeeping (p50 %s).", dur(near.P50))
		for _, n := range near.Notes {
			if strings.Contains(n, "near cache") && !strings.HasPrefix(n, "100.0%") {
				t.Why = "not every hit came from the near cache (" + n + "); " + t.Why
			}
		}
	}
	return t
}

func usable(r *Row) bool { return r != nil && r.Failed == "" && r.Ops > 0 && r.OpsPerSec > 0 }

func short(subject string) string { return strings.TrimPrefix(subject, "redcache/") }
