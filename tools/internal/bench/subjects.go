package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	gocache "github.com/eko/gocache/lib/v4/cache"
	gocachestore "github.com/eko/gocache/lib/v4/store"
	gocacheredis "github.com/eko/gocache/store/redis/v4"
	rediscache "github.com/go-redis/cache/v9"
	rdx "github.com/mediocregopher/radix/v4"
	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/conn/radix"
	"github.com/redcache/redcache/core"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// lib names one subject of a comparison.
type lib int

const (
	libRCGoRedis         lib = iota // redcache over conn/goredis, msgpack codec
	libRCRadix                      // redcache over conn/radix, msgpack codec
	libRCGoRedisGob                 // redcache over conn/goredis, its default codec
	libRCGoRedisCtx                 // redcache over conn/goredis, called with a cancellable context
	libRCGoRedisNear                // redcache over conn/goredis with core.WithNearCache
	libRawGoRedis                   // go-redis GET (+ loader and SET on a miss) + decode
	libRawRadix                     // radix v4 GET (+ loader and SET on a miss) + decode
	libGoRedisCache                 // github.com/go-redis/cache/v9, Redis only
	libGoRedisCacheLocal            // github.com/go-redis/cache/v9 with its TinyLFU local cache
	libGoRedisCachePlain            // github.com/go-redis/cache/v9, Redis only, msgpack without s2
	libGocache                      // github.com/eko/gocache/lib/v4, Redis store, loadable cache
	libUncached                     // the loader, called every time
	libGinCache                     // github.com/chenyahui/gin-cache, Redis store (HTTP only)
)

// libInfo is how a subject shows in the report.
type libInfo struct {
	name     string
	codec    string
	redcache bool
}

var libInfos = map[lib]libInfo{
	libRCGoRedis:         {"redcache/goredis", "msgpack (bench codec), in a redcache entry", true},
	libRCRadix:           {"redcache/radix", "msgpack (bench codec), in a redcache entry", true},
	libRCGoRedisGob:      {"redcache/goredis, gob", "gob (redcache's default), in a redcache entry", true},
	libRCGoRedisCtx:      {"redcache/goredis, cancellable ctx", "msgpack (bench codec), in a redcache entry", true},
	libRCGoRedisNear:     {"redcache/goredis + near cache", "msgpack in a redcache entry; hits served from process memory (core.WithNearCache, kept coherent through pub/sub)", true},
	libRawGoRedis:        {"raw go-redis GET+decode", "msgpack", false},
	libRawRadix:          {"raw radix GET+decode", "msgpack", false},
	libGoRedisCache:      {"go-redis/cache", "msgpack + s2 compression (its own, fixed)", false},
	libGoRedisCacheLocal: {"go-redis/cache + TinyLFU", "msgpack + s2; hits served from process memory", false},
	libGoRedisCachePlain: {"go-redis/cache, uncompressed", "msgpack alone (Options.Marshal/Unmarshal set to msgpack's), the bytes redcache and the raw rows store", false},
	libGocache:           {"eko/gocache loadable", "msgpack (encoded in the loader; the store keeps bytes)", false},
	libUncached:          {"uncached", "none", false},
	libGinCache:          {"gin-cache", "gob of the whole response (its own)", false},
}

func (l lib) String() string { return libInfos[l].name }

// cacher is one subject's cache in front of a loader of values by id.
type cacher[V any] interface {
	// Get returns the value for id: from the cache, or from the loader,
	// storing it.
	Get(ctx context.Context, id int) (V, error)
	// GetMany gets every id, in one batch where the subject has one.
	GetMany(ctx context.Context, ids []int) error
	// Invalidate drops the cached value for id.
	Invalidate(ctx context.Context, id int) error
	Close() error
}

// loader loads the value for id, as a database would.
type loader[V any] func(ctx context.Context, id int) (V, error)

