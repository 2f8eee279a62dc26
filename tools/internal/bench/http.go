package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	gincache "github.com/chenyahui/gin-cache"
	"github.com/chenyahui/gin-cache/persist"
	"github.com/gin-gonic/gin"
	redisv8 "github.com/go-redis/redis/v8"
)

// httpRoute measures a cached route of a gin server, through net/http
// clients on loopback: redcache (a handler that calls a memoized
// function), gin-cache (its middleware with its Redis store) and the same
// route uncached.
func httpRoute(e *env) (*Table, error) {
	const id = "http"
	db, err := e.database()
	if err != nil {
		return nil, fmt.Errorf("SQLite: %w", err)
	}
	query := topProducts(db)
	libs := []lib{libUncached, libGinCache, libRCGoRedis, libRCRadix}
	// gin-cache caches responses, not values: its subject's cacher is the
	// uncached query, behind the middleware.
	buildLibs := make([]lib, len(libs))
	for i, l := range libs {
		buildLibs[i] = l
		if l == libGinCache {
			buildLibs[i] = libUncached
		}
	}
	subs := setup(e, id, buildLibs, query)
	for i, s := range subs {
		s.lib = libs[i]
	}
	defer teardown(e, id, subs)

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	v8 := redisv8.NewClient(&redisv8.Options{Addr: e.addr})
	defer v8.Close()
	paths := make([]string, len(subs))
	for i, s := range subs {
		if s.err != nil {
			continue
		}
		c := s.c
		handler := func(g *gin.Context) {
			cat, err := strconv.Atoi(g.Query("category"))
			if err != nil {
				g.AbortWithStatus(http.StatusBadRequest)
				return
			}
			v, err := c.Get(g.Request.Context(), cat)
			if err != nil {
				g.AbortWithStatus(http.StatusInternalServerError)
				return
			}
			g.JSON(http.StatusOK, v)
		}
		paths[i] = fmt.Sprintf("/s%d/products", i)
		if s.lib == libGinCache {
			store := persist.NewRedisStore(v8)
			r.GET(paths[i], gincache.CacheByRequestURI(store, e.ttl, gincache.WithPrefixKey(e.ns(id, libGinCache)+":")), handler)
		} else {
			r.GET(paths[i], handler)
		}
	}

	base, get, stop, err := serveHTTP(r, e.p.httpWorkers)
	if err != nil {
		return nil, err
	}
	defer stop()
	urls := make([][]string, len(subs))
	for i := range subs {
		for c := range categories {
			urls[i] = append(urls[i], base+paths[i]+"?category="+strconv.Itoa(c))
		}
	}
	warm(e, subs, func(ctx context.Context, s *subjectRun[[]ProductRow]) error {
		for i := range subs {
			if subs[i] == s {
				for _, u := range urls[i] {
					if err := get(ctx, u); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	index := make(map[*subjectRun[[]ProductRow]]int, len(subs))
	for i, s := range subs {
		index[s] = i
	}
	measureAll(e, subs, func(s *subjectRun[[]ProductRow]) runSpec {
		us := urls[index[s]]
		return runSpec{workers: e.p.httpWorkers, dur: e.p.runTime, maxOps: e.p.maxOps, samples: e.p.samples,
			op: func(w *worker) error { return get(context.Background(), us[w.rng.IntN(len(us))]) }}
	})
	return &Table{ID: id, Unit: "request",
		Title: fmt.Sprintf("HTTP cached route through gin, %d client goroutines", e.p.httpWorkers),
		What: fmt.Sprintf("GET /products?category=N (one of %d) on a gin server on loopback, from net/http clients with keep-alive in the same process. "+
			"The route's work is the SQL query above, returned as JSON. redcache: the handler calls the memoized query and renders JSON on every hit "+
			"(there is no gin adapter module yet); gin-cache: its CacheByRequestURI middleware with its Redis store in front of the uncached handler. "+
			"Caches are warmed before the clock starts. Allocations count the client and the server.", categories),
		Rows:  rows(subs),
		Notes: []string{"gin-cache stores the whole response (status, headers, body) gob-encoded through go-redis v8 and replays it; redcache stores the value and gin encodes JSON on every hit. Both go through Redis on every request."}}, nil
}

// serveHTTP serves h on a loopback port for a workload's clients: it
// returns the server's base URL, a get that fetches a URL with a client
// keeping up to 2*workers idle connections (and fails on any status but
// 200), and stop, which closes the client's connections and shuts the
// server down.
func serveHTTP(h http.Handler, workers int) (base string, get func(ctx context.Context, url string) error, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: 2 * workers, MaxIdleConnsPerHost: 2 * workers,
			DisableCompression: true, IdleConnTimeout: time.Minute,
		},
	}
	get = func(ctx context.Context, url string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = errors.New("bench: HTTP " + resp.Status)
		}
		return err
	}
	stop = func() {
		client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "http://" + l.Addr().String(), get, stop, nil
}
