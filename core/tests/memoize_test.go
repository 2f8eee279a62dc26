package tests_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

type user struct {
	ID    int
	Name  string
	Tags  []string
	Admin *bool
}

func TestHitMiss(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)), core.WithTTL(time.Minute))
		var calls counter
		get := core.Memoize(m, "users.get", func(_ context.Context, id int) (user, error) {
			calls.inc()
			return user{ID: id, Name: fmt.Sprint("user", id), Tags: []string{"a", "b"}}, nil
		})
		want := user{ID: 7, Name: "user7", Tags: []string{"a", "b"}}
		for i := 0; i < 3; i++ {
			got, err := get.Get(ctx, 7)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("call %d (-want +got):\n%s", i, diff)
			}
		}
		if calls.n() != 1 {
			t.Fatalf("loader ran %d times for 3 calls of one key, want 1", calls.n())
		}
		if _, err := get.Get(ctx, 8); err != nil {
			t.Fatal(err)
		}
		if calls.n() != 2 {
			t.Fatalf("another argument did not run the loader (calls %d)", calls.n())
		}
		s := m.Stats()
		if s.Hits != 2 || s.Misses != 2 || s.Loads != 2 || s.RedisErrors != 0 {
			t.Fatalf("stats = %+v, want 2 hits, 2 misses, 2 loads, no errors", s)
		}
		// The key is readable and lives where the docs say.
		key, _ := get.Key(7)
		if _, err := d.Get(ctx, key); err != nil {
			t.Fatalf("no entry under %s: %v", key, err)
		}
	})
}

func TestLoaderErrorNotCached(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		boom := errors.New("boom")
		var calls counter
		get := core.Memoize(m, "fails", func(context.Context, string) (int, error) {
			calls.inc()
			return 0, boom
		})
		for i := 0; i < 3; i++ {
			if _, err := get.Get(ctx, "x"); !errors.Is(err, boom) {
				t.Fatalf("Get = %v, want the loader's error", err)
			}
		}
		if calls.n() != 3 {
			t.Fatalf("loader ran %d times, want 3: errors must not be cached", calls.n())
		}
		if s := m.Stats(); s.LoadErrors != 3 {
			t.Fatalf("LoadErrors = %d, want 3", s.LoadErrors)
		}
	})
}

var errNotFound = errors.New("not found")

func TestNegativeCaching(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		otherErr := errors.New("transient")
		var calls counter
		loader := func(_ context.Context, id int) (string, error) {
			calls.inc()
			if id == 1 {
				return "", fmt.Errorf("user %d: %w", id, errNotFound)
			}
			return "", otherErr
		}
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		get := core.Memoize(m, "neg", loader, core.WithNegativeCaching(time.Minute, errNotFound))

		if _, err := get.Get(ctx, 1); !errors.Is(err, errNotFound) {
			t.Fatalf("first call = %v, want the loader's not-found", err)
		}
		_, err := get.Get(ctx, 1)
		if !errors.Is(err, core.ErrCached) || !errors.Is(err, errNotFound) {
			t.Fatalf("second call = %v, want a cached error matching errNotFound", err)
		}
		if err.Error() != "user 1: not found" {
			t.Fatalf("cached error message = %q", err)
		}
		if calls.n() != 1 {
			t.Fatalf("loader ran %d times, want 1", calls.n())
		}
		// Errors that do not match are not cached.
		get.Get(ctx, 2)
		if _, err := get.Get(ctx, 2); !errors.Is(err, otherErr) {
			t.Fatalf("unmatched error = %v, want the loader's own", err)
		}
		if calls.n() != 3 {
			t.Fatalf("an unmatched error was cached (calls %d, want 3)", calls.n())
		}
		// Its own ttl.
		key, _ := get.Key(1)
		if p, _ := d.Do(ctx, "PTTL", key); p.(int64) <= 0 || p.(int64) > 60_000 {
			t.Fatalf("negative entry PTTL = %v, want within a minute", p)
		}
		// A second process reads the cached error with the same identity.
		m2 := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		get2 := core.Memoize(m2, "neg", loader, core.WithNegativeCaching(time.Minute, errNotFound))
		if _, err := get2.Get(ctx, 1); !errors.Is(err, errNotFound) || calls.n() != 3 {
			t.Fatalf("other manager: %v (calls %d)", err, calls.n())
		}
		if s := m.Stats(); s.NegativeHits != 1 {
			t.Fatalf("NegativeHits = %d, want 1", s.NegativeHits)
		}
	})
}

