package tests_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/memory"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/core/format"
)

// The kind of every option, checked by the compiler: an Option can be
// given to Memoize (and to New, as a default for every function), a
// ManagerOption to New only, a CallOption to a call only. Moving an
// option to another kind breaks this list, on purpose.
var (
	_ core.Option = core.WithPrefix("p")
	_ core.Option = core.WithTTL(time.Second)
	_ core.Option = core.WithJitter(0.1)
	_ core.Option = core.WithCodec(codec.JSON)
	_ core.Option = core.WithDriver(nil)
	_ core.Option = core.WithStore(core.RedisStore{})
	_ core.Option = core.WithBeforeSave(nil)
	_ core.Option = core.WithAfterLoad(nil)
	_ core.Option = core.WithErrorHandler(nil)
	_ core.Option = core.WithTimeout(time.Second)
	_ core.Option = core.WithNegativeCaching(time.Second)
	_ core.Option = core.WithStaleWhileRevalidate(time.Second)
	_ core.Option = core.WithGenerationRefresh(time.Second)
	_ core.Option = core.WithMaxKeyLength(64)
	_ core.Option = core.WithBreaker(5, time.Second)
	_ core.Option = core.WithNearCache(10, time.Second)
	_ core.Option = core.WithCacheDisabled()

	_ core.ManagerOption = core.WithFenceWindow(time.Second)

	_ core.CallOption = core.TTL(time.Second)
	_ core.CallOption = core.SkipCache()
	_ core.CallOption = core.Refresh()
)

// What the compiler cannot say in a var list: a Manager-only option is
// not an Option, so Memoize refuses it at compile time.
func TestManagerOnlyOptionsAreNotOptions(t *testing.T) {
	option := reflect.TypeFor[core.Option]()
	for name, o := range map[string]core.ManagerOption{
		"WithFenceWindow": core.WithFenceWindow(time.Second),
	} {
		if reflect.TypeOf(o).Implements(option) {
			t.Errorf("%s is a core.Option: Memoize would accept it and ignore it", name)
		}
	}
	if !reflect.TypeOf(core.WithTTL(time.Second)).Implements(reflect.TypeFor[core.ManagerOption]()) {
		t.Error("an Option is not a ManagerOption: New would refuse the defaults of its functions")
	}
}

// Nil options of every kind are skipped.
func TestNilOptionsAreIgnored(t *testing.T) {
	m := core.New(nil, core.WithDriver(memory.New()), nil)
	t.Cleanup(func() { m.Close() })
	var calls counter
	f := core.Memoize(m, "nil.opts", func(_ context.Context, k int) (int, error) { calls.inc(); return k, nil }, nil)
	ctx := testCtx(t)
	f.Get(ctx, 1)
	if v, err := f.Get(ctx, 1, nil); err != nil || v != 1 || calls.n() != 1 {
		t.Fatalf("Get = %v, %v after %d loads, want 1 cached", v, err, calls.n())
	}
}

// optionEnv is what an optionCase's check sees of its function.
type optionEnv struct {
	d      conn.Driver
	prefix string // the Manager's
	name   string
	loads  *counter
}

// optionCase gives one option to New (manager) and another value of it to
// Memoize (function); own reports whether a function behaves with the
// function's value (true) or the Manager's (false).
type optionCase struct {
	name     string
	manager  []core.ManagerOption
	function []core.Option
	own      func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool
}

func pttl(t *testing.T, ctx context.Context, d conn.Driver, key string) time.Duration {
	t.Helper()
	v, err := d.Do(ctx, "PTTL", key)
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	return time.Duration(v.(int64)) * time.Millisecond
}

func rawEntry(t *testing.T, ctx context.Context, d conn.Driver, f *core.Memo[int, int], k int) format.Entry {
	t.Helper()
	if _, err := f.Get(ctx, k); err != nil {
		t.Fatal(err)
	}
	key, _ := f.Key(k)
	b, err := d.Get(ctx, key)
	if err != nil {
		t.Fatalf("%s holds nothing: %v", key, err)
	}
	ent, err := format.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return ent
}

// loadsOf returns how many loads two calls of f with k cost.
func loadsOf(ctx context.Context, env optionEnv, f *core.Memo[int, int], k int) int {
	before := env.loads.n()
	f.Get(ctx, k)
	f.Get(ctx, k)
	return env.loads.n() - before
}

// countingStore is the default store, counting its reads.
type countingStore struct {
	core.RedisStore
	loads *counter
}

func (s countingStore) Load(ctx context.Context, d conn.Driver, key string) ([]byte, error) {
	s.loads.inc()
	return s.RedisStore.Load(ctx, d, key)
}

// tagged is a BeforeSave and AfterLoad pair that marks what it writes.
func tagged(tag string) []core.Option {
	return []core.Option{
		core.WithBeforeSave(func(_ context.Context, _ string, v any) ([]byte, error) {
			return []byte(tag + codecString(v)), nil
		}),
		core.WithAfterLoad(func(_ context.Context, _ string, p []byte, ptr any) error {
			s, ok := strings.CutPrefix(string(p), tag)
			if !ok {
				return errors.New("not " + tag)
			}
			return codec.JSON.Unmarshal([]byte(s), ptr)
		}),
	}
}

