package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	gincache "github.com/chenyahui/gin-cache"
	"github.com/chenyahui/gin-cache/persist"
	"github.com/gin-gonic/gin"
	redisv8 "github.com/go-redis/redis/v8"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/ginadapter"
)

// ginHandlerDelay is how long the response-cache workload's handler
// takes: a handler that waits on something slow.
const ginHandlerDelay = 10 * time.Millisecond

// ginRouteKeys is how many pages the response-cache workload spreads its
// requests over.
const ginRouteKeys = 100

// ginSubject is one row of the response-cache workload: a route of one
// gin server.
type ginSubject struct {
	name, codec string
	redcache    bool
	path        string
	res         result
	err         error
}

// ginResponses measures whole-response caching in gin: the same route
// (a handler that sleeps 10 ms, then renders a product as JSON) uncached,
// behind ginadapter's Cache middleware over each driver, and behind
// chenyahui/gin-cache's CacheByRequestURI with its Redis store.
func ginResponses(e *env) (*Table, error) {
	const id = "ginresp"
	ctx, cancel := context.WithTimeout(e.stop, time.Minute)
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
	v8 := redisv8.NewClient(&redisv8.Options{Addr: e.addr})
	defer v8.Close()

	handler := func(c *gin.Context) {
		n, err := strconv.Atoi(c.Query("id"))
		if err != nil {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		time.Sleep(ginHandlerDelay)
		c.JSON(http.StatusOK, newProduct(n))
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	subs := []*ginSubject{
		{name: "uncached (handler sleeps 10 ms)", codec: "none", path: "/uncached"},
		{name: "redcache ginadapter/goredis", codec: "gob of the whole response, in a redcache entry", redcache: true, path: "/goredis"},
		{name: "redcache ginadapter/radix", codec: "gob of the whole response, in a redcache entry", redcache: true, path: "/radix"},
		{name: "gin-cache", codec: "gob of the whole response (its own)", path: "/gincache"},
	}
	var managers []*core.Manager
	defer func() {
		for _, m := range managers {
			_ = m.Close()
		}
	}()
	for _, s := range subs {
		switch s.path {
		case "/uncached":
			r.GET(s.path, handler)
		case "/gincache":
			store := persist.NewRedisStore(v8)
			r.GET(s.path, gincache.CacheByRequestURI(store, e.ttl, gincache.WithPrefixKey(e.prefix+":"+id+":gincache:")), handler)
		default:
			d := conn.Driver(gd)
			if s.path == "/radix" {
				d = rd
			}
			m := core.New(core.WithPrefix(e.prefix+":"+id+s.path), core.WithDriver(d))
			managers = append(managers, m)
			r.GET(s.path, ginadapter.Connection(d), ginadapter.Cache(m, e.ttl, ginadapter.WithName("bench"), ginadapter.WithDriver(d)))
		}
	}

	base, get, stop, err := serveHTTP(r, e.p.httpWorkers)
	if err != nil {
		return nil, err
	}
	defer stop()
	urls := make(map[*ginSubject][]string, len(subs))
	for _, s := range subs {
		for k := range ginRouteKeys {
			urls[s] = append(urls[s], base+s.path+"?id="+strconv.Itoa(k))
		}
		if s.path == "/uncached" {
			continue
		}
		wctx, cancel := context.WithTimeout(e.stop, time.Minute)
		for _, u := range urls[s] {
			if err := get(wctx, u); err != nil {
				s.err = fmt.Errorf("warm-up: %w", err)
				break
			}
		}
		cancel()
	}
	for rnd := range e.p.rounds {
		for i := range subs {
			s := subs[(i+rnd)%len(subs)]
			if s.err != nil || e.stop.Err() != nil {
				continue
			}
			e.logf("   %s (round %d of %d)", s.name, rnd+1, e.p.rounds)
			us := urls[s]
			s.res.merge(measure(e.stop, runSpec{workers: e.p.httpWorkers, dur: e.p.runTime, maxOps: e.p.maxOps, samples: e.p.samples,
				seed: uint64(rnd)<<32 | uint64(i),
				op:   func(w *worker) error { return get(context.Background(), us[w.rng.IntN(len(us))]) }}))
		}
	}
	t := &Table{ID: id, Unit: "request",
		Title: fmt.Sprintf("Whole-response caching in gin, %d client goroutines", e.p.httpWorkers),
		What: fmt.Sprintf("GET /route?id=N (one of %d) on a gin server on loopback, from net/http clients with keep-alive in the same process. "+
			"The handler sleeps %v, then renders a product as JSON. ginadapter: its Cache middleware (whole response, ETag, X-Cache, per-key flights, "+
			"one GET per hit, the purge generations being re-read once a second); gin-cache: its CacheByRequestURI middleware with its Redis store (go-redis v8). "+
			"Caches are warmed before the clock starts. Allocations count the client and the server.", ginRouteKeys, ginHandlerDelay)}
	var uncached float64
	for _, s := range subs {
		row := Row{Subject: s.name, Codec: s.codec, Redcache: s.redcache}
		if s.err != nil {
			row.Failed = s.err.Error()
			t.Rows = append(t.Rows, row)
			continue
		}
		s.res.finish()
		row.Ops, row.OpsPerSec, row.Errors = s.res.ops, s.res.opsPerSec(), s.res.errs
		row.AllocsPerOp, row.CPUPerOp = s.res.allocsPerOp(), s.res.cpuPerOp()
		row.P50, row.P99 = s.res.percentile(50), s.res.percentile(99)
		if s.res.firstErr != nil {
			row.Notes = append(row.Notes, fmt.Sprintf("%d errors, the first: %v", s.res.errs, s.res.firstErr))
		}
		if s.path == "/uncached" {
			uncached = row.OpsPerSec
		} else if uncached > 0 {
			t.Notes = append(t.Notes, fmt.Sprintf("%s: %.1fx the uncached route's req/s", s.name, row.OpsPerSec/uncached))
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}