func TestZeroAndNilValues(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		t.Run("nil pointer", func(t *testing.T) {
			var calls counter
			get := core.Memoize0(m, "nilptr", func(context.Context) (*user, error) { calls.inc(); return nil, nil })
			for i := 0; i < 2; i++ {
				if v, err := get.Get(ctx); err != nil || v != nil {
					t.Fatalf("Get = %v, %v; want nil, nil", v, err)
				}
			}
			if calls.n() != 1 {
				t.Fatalf("a nil result was not cached (calls %d)", calls.n())
			}
		})
		t.Run("zero int", func(t *testing.T) {
			var calls counter
			get := core.Memoize0(m, "zeroint", func(context.Context) (int, error) { calls.inc(); return 0, nil })
			for i := 0; i < 2; i++ {
				if v, err := get.Get(ctx); err != nil || v != 0 {
					t.Fatalf("Get = %v, %v", v, err)
				}
			}
			if calls.n() != 1 {
				t.Fatalf("a zero result was not cached (calls %d)", calls.n())
			}
		})
		t.Run("empty string and nil slice", func(t *testing.T) {
			var calls counter
			get := core.Memoize(m, "empties", func(_ context.Context, k string) (any, error) {
				calls.inc()
				if k == "s" {
					return "", nil
				}
				return nil, nil
			}, core.WithCodec(codec.JSON))
			for i := 0; i < 2; i++ {
				if v, err := get.Get(ctx, "s"); err != nil || v != "" {
					t.Fatalf("Get(s) = %#v, %v", v, err)
				}
				if v, err := get.Get(ctx, "n"); err != nil || v != nil {
					t.Fatalf("Get(n) = %#v, %v", v, err)
				}
			}
			if calls.n() != 2 {
				t.Fatalf("empty results were not cached (calls %d)", calls.n())
			}
		})
		t.Run("zero struct", func(t *testing.T) {
			var calls counter
			get := core.Memoize0(m, "zerostruct", func(context.Context) (user, error) { calls.inc(); return user{}, nil })
			for i := 0; i < 2; i++ {
				if v, err := get.Get(ctx); err != nil || !cmp.Equal(v, user{}) {
					t.Fatalf("Get = %+v, %v", v, err)
				}
			}
			if calls.n() != 1 {
				t.Fatalf("a zero struct was not cached (calls %d)", calls.n())
			}
		})
	})
}

func TestTTL(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		pttl := func(key string) int64 {
			t.Helper()
			v, err := d.Do(ctx, "PTTL", key)
			if err != nil {
				t.Fatal(err)
			}
			return v.(int64)
		}
		get := core.Memoize(m, "ttl", func(_ context.Context, i int) (int, error) { return i, nil }, core.WithTTL(1500*time.Millisecond))
		get.Get(ctx, 1)
		key, _ := get.Key(1)
		if p := pttl(key); p <= 0 || p > 1500 {
			t.Fatalf("PTTL = %d, want in (0, 1500]", p)
		}
		// Per call.
		get.Get(ctx, 2, core.TTL(90*time.Second))
		key, _ = get.Key(2)
		if p := pttl(key); p <= 1500 || p > 90_000 {
			t.Fatalf("per-call TTL: PTTL = %d, want in (1500, 90000]", p)
		}
		// The default: kept until invalidated, as the original.
		forever := core.Memoize(m, "forever", func(_ context.Context, i int) (int, error) { return i, nil })
		forever.Get(ctx, 1)
		key, _ = forever.Key(1)
		if p := pttl(key); p != -1 {
			t.Fatalf("default TTL: PTTL = %d, want -1", p)
		}
		// Jitter stays within its band.
		jit := core.Memoize(m, "jitter", func(_ context.Context, i int) (int, error) { return i, nil },
			core.WithTTL(100*time.Second), core.WithJitter(0.2))
		seen := map[int64]bool{}
		for i := 0; i < 20; i++ {
			jit.Get(ctx, i)
			key, _ := jit.Key(i)
			p := pttl(key)
			if p <= 79_000 || p > 100_000 {
				t.Fatalf("jittered PTTL = %d, want in (79000, 100000]", p)
			}
			seen[p/1000] = true
		}
		if len(seen) < 3 {
			t.Fatalf("20 jittered ttls fell in %d distinct seconds: no jitter", len(seen))
		}
		// And values do expire.
		short := core.Memoize(m, "short", func(_ context.Context, i int) (int, error) { return i, nil }, core.WithTTL(20*time.Millisecond))
		short.Get(ctx, 1)
		eventually(t, "expiry", func() bool {
			_, found, _ := short.Peek(ctx, 1)
			return !found
		})
	})
}

