package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	rediscache "github.com/go-redis/cache/v9"
	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/core/format"
	"github.com/redis/go-redis/v9"
)

// Mode is how long the harness measures.
type Mode string

const (
	// Full is the mode of the published figures: eight interleaved rounds
	// of 0.75s per subject and workload, about five minutes on two cores.
	Full Mode = "full"
	// Quick is two rounds of a quarter second per subject: under two
	// minutes on two cores, for the test runner. Its figures are noisy.
	Quick Mode = "quick"
)

// params are the sizes and durations of a mode.
type params struct {
	rounds       int           // rounds; subjects alternate within each
	runTime      time.Duration // per subject, workload and round
	maxOps       int64         // per subject, workload and round
	samples      int           // latency samples kept per run
	hitKeys      int           // keys the hit-path workloads cycle through
	zipfKeys     int           // key space of the Zipf workloads
	zipfWarm     int           // reads of the Zipf reads workload before the clock starts
	stampedeN    int           // goroutines of a stampede
	stampedeRuns int           // stampedes per subject
	stampedeLoad time.Duration // how long the stampede's loader takes
	sqlRows      int           // rows of the SQLite table
	sqlWorkers   int
	httpWorkers  int
}

func paramsFor(m Mode) (params, error) {
	p := params{
		rounds: 8, runTime: 750 * time.Millisecond, maxOps: 5_000_000, samples: 200_000,
		hitKeys: 1000, zipfKeys: 100_000, zipfWarm: 200_000,
		stampedeN: 1000, stampedeRuns: 5, stampedeLoad: 50 * time.Millisecond,
		sqlRows: 20_000, sqlWorkers: 4, httpWorkers: 16,
	}
	switch m {
	case Full:
	case Quick:
		p.rounds, p.runTime, p.maxOps, p.samples = 2, 250*time.Millisecond, 1_000_000, 50_000
		p.stampedeRuns, p.sqlRows, p.zipfWarm = 1, 5_000, 50_000
	case tiny:
		p.rounds, p.runTime, p.maxOps, p.samples = 1, 30*time.Millisecond, 20_000, 5_000
		p.hitKeys, p.stampedeRuns, p.sqlRows, p.zipfKeys, p.zipfWarm = 20, 1, 500, 1_000, 2_000
		// Under the race detector 1,000 goroutines take longer to issue
		// their reads than a 50ms load takes, and a reader whose miss comes
		// back after the load finished loads again (see the report's
		// stampede notes): the test asks the question the full run asks
		// only where the timing lets it be asked.
		p.stampedeN, p.stampedeLoad = 200, 250*time.Millisecond
	default:
		return p, fmt.Errorf("bench: unknown mode %q (want %q or %q)", m, Full, Quick)
	}
	return p, nil
}

// tiny is the mode of the package's own test: every workload, a few
// milliseconds each.
const tiny Mode = "tiny"

// Config says what [Run] measures and against which Redis.
type Config struct {
	// Mode is Full (the default) or Quick.
	Mode Mode
	// Redis is the host:port of the Redis to use; it must be on the
	// loopback interface (see [ParseAddr]). Empty: Run starts a
	// redis-server of its own on a free loopback port and stops it at
	// the end.
	Redis string
	// Progress, when set, receives a line as each workload and subject
	// starts.
	Progress io.Writer
	// Command is the command line that reproduces the run, for the
	// report.
	Command string
	// Only, when set, runs just the workloads with these table ids
	// ("hit1", "hit64", "zipf64", ...; see [WorkloadIDs]): for iterating on
	// one figure. The report then holds those tables only, and the
	// targets that can be judged from them.
	Only []string
}

// WorkloadIDs returns the table id of every workload, in the order a run
// measures them.
func WorkloadIDs() []string {
	ids := make([]string, len(workloadSteps))
	for i, s := range workloadSteps {
		ids[i] = s.id
	}
	return ids
}

// workloadStep is one workload of a run.
type workloadStep struct {
	id, name string
	fn       func(*env) (*Table, error)
}

var workloadSteps = []workloadStep{
	{"hit1", "hit path, 1 goroutine", func(e *env) (*Table, error) { return hitPath(e, 1) }},
	{"hit64", "hit path, 64 goroutines", func(e *env) (*Table, error) { return hitPath(e, 64) }},
	{"miss", "miss and fill", missFill},
	{"zipf64", "zipf reads, 64 goroutines", zipfReads},
	{"zipf", "90/10 zipf", zipfMix},
	{"stampede", "stampede", stampede},
	{"batch", "batch of 100", batch},
	{"sql", "SQL query", sqlQuery},
	{"sqlcache", "sqlcache queries", sqlcacheQueries},
	{"paginate", "page fetch at depth", pageFetch},
	{"http", "HTTP route", httpRoute},
	{"ginresp", "gin response cache", ginResponses},
}