func codecString(v any) string {
	b, _ := codec.JSON.Marshal(v)
	return string(b)
}

func optionCases(t *testing.T) []optionCase {
	fnPrefix := uniquePrefix(t)
	store := countingStore{loads: &counter{}}
	var managerLog, functionLog errorLog
	return []optionCase{
		{
			name:     "WithPrefix",
			function: []core.Option{core.WithPrefix(fnPrefix)},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				f.Get(ctx, 1)
				key, _ := f.Key(1)
				if _, err := env.d.Get(ctx, key); err != nil {
					t.Fatalf("the value is not under its key %s: %v", key, err)
				}
				return strings.HasPrefix(key, fnPrefix+":")
			},
		},
		{
			name:     "WithTTL",
			manager:  []core.ManagerOption{core.WithTTL(time.Hour)},
			function: []core.Option{core.WithTTL(10 * time.Second)},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				f.Get(ctx, 1)
				key, _ := f.Key(1)
				return pttl(t, ctx, env.d, key) <= 10*time.Second
			},
		},
		{
			name:     "WithJitter",
			manager:  []core.ManagerOption{core.WithTTL(time.Hour), core.WithJitter(1)},
			function: []core.Option{core.WithJitter(0)},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				// With a jitter of 1, twenty ttls all within the last
				// minute of the hour are a chance of 60^-20.
				for k := range 20 {
					f.Get(ctx, k)
					key, _ := f.Key(k)
					if pttl(t, ctx, env.d, key) < 59*time.Minute {
						return false
					}
				}
				return true
			},
		},
		{
			name:     "WithCodec",
			manager:  []core.ManagerOption{core.WithCodec(codec.Gob)},
			function: []core.Option{core.WithCodec(codec.JSON)},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				id, _ := codec.ID(codec.JSON)
				ent := rawEntry(t, ctx, env.d, f, 7)
				return ent.Codec == id && string(ent.Payload) == "7"
			},
		},
		{
			name:     "WithDriver",
			manager:  []core.ManagerOption{core.WithDriver(memory.New())},
			function: nil, // set per target below: the target's driver
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				f.Get(ctx, 1)
				key, _ := f.Key(1)
				_, err := env.d.Get(ctx, key)
				return err == nil
			},
		},
		{
			name:     "WithStore",
			manager:  []core.ManagerOption{core.WithStore(store)},
			function: []core.Option{core.WithStore(core.RedisStore{})},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				before := store.loads.n()
				f.Get(ctx, 1)
				return store.loads.n() == before
			},
		},
		{
			name:     "WithBeforeSave and WithAfterLoad",
			manager:  append([]core.ManagerOption(nil), asManager(tagged("M"))...),
			function: tagged("F"),
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				ent := rawEntry(t, ctx, env.d, f, 3)
				if v, err := f.Get(ctx, 3); err != nil || v != 3 || loadsOf(ctx, env, f, 3) != 0 {
					t.Fatalf("the hooks' value did not read back: %v, %v", v, err)
				}
				return string(ent.Payload) == "F3"
			},
		},
		{
			name:     "WithErrorHandler",
			manager:  []core.ManagerOption{core.WithErrorHandler(managerLog.handler)},
			function: []core.Option{core.WithErrorHandler(functionLog.handler)},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				key, _ := f.Key(1)
				if err := env.d.Set(ctx, key, []byte("not an entry"), time.Minute); err != nil {
					t.Fatal(err)
				}
				m0, f0 := len(managerLog.all()), len(functionLog.all())
				f.Get(ctx, 1)
				mn, fn := len(managerLog.all())-m0, len(functionLog.all())-f0
				if mn+fn != 1 {
					t.Fatalf("a corrupt entry was reported %d times to the Manager's handler and %d to the function's, want once", mn, fn)
				}
				return fn == 1
			},
		},
		{
			name: "WithTimeout",
			// Every Redis call of the Manager's functions times out at
			// once: nothing is cached.
			manager:  []core.ManagerOption{core.WithTimeout(time.Nanosecond)},
			function: []core.Option{core.WithTimeout(testTimeout)},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				return loadsOf(ctx, env, f, 1) == 1
			},
		},
		{
			name:     "WithNegativeCaching",
			manager:  []core.ManagerOption{core.WithNegativeCaching(time.Hour)},
			function: []core.Option{core.WithNegativeCaching(0)},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				return loadsOf(ctx, env, f, -1) == 2 // -1 fails: cached or not
			},
		},
		{
			name:     "WithStaleWhileRevalidate",
			manager:  []core.ManagerOption{core.WithTTL(10 * time.Second), core.WithStaleWhileRevalidate(time.Hour)},
			function: []core.Option{core.WithStaleWhileRevalidate(0)},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				ent := rawEntry(t, ctx, env.d, f, 1)
				key, _ := f.Key(1)
				return ent.SoftExpiry.IsZero() && pttl(t, ctx, env.d, key) <= 10*time.Second
			},
		},
		{
			name:     "WithGenerationRefresh",
			manager:  []core.ManagerOption{core.WithGenerationRefresh(time.Hour)},
			function: []core.Option{core.WithGenerationRefresh(10 * time.Millisecond)},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				f.Get(ctx, 1)
				// Another process invalidates; only a re-read of the
				// generation tells this one.
				other := core.New(core.WithDriver(env.d), core.WithPrefix(env.prefix), core.WithTimeout(testTimeout))
				defer other.Close()
				if err := other.InvalidateAll(ctx, env.name); err != nil {
					t.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond)
				before := env.loads.n()
				f.Get(ctx, 1)
				return env.loads.n() > before
			},
		},
		{
			name:     "WithMaxKeyLength",
			manager:  []core.ManagerOption{core.WithMaxKeyLength(0)},
			function: []core.Option{core.WithMaxKeyLength(8)},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				key, _ := f.Key(123456789012)
				return !strings.Contains(key, "123456789012")
			},
		},
		{
			name:     "WithNearCache",
			manager:  []core.ManagerOption{core.WithNearCache(100, time.Hour)},
			function: []core.Option{core.WithNearCache(0, 0)},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				// A value deleted from Redis behind the cache's back is
				// still served by a near cache, once its subscription is up.
				for k := 100; k < 150; k++ {
					f.Get(ctx, k)
					key, _ := f.Key(k)
					if _, err := env.d.Del(ctx, key); err != nil {
						t.Fatal(err)
					}
					before := env.loads.n()
					f.Get(ctx, k)
					if env.loads.n() == before {
						return false
					}
					time.Sleep(20 * time.Millisecond)
				}
				return true
			},
		},
		{
			name:     "WithCacheDisabled",
			function: []core.Option{core.WithCacheDisabled()},
			own: func(t *testing.T, ctx context.Context, env optionEnv, f *core.Memo[int, int]) bool {
				return loadsOf(ctx, env, f, 1) == 2
			},
		},
	}
}