// build returns subject l's cacher in front of load. Keys start with
// prefix.
func build[V any](ctx context.Context, e *env, l lib, prefix string, load loader[V]) (cacher[V], error) {
	switch l {
	case libRCGoRedis, libRCGoRedisGob, libRCGoRedisCtx, libRCGoRedisNear:
		d, err := goredis.Open(ctx, "redis://"+e.addr)
		if err != nil {
			return nil, err
		}
		opts := []core.ManagerOption{core.WithCodec(Msgpack)}
		switch l {
		case libRCGoRedisGob:
			opts = []core.ManagerOption{core.WithCodec(codec.Gob)}
		case libRCGoRedisNear:
			// As go-redis/cache's TinyLFU: 10,000 values for a minute.
			opts = append(opts, core.WithNearCache(10000, time.Minute))
		}
		c := newRCCacher(d, prefix, e.ttl, load, opts...)
		c.near = l == libRCGoRedisNear
		if l == libRCGoRedisCtx {
			// A request's context: cancellable, made once by the
			// application, not by the cache.
			c.ctx, c.cancel = context.WithCancel(context.Background())
		}
		return c, nil
	case libRCRadix:
		d, err := radix.Open(ctx, "redis://"+e.addr)
		if err != nil {
			return nil, err
		}
		return newRCCacher(d, prefix, e.ttl, load, core.WithCodec(Msgpack)), nil
	case libRawGoRedis:
		return &rawGoRedis[V]{c: e.goRedisClient(), prefix: prefix + ":", ttl: e.ttl, load: load}, nil
	case libRawRadix:
		c, err := (rdx.PoolConfig{}).New(ctx, "tcp", e.addr)
		if err != nil {
			return nil, err
		}
		return &rawRadix[V]{c: c, prefix: prefix + ":", ttl: e.ttl, load: load}, nil
	case libGoRedisCache, libGoRedisCacheLocal, libGoRedisCachePlain:
		client := e.goRedisClient()
		opt := &rediscache.Options{Redis: client}
		switch l {
		case libGoRedisCacheLocal:
			opt.LocalCache = rediscache.NewTinyLFU(10000, time.Minute)
		case libGoRedisCachePlain:
			opt.Marshal, opt.Unmarshal = msgpack.Marshal, msgpack.Unmarshal
		}
		return &goRedisCache[V]{c: rediscache.New(opt), client: client, prefix: prefix + ":", ttl: e.ttl, load: load}, nil
	case libGocache:
		return newGocache(e, prefix+":", load), nil
	case libUncached:
		return uncached[V](load), nil
	}
	return nil, fmt.Errorf("bench: %v has no cacher", l)
}

// goRedisClient returns a go-redis client set up as goredis.Open sets up
// its own (RESP2, context deadlines honoured), so that the go-redis based
// subjects differ only in what they do with it.
func (e *env) goRedisClient() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: e.addr, Protocol: 2, ContextTimeoutEnabled: true})
}

// rcCacher is redcache: core.Memoize around the loader, and
// core.MemoizeBatch of the same name (so the same entries) for GetMany.
type rcCacher[V any] struct {
	m      *core.Manager
	memo   *core.Memo[int, V]
	bm     *core.Manager // the batch's: a Manager keeps one function per name
	batch  *core.Batch[int, V]
	d      conn.Driver
	ctx    context.Context // when set, calls use it: see libRCGoRedisCtx
	cancel context.CancelFunc
	near   bool // a near cache is on
}

func newRCCacher[V any](d conn.Driver, prefix string, ttl time.Duration, load loader[V], opts ...core.ManagerOption) *rcCacher[V] {
	mopts := append([]core.ManagerOption{core.WithDriver(d), core.WithPrefix(prefix), core.WithTTL(ttl)}, opts...)
	m, bm := core.New(mopts...), core.New(mopts...)
	return &rcCacher[V]{m: m, d: d, bm: bm,
		memo: core.Memoize(m, "product", func(ctx context.Context, id int) (V, error) { return load(ctx, id) }),
		batch: core.MemoizeBatch(bm, "product", func(ctx context.Context, ids []int) (map[int]V, error) {
			out := make(map[int]V, len(ids))
			for _, id := range ids {
				v, err := load(ctx, id)
				if err != nil {
					return nil, err
				}
				out[id] = v
			}
			return out, nil
		})}
}

func (c *rcCacher[V]) Get(ctx context.Context, id int) (V, error) {
	if c.ctx != nil {
		ctx = c.ctx
	}
	return c.memo.Get(ctx, id)
}

