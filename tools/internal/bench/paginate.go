package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/paginate"
)

// pageSize is the page the page-fetch workload reads.
const pageSize = 20

// pageListLen is the length of the page-fetch workload's list: the
// 1,000,000 items of paginate's own depth benchmark in a full run, fewer
// where building it would take most of the run.
func (e *env) pageListLen() int {
	switch e.mode {
	case Full:
		return 1_000_000
	case Quick:
		return 100_000
	}
	return 2_000
}

// pageSubject is one row of the page-fetch workload: a way to read the
// page of pageSize items that starts at depth.
type pageSubject struct {
	name     string
	redcache bool
	depth    int
	read     func(ctx context.Context, depth int) error
	res      result
}

// pageFetch measures reading a page at the front and in the middle of a
// long list: paginate (a sorted set by position and a hash of items, one
// script per page) over both drivers, against a plain Redis list read
// with LRANGE, whose cost grows with the offset.
func pageFetch(e *env) (*Table, error) {
	const id = "paginate"
	n := e.pageListLen()
	ctx, cancel := context.WithTimeout(e.stop, 5*time.Minute)
	defer cancel()
	gd, err := goredis.Open(ctx, "redis://"+e.addr)
	if err != nil {
		return nil, err
	}
	defer gd.Close()
	rd, err := radix.Open(ctx, "redis://"+e.addr)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	prefix := e.prefix + ":" + id
	lists := map[string]*paginate.List[Product]{}
	for name, d := range map[string]conn.Driver{"goredis": gd, "radix": rd} {
		l, err := paginate.NewList("products", func(p Product) string { return strconv.FormatInt(p.ID, 10) },
			paginate.WithDriver(d), paginate.WithPrefix(prefix), paginate.WithCodec(Msgpack))
		if err != nil {
			return nil, err
		}
		lists[name] = l
	}
	e.logf("   building a list of %s products", thousands(float64(n)))
	items := make([]Product, n)
	for i := range items {
		items[i] = newProduct(i)
	}
	// Both drivers read the same list: one Replace builds it.
	if err := lists["goredis"].Replace(ctx, items, e.ttl); err != nil {
		return nil, fmt.Errorf("Replace of %d items: %w", n, err)
	}
	rawKey := prefix + ":lrange"
	admin := e.goRedisClient()
	defer admin.Close()
	for start := 0; start < n; start += 1000 {
		pipe := admin.Pipeline()
		vals := make([]any, 0, 1000)
		for i := start; i < min(start+1000, n); i++ {
			b, err := Msgpack.Marshal(items[i])
			if err != nil {
				return nil, err
			}
			vals = append(vals, b)
		}
		pipe.RPush(ctx, rawKey, vals...)
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("RPUSH: %w", err)
		}
	}
	admin.Expire(ctx, rawKey, e.ttl)

	paginated := func(l *paginate.List[Product]) func(ctx context.Context, depth int) error {
		return func(ctx context.Context, depth int) error {
			p, err := l.Range(ctx, depth, pageSize)
			if err != nil {
				return err
			}
			if len(p.Items) != pageSize || p.Items[0].ID != int64(depth) {
				return errWrongValue
			}
			return nil
		}
	}
	lrange := func(ctx context.Context, depth int) error {
		raw, err := admin.LRange(ctx, rawKey, int64(depth), int64(depth+pageSize-1)).Result()
		if err != nil {
			return err
		}
		if len(raw) != pageSize {
			return errWrongValue
		}
		for i, s := range raw {
			var p Product
			if err := Msgpack.Unmarshal([]byte(s), &p); err != nil {
				return err
			}
			if p.ID != int64(depth+i) {
				return errWrongValue
			}
		}
		return nil
	}
	deep := n / 2
	subs := []*pageSubject{
		{name: "paginate/goredis, page 1", redcache: true, depth: 0, read: paginated(lists["goredis"])},
		{name: "paginate/goredis, depth " + thousands(float64(deep)), redcache: true, depth: deep, read: paginated(lists["goredis"])},
		{name: "paginate/radix, page 1", redcache: true, depth: 0, read: paginated(lists["radix"])},
		{name: "paginate/radix, depth " + thousands(float64(deep)), redcache: true, depth: deep, read: paginated(lists["radix"])},
		{name: "raw go-redis LRANGE, page 1", depth: 0, read: lrange},
		{name: "raw go-redis LRANGE, depth " + thousands(float64(deep)), depth: deep, read: lrange},
	}
	for r := range e.p.rounds {
		for i := range subs {
			s := subs[(i+r)%len(subs)]
			if e.stop.Err() != nil {
				break
			}
			e.logf("   %s (round %d of %d)", s.name, r+1, e.p.rounds)
			res := measure(e.stop, runSpec{workers: 1, dur: e.p.runTime, maxOps: e.p.maxOps, samples: e.p.samples,
				seed: uint64(r)<<32 | uint64(i),
				op:   func(*worker) error { return s.read(context.Background(), s.depth) }})
			s.res.merge(res)
		}
	}
	t := &Table{ID: id, Unit: "page", Title: "Page fetch at depth",
		What: fmt.Sprintf("One operation reads a page of %d products (msgpack) from a list of %s, at the front or at depth %s, and decodes it, 1 goroutine. "+
			"paginate keeps the list as a sorted set by position and a hash of items, and reads a page in one script: O(log N + page) at any depth. "+
			"The raw rows keep a plain Redis list and read it with LRANGE, O(offset + page).",
			pageSize, thousands(float64(n)), thousands(float64(deep)))}
	for _, s := range subs {
		s.res.finish()
		row := Row{Subject: s.name, Codec: "msgpack (bench codec)", Redcache: s.redcache, Ops: s.res.ops,
			OpsPerSec: s.res.opsPerSec(), AllocsPerOp: s.res.allocsPerOp(), CPUPerOp: s.res.cpuPerOp(), Errors: s.res.errs}
		row.P50, row.P99 = s.res.percentile(50), s.res.percentile(99)
		if s.res.firstErr != nil {
			row.Notes = append(row.Notes, fmt.Sprintf("%d errors, the first: %v", s.res.errs, s.res.firstErr))
		}
		t.Rows = append(t.Rows, row)
	}
	for i := 0; i+1 < len(subs); i += 2 {
		front, deepRow := t.Rows[i], t.Rows[i+1]
		if front.P50 > 0 {
			t.Notes = append(t.Notes, fmt.Sprintf("%s: depth %s takes %.2fx the time of page 1 (p50)",
				subs[i].name[:len(subs[i].name)-len(", page 1")], thousands(float64(deep)), float64(deepRow.P50)/float64(front.P50)))
		}
	}
	return t, nil
}
