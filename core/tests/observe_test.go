package tests_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/core"
)

// spanKey marks, in a context, the step an Observer started.
type spanKey struct{}

// eventLog is an Observer that writes down what it is told, and marks
// each context it returns with the step's name, so that a test sees which
// step's context reached the loader and the driver.
type eventLog struct {
	mu       sync.Mutex
	events   []string
	breakers []core.BreakerChange
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *eventLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

func (l *eventLog) reset() {
	l.mu.Lock()
	l.events = nil
	l.mu.Unlock()
}

func parentOf(ctx context.Context) string {
	s, _ := ctx.Value(spanKey{}).(string)
	return s
}

func (l *eventLog) GetStart(ctx context.Context, call core.Call) context.Context {
	l.add("get.start under %q", parentOf(ctx))
	return context.WithValue(ctx, spanKey{}, "get "+call.Name)
}

func (l *eventLog) GetEnd(ctx context.Context, _ core.Call, o core.Outcome, err error) {
	l.add("get.end %s err=%v in %q", o, err, parentOf(ctx))
}

func (l *eventLog) LoadStart(ctx context.Context, call core.Call) context.Context {
	l.add("load.start under %q", parentOf(ctx))
	return context.WithValue(ctx, spanKey{}, "load "+call.Name)
}

func (l *eventLog) LoadEnd(ctx context.Context, _ core.Call, elapsed time.Duration, err error) {
	l.add("load.end err=%v in %q", err, parentOf(ctx))
	if elapsed <= 0 {
		l.add("load.end with elapsed %v", elapsed)
	}
}

func (l *eventLog) RedisStart(ctx context.Context, _ core.Call, op core.Op) context.Context {
	l.add("redis.start %s under %q", op, parentOf(ctx))
	return context.WithValue(ctx, spanKey{}, "redis "+string(op))
}

func (l *eventLog) RedisEnd(ctx context.Context, _ core.Call, op core.Op, err error) {
	l.add("redis.end %s err=%v", op, err)
}

func (l *eventLog) BreakerChange(ch core.BreakerChange) {
	l.mu.Lock()
	l.breakers = append(l.breakers, ch)
	l.mu.Unlock()
}

func (l *eventLog) breakerChanges() []core.BreakerChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]core.BreakerChange(nil), l.breakers...)
}

// inOrder reports whether want appears in got in this order (other
// events may come between).
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestObserverSteps: the steps of a miss and of a hit, each Redis step
// and the loader in the context of the Get, and that context reaching
// the loader and the driver.
func TestObserverSteps(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		var log eventLog
		hd := newHookDriver(d)
		var driverSaw sync.Map // key -> the step whose context the driver got
		hd.setBefore(func(ctx context.Context, op, key string) error {
			driverSaw.Store(op+" "+key, parentOf(ctx))
			return nil
		})
		m := core.New(core.WithDriver(hd), core.WithPrefix(uniquePrefix(t)), core.WithTimeout(testTimeout), core.WithObserver(&log))
		t.Cleanup(func() { _ = m.Close() })
		var loaderSaw string
		f := core.Memoize(m, "obs.steps", func(ctx context.Context, n int) (int, error) {
			loaderSaw = parentOf(ctx)
			return n + 1, nil
		})
		ctx := context.WithValue(context.Background(), spanKey{}, "request")
		if v, err := f.Get(ctx, 1); err != nil || v != 2 {
			t.Fatalf("Get = %d, %v", v, err)
		}
		miss := log.all()
		want := []string{
			`get.start under "request"`,
			`redis.start load under "get obs.steps"`,
			`redis.end load err=<nil>`,
			`load.start under "get obs.steps"`,
			`load.end err=<nil> in "load obs.steps"`,
			`redis.start save under "get obs.steps"`,
			`redis.end save err=<nil>`,
			`get.end miss err=<nil> in "get obs.steps"`,
		}
		if !inOrder(miss, want) {
			t.Fatalf("a miss told:\n%s\nwant, in this order:\n%s", strings.Join(miss, "\n"), strings.Join(want, "\n"))
		}
		if miss[len(miss)-1] != want[len(want)-1] {
			t.Errorf("the last step of a miss is %q, want GetEnd", miss[len(miss)-1])
		}
		if loaderSaw != "load obs.steps" {
			t.Errorf("the loader ran in the context of %q, want the LoadStart's", loaderSaw)
		}
		key, _ := f.Key(1)
		if s, _ := driverSaw.Load("get " + key); s != "redis load" {
			t.Errorf("the driver's GET ran in the context of %q, want the RedisStart's", s)
		}

		log.reset()
		if v, err := f.Get(ctx, 1); err != nil || v != 2 {
			t.Fatalf("Get = %d, %v", v, err)
		}
		hit := []string{
			`get.start under "request"`,
			`redis.start load under "get obs.steps"`,
			`redis.end load err=<nil>`,
			`get.end hit err=<nil> in "get obs.steps"`,
		}
		if got := log.all(); !slices.Equal(got, hit) {
			t.Errorf("a hit told:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(hit, "\n"))
		}
	})
}