// GetMany is one Batch.GetMany: one MGET, and one loader call and one
// pipeline of stores for the ids that miss.
func (c *rcCacher[V]) GetMany(ctx context.Context, ids []int) error {
	if c.ctx != nil {
		ctx = c.ctx
	}
	got, err := c.batch.GetMany(ctx, ids)
	if err == nil && len(got) != len(ids) {
		err = fmt.Errorf("GetMany returned %d of %d ids", len(got), len(ids))
	}
	return err
}

func (c *rcCacher[V]) Invalidate(ctx context.Context, id int) error {
	return c.memo.Invalidate(ctx, id)
}

func (c *rcCacher[V]) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.m.Close()
	c.bm.Close()
	return c.d.Close()
}

// stats reports the Manager's counters, so that a run where Redis failed
// and calls fell back to the loader is flagged rather than published as
// a fast cache.
func (c *rcCacher[V]) stats() core.Stats {
	s, b := c.m.Stats(), c.bm.Stats()
	s.RedisErrors += b.RedisErrors
	s.Bypassed += b.Bypassed
	s.CorruptEntries += b.CorruptEntries
	s.Hits += b.Hits
	s.NearHits += b.NearHits
	return s
}

// rawGoRedis is the least a cache over go-redis can do: GET, decode; on a
// miss, load, encode, SET with PX. No header, no stampede control.
type rawGoRedis[V any] struct {
	c      *redis.Client
	prefix string
	ttl    time.Duration
	load   loader[V]
}

func (r *rawGoRedis[V]) key(id int) string { return r.prefix + strconv.Itoa(id) }

func (r *rawGoRedis[V]) Get(ctx context.Context, id int) (V, error) {
	var v V
	key := r.key(id)
	b, err := r.c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		if v, err = r.load(ctx, id); err != nil {
			return v, err
		}
		data, err := Msgpack.Marshal(v)
		if err != nil {
			return v, err
		}
		return v, r.c.Set(ctx, key, data, r.ttl).Err()
	}
	if err != nil {
		return v, err
	}
	return v, Msgpack.Unmarshal(b, &v)
}

// GetMany is one MGET and a decode of each value.
func (r *rawGoRedis[V]) GetMany(ctx context.Context, ids []int) error {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.key(id)
	}
	vals, err := r.c.MGet(ctx, keys...).Result()
	if err != nil {
		return err
	}
	for i, x := range vals {
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("bench: MGET: key %s missing", keys[i])
		}
		var v V
		if err := Msgpack.Unmarshal([]byte(s), &v); err != nil {
			return err
		}
	}
	return nil
}

func (r *rawGoRedis[V]) Invalidate(ctx context.Context, id int) error {
	return r.c.Del(ctx, r.key(id)).Err()
}

func (r *rawGoRedis[V]) Close() error { return r.c.Close() }

// rawRadix is rawGoRedis over radix v4.
type rawRadix[V any] struct {
	c      rdx.Client
	prefix string
	ttl    time.Duration
	load   loader[V]
}

func (r *rawRadix[V]) key(id int) string { return r.prefix + strconv.Itoa(id) }

func (r *rawRadix[V]) Get(ctx context.Context, id int) (V, error) {
	var v V
	var b []byte
	key := r.key(id)
	mb := rdx.Maybe{Rcv: &b}
	if err := r.c.Do(ctx, rdx.Cmd(&mb, "GET", key)); err != nil {
		return v, err
	}
	if mb.Null {
		v, err := r.load(ctx, id)
		if err != nil {
			return v, err
		}
		data, err := Msgpack.Marshal(v)
		if err != nil {
			return v, err
		}
		return v, r.c.Do(ctx, rdx.FlatCmd(nil, "SET", key, data, "PX", r.ttl.Milliseconds()))
	}
	return v, Msgpack.Unmarshal(b, &v)
}

// GetMany is one MGET and a decode of each value.
func (r *rawRadix[V]) GetMany(ctx context.Context, ids []int) error {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.key(id)
	}
	var vals [][]byte
	if err := r.c.Do(ctx, rdx.Cmd(&vals, "MGET", keys...)); err != nil {
		return err
	}
	for i, b := range vals {
		if b == nil {
			return fmt.Errorf("bench: MGET: key %s missing", keys[i])
		}
		var v V
		if err := Msgpack.Unmarshal(b, &v); err != nil {
			return err
		}
	}
	return nil
}