func TestStampede(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		release := make(chan struct{})
		var calls counter
		get := core.Memoize(m, "slow", func(_ context.Context, k string) (string, error) {
			calls.inc()
			<-release
			return "v:" + k, nil
		})
		const n = 100
		var wg sync.WaitGroup
		results := make(chan string, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := get.Get(ctx, "k")
				if err != nil {
					t.Error(err)
				}
				results <- v
			}()
		}
		// Every caller has looked up the key and missed: they are waiting
		// on the load (or within a few instructions of it).
		eventually(t, "every caller to miss", func() bool { return m.Stats().Misses == n })
		time.Sleep(20 * time.Millisecond)
		close(release)
		wg.Wait()
		close(results)
		for v := range results {
			if v != "v:k" {
				t.Fatalf("a waiter got %q", v)
			}
		}
		if calls.n() != 1 {
			t.Fatalf("%d concurrent misses ran the loader %d times, want 1", n, calls.n())
		}
	})
}

func TestWaiterContextEnds(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		defer m.Close()
		release, started := make(chan struct{}), make(chan struct{})
		loaderCtxErr := make(chan error, 1)
		get := core.Memoize(m, "slow", func(lctx context.Context, k string) (string, error) {
			close(started)
			<-release
			loaderCtxErr <- lctx.Err()
			return "done", nil
		})
		// A patient waiter, which starts the load (a load keeps the
		// deadline of the caller that started it).
		patient := make(chan string, 1)
		go func() {
			v, _ := get.Get(ctx, "k")
			patient <- v
		}()
		<-started
		// An impatient one, sharing the load.
		short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := get.Get(short, "k"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("impatient waiter = %v, want context.DeadlineExceeded", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("the impatient waiter did not return when its context ended")
		}
		close(release)
		if v := <-patient; v != "done" {
			t.Fatalf("patient waiter got %q: the load was cancelled for the others", v)
		}
		if err := <-loaderCtxErr; err != nil {
			t.Fatalf("the loader's context was cancelled: %v", err)
		}
		// The result was stored for later callers.
		if v, found, err := get.Peek(ctx, "k"); !found || err != nil || v != "done" {
			t.Fatalf("Peek = %q, %v, %v", v, found, err)
		}
		// A context that is already over does not start a load.
		over, cancel2 := context.WithCancel(ctx)
		cancel2()
		if _, err := get.Get(over, "other"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Get with a cancelled context = %v", err)
		}
	})
}

