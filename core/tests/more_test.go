package tests_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

func TestSet(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		var calls counter
		get := core.Memoize(m, "set", func(context.Context, int) (string, error) { calls.inc(); return "loaded", nil })
		if err := get.Set(ctx, 1, "written", core.TTL(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if v, err := get.Get(ctx, 1); err != nil || v != "written" || calls.n() != 0 {
			t.Fatalf("Get after Set = %q, %v (calls %d)", v, err, calls.n())
		}
		key, _ := get.Key(1)
		if p, _ := d.Do(ctx, "PTTL", key); p.(int64) <= 0 || p.(int64) > 60_000 {
			t.Fatalf("PTTL after Set(TTL 1m) = %v", p)
		}
		// Set writes in the current generation: an InvalidateAll drops it.
		get.InvalidateAll(ctx)
		if v, _ := get.Get(ctx, 1); v != "loaded" {
			t.Fatalf("after InvalidateAll = %q", v)
		}
	})
}

func TestCorruptGeneration(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		log := &errorLog{}
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithErrorHandler(log.handler))
		var calls counter
		get := core.Memoize(m, "gen", func(_ context.Context, i int) (int, error) { calls.inc(); return i, nil })
		if err := d.Set(ctx, prefix+":gen:~gen", []byte("not a number"), time.Minute); err != nil {
			t.Fatal(err)
		}
		get.Get(ctx, 1)
		get.Get(ctx, 1)
		if calls.n() != 1 {
			t.Fatalf("a foreign generation value switched caching off (calls %d)", calls.n())
		}
		if errs := log.all(); len(errs) == 0 || !errors.Is(errs[0], core.ErrCorruptEntry) {
			t.Fatalf("reported %v, want the foreign generation", errs)
		}
		// InvalidateAll replaces it and still drops the entries.
		if err := get.InvalidateAll(ctx); err != nil {
			t.Fatalf("InvalidateAll over a foreign generation value: %v", err)
		}
		get.Get(ctx, 1)
		if calls.n() != 2 {
			t.Fatalf("InvalidateAll did not drop the entry (calls %d)", calls.n())
		}
	})
}

func TestNegativeCachingNeverCachesContextErrors(t *testing.T) {
	tg := targets(t)[0]
	d := tg.open(t)
	ctx := testCtx(t)
	m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
		core.WithNegativeCaching(time.Minute)) // every error
	var calls counter
	get := core.Memoize(m, "ctxerr", func(context.Context, int) (int, error) {
		calls.inc()
		return 0, context.DeadlineExceeded
	})
	get.Get(ctx, 1)
	get.Get(ctx, 1)
	if calls.n() != 2 {
		t.Fatalf("a context error was cached (calls %d)", calls.n())
	}
}

// Two Redis servers behind one function: a connection per tenant. Each
// server's entries are judged by that server's generation.
func TestGenerationPerRedis(t *testing.T) {
	all := targets(t)
	a, b := all[0].open(t), all[1].open(t) // standalone and cluster
	ctx := testCtx(t)
	m := core.New(core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
	var calls counter
	get := core.Memoize(m, "tenant", func(context.Context, int) (int, error) { return calls.inc(), nil })
	ca, cb := conn.With(ctx, a), conn.With(ctx, b)
	get.Get(ca, 1)
	get.Get(cb, 1)
	if err := get.InvalidateAll(cb); err != nil {
		t.Fatal(err)
	}
	get.Get(ca, 1) // re-reads nothing: a's generation is unchanged
	if v, _ := get.Get(cb, 1); v != 3 {
		t.Fatalf("tenant b after its InvalidateAll = %d, want a reload (3)", v)
	}
	if v, _ := get.Get(ca, 1); v != 1 {
		t.Fatalf("tenant a = %d, want its own cached 1", v)
	}
}

func TestStatsEncodeErrorsAndJSON(t *testing.T) {
	tg := targets(t)[0]
	d := tg.open(t)
	ctx := testCtx(t)
	m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
	fn := core.Memoize(m, "enc", func(context.Context, int) (chan int, error) { return make(chan int), nil })
	fn.Get(ctx, 1)
	s := m.Stats()
	if s.EncodeErrors != 1 || s.RedisErrors != 0 {
		t.Fatalf("stats = %+v, want one encode error and no Redis error", s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	json.Unmarshal(b, &back)
	if back["Breaker"] != "closed" {
		t.Fatalf("Breaker in JSON = %v, want \"closed\"", back["Breaker"])
	}
}
