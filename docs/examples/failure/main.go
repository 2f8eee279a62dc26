// Command failure is the program of the failure guide (docs/failure.md):
// what a memoized call does when Redis is down or hangs, when an entry is
// corrupt, when the loader panics, and when the caller gives up.
//
//	go run ./docs/examples/failure    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// reporter is an error handler that logs what the cache hides from the
// callers, and remembers which steps failed.
type reporter struct {
	log *slog.Logger
	mu  sync.Mutex
	ops map[core.Op]int
}

func (r *reporter) handle(ctx context.Context, e *core.Error) {
	r.mu.Lock()
	r.ops[e.Op]++
	r.mu.Unlock()
	r.log.WarnContext(ctx, "cache trouble", "op", e.Op, "func", e.Name, "key", e.Key, "node", e.Node, "err", e.Err)
}

func (r *reporter) count(op core.Op) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops[op]
}

// deadAddr returns an address where nothing listens: a Redis that is down.
func deadAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// hangingAddr returns the address of a server that accepts connections and
// never answers: a Redis that hangs. stop closes it.
func hangingAddr() (addr string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	return l.Addr().String(), func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}, nil
}

func square(_ context.Context, n int) (int, error) { return n * n, nil }

// redisDown calls a memoized function whose Redis is down.
func redisDown(ctx context.Context, w io.Writer, logger *slog.Logger) error {
	addr, err := deadAddr()
	if err != nil {
		return err
	}
	d, err := goredis.Open(ctx, "redis://"+addr)
	if err != nil {
		return err
	}
	defer d.Close()

	r := &reporter{log: logger, ops: map[core.Op]int{}}
	m := core.New(
		core.WithDriver(d),
		core.WithErrorHandler(r.handle),
		core.WithTimeout(100*time.Millisecond), // the default: a bound on every Redis call
		core.WithBreaker(5, time.Second),       // open after 5 failures in a row, for 1s (the default cooldown is 250ms)
	)
	defer m.Close()
	sq := core.Memoize(m, "failure.square", square)

	var values []int
	for i := 1; i <= 8; i++ {
		v, err := sq.Get(ctx, i)
		if err != nil {
			return err // never: Redis trouble is not the caller's error
		}
		values = append(values, v)
	}
	s := m.Stats()
	fmt.Fprintf(w, "  values %v\n  %d loads, %d redis errors, %d bypassed, breaker %s\n",
		values, s.Loads, s.RedisErrors, s.Bypassed, s.Breaker)
	fmt.Fprintf(w, "  reported: %d generation reads, %d breaker opening\n",
		r.count(core.OpGeneration), r.count(core.OpBreaker))
	return nil
}

// redisHangs calls a memoized function whose Redis never answers.
func redisHangs(ctx context.Context, w io.Writer) error {
	addr, stop, err := hangingAddr()
	if err != nil {
		return err
	}
	defer stop()
	d, err := goredis.Open(ctx, "redis://"+addr)
	if err != nil {
		return err
	}
	defer d.Close()
	m := core.New(core.WithDriver(d), core.WithTimeout(50*time.Millisecond), core.WithBreaker(2, time.Minute))
	defer m.Close()
	sq := core.Memoize(m, "failure.square", square)

	start := time.Now()
	for i := 1; i <= 10; i++ {
		if _, err := sq.Get(ctx, i); err != nil {
			return err
		}
	}
	s := m.Stats()
	fmt.Fprintf(w, "  10 calls in under a second: %v; %d timed out, %d bypassed, breaker %s\n",
		time.Since(start) < time.Second, s.RedisErrors, s.Bypassed, s.Breaker)
	return nil
}

// corruptEntry finds bytes that are not an entry under a cache key.
func corruptEntry(ctx context.Context, w io.Writer, m *core.Manager, d *goredis.Driver) error {
	var loads atomic.Int32
	sq := core.Memoize(m, "failure.corrupt", func(ctx context.Context, n int) (int, error) {
		loads.Add(1)
		return n * n, nil
	})
	key, err := sq.Key(3)
	if err != nil {
		return err
	}
	if err := d.Set(ctx, key, []byte("not an entry"), time.Minute); err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		if _, err := sq.Get(ctx, 3); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "  2 calls, %d load: the corrupt entry was a miss, then overwritten; %d reported corrupt\n",
		loads.Load(), m.Stats().CorruptEntries)
	return nil
}

// loaderPanics calls a loader that panics.
func loaderPanics(ctx context.Context, w io.Writer, m *core.Manager) error {
	boom := core.Memoize(m, "failure.boom", func(ctx context.Context, n int) (int, error) {
		var table []int
		return table[n], nil // index out of range
	})
	_, err := boom.Get(ctx, 1)
	var pe *core.PanicError
	if errors.As(err, &pe) {
		fmt.Fprintf(w, "  error: %v (ErrPanic: %v, stack: %v)\n", err, errors.Is(err, core.ErrPanic), len(pe.Stack) > 0)
	}
	_, found, err := boom.Peek(ctx, 1)
	fmt.Fprintf(w, "  cached: %v %v\n", found, err)
	return nil
}

// callerGivesUp waits less than the loader takes.
func callerGivesUp(ctx context.Context, w io.Writer, m *core.Manager) error {
	slow := core.Memoize(m, "failure.slow", func(ctx context.Context, n int) (int, error) {
		time.Sleep(300 * time.Millisecond)
		return n * n, nil
	})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := slow.Get(short, 4)
	fmt.Fprintf(w, "  the caller: %v\n", err)

	// The load went on without the caller, and stored its value.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if v, found, err := slow.Peek(ctx, 4); err != nil || found {
			fmt.Fprintf(w, "  later: cached %v %d %v\n", found, v, err)
			return err
		}
	}
	return errors.New("the abandoned load stored nothing")
}

func run(ctx context.Context, w io.Writer, redisURL string, logger *slog.Logger) error {
	fmt.Fprintln(w, "Redis down:")
	if err := redisDown(ctx, w, logger); err != nil {
		return err
	}
	fmt.Fprintln(w, "Redis hangs:")
	if err := redisHangs(ctx, w); err != nil {
		return err
	}

	d, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer d.Close()
	m := core.New(core.WithDriver(d), core.WithTTL(time.Minute))
	defer m.Close() // also cancels loads that no caller waits for any more

	fmt.Fprintln(w, "a corrupt entry:")
	if err := corruptEntry(ctx, w, m, d); err != nil {
		return err
	}
	fmt.Fprintln(w, "a loader panics:")
	if err := loaderPanics(ctx, w, m); err != nil {
		return err
	}
	fmt.Fprintln(w, "the caller gives up:")
	return callerGivesUp(ctx, w, m)
}

// goRedisLog sends go-redis's own diagnostics (such as "failed to dial")
// to slog; redcache itself never logs.
type goRedisLog struct{ log *slog.Logger }

func (l goRedisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "from", "go-redis")
}

func main() {
	redisURL, stop, err := devredis.URL() // $REDIS_URL, or an embedded Redis
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	redis.SetLogger(goRedisLog{logger})
	if err := run(context.Background(), os.Stdout, redisURL, logger); err != nil {
		log.Fatal(err)
	}
}