func asManager(opts []core.Option) []core.ManagerOption {
	out := make([]core.ManagerOption, len(opts))
	for i, o := range opts {
		out[i] = o
	}
	return out
}

// Every Option given to both New and Memoize: the function's value wins,
// while a function of the same Manager without it keeps the Manager's.
// (WithBreaker: TestMemoizeWithBreakerIsHonoured, as it needs a failing
// Redis.)
func TestFunctionOptionWinsOverManager(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		for _, c := range optionCases(t) {
			t.Run(c.name, func(t *testing.T) {
				ctx := testCtx(t)
				prefix := uniquePrefix(t)
				fnOpts := c.function
				if c.name == "WithDriver" {
					fnOpts = []core.Option{core.WithDriver(d)}
				}
				m := core.New(append([]core.ManagerOption{core.WithDriver(d), core.WithPrefix(prefix),
					core.WithTimeout(testTimeout)}, c.manager...)...)
				t.Cleanup(func() { m.Close() })
				loads := &counter{}
				load := func(_ context.Context, k int) (int, error) {
					loads.inc()
					if k < 0 {
						return 0, errors.New("no such value")
					}
					return k, nil
				}
				// The Manager's value first: a near cache's subscription
				// is up by the time the function's runs.
				shared := core.Memoize(m, "opt.shared", load)
				if c.own(t, ctx, optionEnv{d, prefix, "opt.shared", loads}, shared) {
					t.Fatalf("%s given to New had no effect on a function without its own: the case proves nothing", c.name)
				}
				f := core.Memoize(m, "opt.own", load, fnOpts...)
				if !c.own(t, ctx, optionEnv{d, prefix, "opt.own", loads}, f) {
					t.Fatalf("%s given to Memoize lost to the Manager's", c.name)
				}
			})
		}
	})
}

// WithTimeout given to Memoize bounds every Redis call of the function,
// the generation bump of its InvalidateAll too, not only its reads and
// writes.
func TestFunctionTimeoutBoundsItsInvalidateAll(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		h := newHookDriver(d)
		m := core.New(core.WithDriver(h), core.WithPrefix(uniquePrefix(t)), core.WithTimeout(10*time.Second))
		t.Cleanup(func() { m.Close() })
		const own = 400 * time.Millisecond
		f := core.Memoize(m, "own.timeout", func(_ context.Context, k int) (int, error) { return k, nil },
			core.WithTimeout(own))
		h.setBefore(func(ctx context.Context, op, key string) error {
			if op != "eval" || !strings.HasSuffix(key, "~gen") {
				return nil
			}
			<-ctx.Done() // a Redis that never answers the bump
			return ctx.Err()
		})
		t.Cleanup(h.clear)
		start := time.Now()
		err := f.InvalidateAll(ctx)
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("InvalidateAll against a Redis that never answers = %v, want DeadlineExceeded", err)
		}
		if took > 5*own {
			t.Fatalf("InvalidateAll took %v: bounded by the Manager's 10s, not the function's %v", took, own)
		}
	})
}