// TestObserverOutcomes: each way a Get can end is told as its outcome.
func TestObserverOutcomes(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		var log eventLog
		m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithTimeout(testTimeout), core.WithObserver(&log))
		t.Cleanup(func() { _ = m.Close() })
		errGone := errors.New("gone")
		f := core.Memoize(m, "obs.outcomes", func(_ context.Context, n int) (int, error) {
			if n < 0 {
				return 0, errGone
			}
			return n, nil
		}, core.WithNegativeCaching(time.Minute, errGone))
		ctx := testCtx(t)
		last := func() string {
			all := log.all()
			return all[len(all)-1]
		}
		for _, c := range []struct {
			what string
			call func() error
			want string
		}{
			{"miss", func() error { _, err := f.Get(ctx, 1); return err }, "get.end miss err=<nil>"},
			{"hit", func() error { _, err := f.Get(ctx, 1); return err }, "get.end hit err=<nil>"},
			{"refresh", func() error { _, err := f.Refresh(ctx, 1); return err }, "get.end refresh err=<nil>"},
			{"skip", func() error { _, err := f.Get(ctx, 1, core.SkipCache()); return err }, "get.end bypass err=<nil>"},
			{"failed miss", func() error { _, _ = f.Get(ctx, -1); return nil }, "get.end miss err=gone"},
			{"negative hit", func() error { _, _ = f.Get(ctx, -1); return nil }, "get.end negative_hit err=gone"},
		} {
			if err := c.call(); err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			if got := last(); !strings.HasPrefix(got, c.want) {
				t.Errorf("%s: told %q, want %q", c.what, got, c.want)
			}
		}
		if s := f.Stats(); s.Hits != 1 || s.NegativeHits != 1 || s.Misses != 2 {
			t.Errorf("Stats = %v, want 1 hit, 1 negative hit, 2 misses", s)
		}
	})
}

// TestObserverBreakerChanges: the breaker of a driver whose Redis went
// away is told opening, probing and closing, with its driver.
func TestObserverBreakerChanges(t *testing.T) {
	for _, dk := range []struct {
		name string
		open func(tb testing.TB, url string) conn.Driver
	}{{"goredis", openGoredis}, {"radix", openRadix}} {
		t.Run(dk.name, func(t *testing.T) {
			p := conntest.NewProxy(t, conntest.RedisAddr(t))
			d := dk.open(t, "redis://"+p.Addr())
			var log eventLog
			const cooldown = 300 * time.Millisecond
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithObserver(&log),
				core.WithBreaker(2, cooldown), core.WithTimeout(300*time.Millisecond))
			t.Cleanup(func() { _ = m.Close() })
			f := core.Memoize(m, "obs.breaker", func(_ context.Context, n int) (int, error) { return n, nil })
			ctx := testCtx(t)
			if _, err := f.Get(ctx, 0); err != nil {
				t.Fatal(err)
			}
			p.Refuse()
			p.Reset()
			for i := 1; m.Stats().Breaker != core.BreakerOpen; i++ {
				if i > 50 {
					t.Fatalf("the breaker did not open: %v", m.Stats())
				}
				_, _ = f.Get(ctx, i)
			}
			p.Resume()
			eventually(t, "the breaker to close again", func() bool {
				_, _ = f.Get(ctx, 0)
				return m.Stats().Breaker == core.BreakerClosed
			})
			var seq []string
			for _, ch := range log.breakerChanges() {
				if ch.Driver != d || ch.Node != "" {
					t.Errorf("a change names driver %T %q, want the Manager's %T on a single node", ch.Driver, ch.Node, d)
				}
				seq = append(seq, ch.From.String()+">"+ch.To.String())
			}
			// A probe may fail while the driver reconnects: it opens again.
			if len(seq) < 3 || seq[0] != "closed>open" || seq[len(seq)-2] != "open>half-open" || seq[len(seq)-1] != "half-open>closed" {
				t.Errorf("breaker changes %v, want closed>open, ..., open>half-open, half-open>closed", seq)
			}
		})
	}
}