func (r *rawRadix[V]) Invalidate(ctx context.Context, id int) error {
	return r.c.Do(ctx, rdx.Cmd(nil, "DEL", r.key(id)))
}

func (r *rawRadix[V]) Close() error { return r.c.Close() }

// goRedisCache is github.com/go-redis/cache/v9, read with Once (its get
// with a loader, with singleflight).
type goRedisCache[V any] struct {
	c      *rediscache.Cache
	client *redis.Client
	prefix string
	ttl    time.Duration
	load   loader[V]
}

func (g *goRedisCache[V]) Get(ctx context.Context, id int) (V, error) {
	var v V
	err := g.c.Once(&rediscache.Item{
		Ctx:   ctx,
		Key:   g.prefix + strconv.Itoa(id),
		Value: &v,
		TTL:   g.ttl,
		Do:    func(it *rediscache.Item) (any, error) { return g.load(it.Context(), id) },
	})
	return v, err
}

// GetMany is one Once after the other: go-redis/cache has no batch get.
func (g *goRedisCache[V]) GetMany(ctx context.Context, ids []int) error {
	for _, id := range ids {
		if _, err := g.Get(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (g *goRedisCache[V]) Invalidate(ctx context.Context, id int) error {
	return g.c.Delete(ctx, g.prefix+strconv.Itoa(id))
}

func (g *goRedisCache[V]) Close() error { return g.client.Close() }

// gocacheCacher is github.com/eko/gocache: a loadable cache over a cache
// over its Redis store. The store keeps bytes, so the loader encodes the
// value (with msgpack, as gocache's own marshaler does) and Get decodes.
type gocacheCacher[V any] struct {
	l      *gocache.LoadableCache[any]
	client *redis.Client
	prefix string
}

func newGocache[V any](e *env, prefix string, load loader[V]) *gocacheCacher[V] {
	client := e.goRedisClient()
	store := gocacheredis.NewRedis(client, gocachestore.WithExpiration(e.ttl))
	loadFn := func(ctx context.Context, key any) (any, []gocachestore.Option, error) {
		id, err := strconv.Atoi(strings.TrimPrefix(key.(string), prefix))
		if err != nil {
			return nil, nil, err
		}
		v, err := load(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		b, err := msgpack.Marshal(v)
		return b, nil, err
	}
	return &gocacheCacher[V]{l: gocache.NewLoadable[any](loadFn, gocache.New[any](store)), client: client, prefix: prefix}
}

func (g *gocacheCacher[V]) Get(ctx context.Context, id int) (V, error) {
	var v V
	x, err := g.l.Get(ctx, g.prefix+strconv.Itoa(id))
	if err != nil {
		return v, err
	}
	switch b := x.(type) {
	case string: // from Redis
		err = msgpack.Unmarshal([]byte(b), &v)
	case []byte: // just loaded
		err = msgpack.Unmarshal(b, &v)
	default:
		err = fmt.Errorf("bench: gocache returned %T", x)
	}
	return v, err
}

// GetMany is one Get after the other: the loadable cache has no batch get.
func (g *gocacheCacher[V]) GetMany(ctx context.Context, ids []int) error {
	for _, id := range ids {
		if _, err := g.Get(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (g *gocacheCacher[V]) Invalidate(ctx context.Context, id int) error {
	return g.l.Delete(ctx, g.prefix+strconv.Itoa(id))
}

func (g *gocacheCacher[V]) Close() error {
	g.l.Close()
	return g.client.Close()
}

// uncached calls the loader every time.
type uncached[V any] loader[V]

func (u uncached[V]) Get(ctx context.Context, id int) (V, error) { return u(ctx, id) }

func (u uncached[V]) GetMany(ctx context.Context, ids []int) error {
	for _, id := range ids {
		if _, err := u(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (u uncached[V]) Invalidate(context.Context, int) error { return nil }
func (u uncached[V]) Close() error                          { return nil }