// env is what every workload shares.
type env struct {
	addr   string
	prefix string // every key the harness writes starts with it
	ttl    time.Duration
	p      params
	mode   Mode
	admin  *redis.Client // for INFO and the clean-up
	sqlite *sqliteDB     // the SQL and HTTP workloads' database
	stop   context.Context
	log    io.Writer
}

func (e *env) logf(format string, args ...any) {
	if e.log != nil {
		fmt.Fprintf(e.log, format+"\n", args...)
	}
}

// ns returns the key prefix of one subject in one workload.
func (e *env) ns(workload string, l lib) string {
	return fmt.Sprintf("%s:%s:%d", e.prefix, workload, int(l))
}

// Run runs every workload and returns the report. It stops early, with
// the report so far and ctx's error, when ctx ends. The keys it writes all
// start with "rcbench-<random>:" and are deleted at the end; a Redis it
// started itself is stopped.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Mode == "" {
		cfg.Mode = Full
	}
	p, err := paramsFor(cfg.Mode)
	if err != nil {
		return nil, err
	}
	steps := workloadSteps
	if len(cfg.Only) > 0 {
		steps = nil
		for _, id := range cfg.Only {
			i := slices.IndexFunc(workloadSteps, func(s workloadStep) bool { return s.id == id })
			if i < 0 {
				return nil, fmt.Errorf("bench: no workload %q (there are %s)", id, strings.Join(WorkloadIDs(), ", "))
			}
			steps = append(steps, workloadSteps[i])
		}
	}
	began := time.Now()
	rep := &Report{Date: began.UTC(), Mode: cfg.Mode, Command: cfg.Command, Machine: machine()}

	addr := cfg.Redis
	var srv *redisServer
	if addr == "" {
		if srv, err = startRedis(ctx); err != nil {
			return nil, err
		}
		defer srv.stop()
		addr = srv.addr
		rep.RedisStarted = true
	} else if addr, err = ParseAddr(ctx, addr); err != nil {
		return nil, err
	}

	e := &env{addr: addr, prefix: "rcbench-" + randomHex(4), ttl: 10 * time.Minute, p: p, mode: cfg.Mode,
		stop: ctx, log: cfg.Progress, sqlite: &sqliteDB{}}
	defer e.sqlite.close()
	e.admin = e.goRedisClient()
	defer e.admin.Close()
	if err := e.admin.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("bench: Redis at %s: %w", addr, err)
	}
	rep.RedisVersion = redisVersion(ctx, e.admin)
	rep.Libraries = libraries()
	rep.ValueSizes = valueSizes()
	defer e.cleanup(e.prefix + ":")

	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		e.logf("== %s", s.name)
		t, err := s.fn(e)
		if err != nil {
			return rep, fmt.Errorf("bench: %s: %w", s.name, err)
		}
		if t.ID != s.id {
			return rep, fmt.Errorf("bench: %s made table %q, not %q", s.name, t.ID, s.id)
		}
		rep.Tables = append(rep.Tables, t)
	}
	rep.Targets = targets(rep)
	rep.Elapsed = time.Since(began)
	rep.Machine.LoadAvgEnd = loadAvg()
	return rep, ctx.Err()
}

// cleanup deletes every key under prefix.
func (e *env) cleanup(prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var cursor uint64
	for {
		keys, next, err := e.admin.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			e.logf("clean-up of %s: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			e.admin.Unlink(ctx, keys...)
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

func redisVersion(ctx context.Context, c *redis.Client) string {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return "unknown"
}

// valueSizes describes how big the benchmark value is in each encoding.
func valueSizes() string {
	v := newProduct(1)
	mp, err1 := Msgpack.Marshal(v)
	gb, err2 := codec.Gob.Marshal(v)
	s2, err3 := rediscache.New(&rediscache.Options{}).Marshal(v)
	if err := errors.Join(err1, err2, err3); err != nil {
		return "unknown: " + err.Error()
	}
	entry := format.Entry{Payload: mp}.Append(nil)
	return fmt.Sprintf("%d bytes in msgpack (%d as a redcache entry, header included), %d in gob, %d in go-redis/cache's msgpack + s2",
		len(mp), len(entry), len(gb), len(s2))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