func TestLoaderPanic(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		release := make(chan struct{})
		var calls counter
		get := core.Memoize(m, "panics", func(context.Context, int) (int, error) {
			if calls.inc() == 1 {
				<-release
				panic("kaboom")
			}
			return 42, nil
		})
		const n = 10
		var wg sync.WaitGroup
		type result struct {
			v   int
			err error
		}
		results := make(chan result, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := get.Get(ctx, 1)
				results <- result{v, err}
			}()
		}
		eventually(t, "every caller to miss", func() bool { return m.Stats().Misses == n })
		time.Sleep(20 * time.Millisecond) // let them join the load
		close(release)
		wg.Wait()
		close(results)
		panics := 0
		for r := range results {
			var pe *core.PanicError
			switch {
			case errors.As(r.err, &pe):
				if !errors.Is(r.err, core.ErrPanic) || pe.Value != "kaboom" || len(pe.Stack) == 0 {
					t.Fatalf("waiter got %v, want a *PanicError with the value and stack", r.err)
				}
				panics++
			case r.err == nil && r.v == 42:
				// A caller the scheduler let in only after the failed load
				// ended starts a load of its own: the panic was not cached.
			default:
				t.Fatalf("waiter got %v, %v", r.v, r.err)
			}
		}
		// A caller whose lookup began before the load was registered
		// queues behind it rather than join it (flight.go's joining rule)
		// and loads again: on a loaded machine the 20 ms above does not
		// order the lookups, so how many joined varies. At least the
		// leader gets the panic, and no caller gets anything but the
		// panic or a fresh value.
		if panics == 0 {
			t.Fatalf("0 of %d callers got the panic: the leader must get it", n)
		}
		// Not cached: the next call loads again.
		if v, err := get.Get(ctx, 1); err != nil || v != 42 {
			t.Fatalf("after a panic, Get = %v, %v; want 42", v, err)
		}
		if s := m.Stats(); s.LoadPanics != 1 {
			t.Fatalf("LoadPanics = %d, want 1", s.LoadPanics)
		}
	})
}

func TestCallOptions(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		var calls counter
		get := core.Memoize(m, "opts", func(context.Context, int) (int, error) { return calls.inc(), nil })
		if v, _ := get.Get(ctx, 1); v != 1 {
			t.Fatalf("first = %d", v)
		}
		if v, _ := get.Get(ctx, 1, core.SkipCache()); v != 2 {
			t.Fatalf("SkipCache = %d, want a fresh 2", v)
		}
		if v, _ := get.Get(ctx, 1); v != 1 {
			t.Fatalf("SkipCache wrote the cache: %d", v)
		}
		if v, _ := get.Refresh(ctx, 1); v != 3 {
			t.Fatalf("Refresh = %d, want 3", v)
		}
		if v, _ := get.Get(ctx, 1); v != 3 {
			t.Fatalf("after Refresh = %d, want the refreshed 3", v)
		}
		off := core.Memoize(m, "off", func(context.Context, int) (int, error) { return calls.inc(), nil }, core.WithCacheDisabled())
		a, _ := off.Get(ctx, 1)
		b, _ := off.Get(ctx, 1)
		if a == b {
			t.Fatal("WithCacheDisabled cached")
		}
	})
}

func TestInvalidate(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		var calls counter
		load := func(_ context.Context, k int) (int, error) { calls.inc(); return k * 10, nil }
		get := core.Memoize(m, "inv", load)
		for k := 0; k < 5; k++ {
			get.Get(ctx, k)
		}
		if err := get.Invalidate(ctx, 2); err != nil {
			t.Fatal(err)
		}
		get.Get(ctx, 1)
		get.Get(ctx, 2)
		if calls.n() != 6 {
			t.Fatalf("after Invalidate(2): calls = %d, want 6", calls.n())
		}

		// Another process that has read the generation recently.
		other := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithGenerationRefresh(time.Hour))
		getOther := core.Memoize(other, "inv", load)
		if _, err := getOther.Get(ctx, 3); err != nil || calls.n() != 6 {
			t.Fatalf("other process missed a cached value (calls %d)", calls.n())
		}

		if err := get.InvalidateAll(ctx); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 5; k++ {
			get.Get(ctx, k)
		}
		if calls.n() != 11 {
			t.Fatalf("after InvalidateAll: calls = %d, want 11 (every key reloaded)", calls.n())
		}
		// The other process has not re-read the generation, but the entries
		// written since carry the new one, and it learns from them.
		if _, err := getOther.Get(ctx, 4); err != nil || calls.n() != 11 {
			t.Fatalf("other process: calls = %d, want 11", calls.n())
		}
		// Invalidation by name, as the redcache command does it, reaches
		// the Manager's own functions at once.
		if err := m.InvalidateAll(ctx, "inv"); err != nil {
			t.Fatal(err)
		}
		get.Get(ctx, 1)
		if calls.n() != 12 {
			t.Fatalf("Manager.InvalidateAll: the same process still served the old entry (calls %d)", calls.n())
		}
		fresh := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix))
		core.Memoize(fresh, "inv", load).Get(ctx, 0)
		if calls.n() != 13 {
			t.Fatalf("Manager.InvalidateAll did not drop the entries (calls %d)", calls.n())
		}
	})
}