// TestMemoStats: each function counts its own calls, Memo0 and Memo2
// included, and the Manager's Stats are their sum.
func TestMemoStats(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithTimeout(testTimeout))
		t.Cleanup(func() { _ = m.Close() })
		one := core.Memoize(m, "stats.one", func(_ context.Context, n int) (int, error) { return n, nil })
		zero := core.Memoize0(m, "stats.zero", func(context.Context) (string, error) { return "z", nil })
		two := core.Memoize2(m, "stats.two", func(_ context.Context, a, b int) (int, error) { return a + b, nil })
		ctx := testCtx(t)
		for range 3 {
			_, _ = one.Get(ctx, 1) // 1 miss, 2 hits
		}
		_, _ = zero.Get(ctx) // 1 miss
		for i := range 4 {
			_, _ = two.Get(ctx, i, i) // 4 misses
		}
		for _, c := range []struct {
			name               string
			got                core.Stats
			hits, misses, load uint64
		}{
			{"one", one.Stats(), 2, 1, 1},
			{"zero", zero.Stats(), 0, 1, 1},
			{"two", two.Stats(), 0, 4, 4},
			{"manager", m.Stats(), 2, 6, 6},
		} {
			if c.got.Hits != c.hits || c.got.Misses != c.misses || c.got.Loads != c.load {
				t.Errorf("%s: %v, want %d hits, %d misses, %d loads", c.name, c.got, c.hits, c.misses, c.load)
			}
		}
		if s := one.Stats().String(); !strings.HasPrefix(s, "2 hits, 1 miss, 1 load") {
			t.Errorf("one.Stats().String() = %q", s)
		}
	})
}

// TestFullRedisReportsThrottled: a Redis out of memory refuses every
// write, so every call is a report (the flood of the issue). Throttled,
// the handler gets the burst; sampled, one in n, each saying how many it
// stands for; Stats counts them all, for the function and the Manager.
func TestFullRedisReportsThrottled(t *testing.T) {
	for _, dk := range []struct {
		name string
		open func(tb testing.TB, url string) conn.Driver
	}{{"goredis", openGoredis}, {"radix", openRadix}} {
		t.Run(dk.name, func(t *testing.T) {
			srv := conntest.StartRedis(t, "--maxmemory", "1", "--maxmemory-policy", "noeviction")
			d := dk.open(t, "redis://"+srv.Addr())
			var throttled, sampled errorLog
			var suppressed uint64
			var mu sync.Mutex
			th := core.ThrottleErrors(throttled.handler, time.Hour, 5)
			sa := core.SampleErrors(func(ctx context.Context, err *core.Error) {
				mu.Lock()
				suppressed += err.Suppressed
				mu.Unlock()
				sampled.handler(ctx, err)
			}, 100)
			m := core.New(core.WithDriver(d), core.WithPrefix(uniquePrefix(t)), core.WithTimeout(testTimeout),
				core.WithErrorHandler(func(ctx context.Context, err *core.Error) { th(ctx, err); sa(ctx, err) }))
			t.Cleanup(func() { _ = m.Close() })
			f := core.Memoize(m, "full.get", func(_ context.Context, n int) (int, error) { return n, nil })
			ctx := testCtx(t)
			const calls = 2000
			for i := range calls {
				if v, err := f.Get(ctx, i); err != nil || v != i {
					t.Fatalf("Get(%d) on a full Redis = %d, %v; want the loader's value", i, v, err)
				}
			}
			s := f.Stats()
			if s.RedisErrors < calls {
				t.Fatalf("Stats().RedisErrors = %d after %d calls on a full Redis, want one per call at least", s.RedisErrors, calls)
			}
			if ms := m.Stats(); ms.RedisErrors != s.RedisErrors {
				t.Errorf("the Manager counts %d Redis errors, the function %d: want the same", ms.RedisErrors, s.RedisErrors)
			}
			if n := len(throttled.all()); n != 5 {
				t.Errorf("the throttled handler got %d reports, want the burst of 5", n)
			}
			for _, err := range throttled.all() {
				if !conn.IsReplyError(err, "OOM") {
					t.Errorf("report %v is not Redis' OOM refusal", err)
				}
			}
			got := sampled.all()
			mu.Lock()
			total := uint64(len(got)) + suppressed
			mu.Unlock()
			if n := s.RedisErrors; total > n || n-total >= 100 {
				t.Errorf("sampled reports %d + suppressed %d = %d, want within 100 below the %d reported", len(got), suppressed, total, n)
			}
		})
	}
}