func TestPeek(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		get := core.Memoize2(m, "peek", func(_ context.Context, a string, b int) (string, error) {
			return fmt.Sprint(a, b), nil
		})
		if _, found, err := get.Peek(ctx, "a", 1); found || err != nil {
			t.Fatalf("Peek before = %v, %v", found, err)
		}
		get.Get(ctx, "a", 1)
		if v, found, err := get.Peek(ctx, "a", 1); !found || err != nil || v != "a1" {
			t.Fatalf("Peek after = %q, %v, %v", v, found, err)
		}
	})
}

func TestStaleWhileRevalidate(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)))
		defer m.Close()
		var calls counter
		release := make(chan struct{}, 10)
		get := core.Memoize0(m, "swr", func(context.Context) (int, error) {
			n := calls.inc()
			if n > 1 {
				<-release
			}
			return n, nil
		}, core.WithTTL(30*time.Millisecond), core.WithStaleWhileRevalidate(time.Minute))
		if v, _ := get.Get(ctx); v != 1 {
			t.Fatalf("first = %d", v)
		}
		time.Sleep(50 * time.Millisecond) // past the ttl, inside the window
		for i := 0; i < 5; i++ {
			v, err := get.Get(ctx)
			if err != nil || v != 1 {
				t.Fatalf("stale read = %d, %v; want the stale 1 at once", v, err)
			}
		}
		eventually(t, "the background reload", func() bool { return calls.n() == 2 })
		release <- struct{}{}
		eventually(t, "the refreshed value", func() bool {
			v, _, _ := get.Peek(ctx)
			return v == 2
		})
		if calls.n() != 2 {
			t.Fatalf("stale reads started %d reloads, want 1", calls.n()-1)
		}
		if s := m.Stats(); s.StaleHits < 5 {
			t.Fatalf("StaleHits = %d, want >= 5", s.StaleHits)
		}
	})
}

type service struct {
	mu      sync.Mutex
	lookups int
	byID    *core.Memo[int, string]
}

func newService(m *core.Manager) *service {
	s := &service{}
	s.byID = core.Memoize(m, "service.byID", s.lookup) // a method value
	return s
}

func (s *service) lookup(_ context.Context, id int) (string, error) {
	s.mu.Lock()
	s.lookups++
	s.mu.Unlock()
	return fmt.Sprint("item-", id), nil
}

func TestMemoizeMethod(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		s := newService(core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t))))
		f := s.byID.Func()
		for i := 0; i < 3; i++ {
			if v, err := f(ctx, 5); err != nil || v != "item-5" {
				t.Fatal(v, err)
			}
		}
		if s.lookups != 1 {
			t.Fatalf("method ran %d times", s.lookups)
		}
	})
}

func TestResolvedConnection(t *testing.T) {
	tg := targets(t)[0]
	d := tg.open(t)
	ctx := testCtx(t)
	m := core.New(core.WithPrefix(uniquePrefix(t)))
	log := &errorLog{}
	get := core.Memoize(m, "resolved", func(_ context.Context, i int) (int, error) { return i, nil }, core.WithErrorHandler(log.handler))

	// No connection anywhere: the loader's value, and the trouble reported.
	if v, err := get.Get(ctx, 1); err != nil || v != 1 {
		t.Fatalf("no connection: %v, %v", v, err)
	}
	if errs := log.all(); len(errs) != 1 || !errors.Is(errs[0], conn.ErrNoConnection) {
		t.Fatalf("reported %v, want ErrNoConnection", errs)
	}
	// Through the context.
	get.Get(conn.With(ctx, d), 2)
	key, _ := get.Key(2)
	if _, err := d.Get(ctx, key); err != nil {
		t.Fatalf("the context's driver was not used: %v", err)
	}
	// Through the stack.
	if err := conn.Scope(d, func() error { _, err := get.Get(ctx, 3); return err }); err != nil {
		t.Fatal(err)
	}
	key, _ = get.Key(3)
	if _, err := d.Get(ctx, key); err != nil {
		t.Fatalf("the stack's driver was not used: %v", err)
	}
}
