package tests_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

// panicStore panics in the step named by at, and otherwise behaves as the
// default store.
type panicStore struct {
	core.RedisStore
	at string // "load", "save" or "delete"
}

func (s panicStore) Load(ctx context.Context, d conn.Driver, key string) ([]byte, error) {
	if s.at == "load" {
		panic("store load exploded")
	}
	return s.RedisStore.Load(ctx, d, key)
}

func (s panicStore) Save(ctx context.Context, d conn.Driver, key string, b []byte, ttl time.Duration) error {
	if s.at == "save" {
		panic("store save exploded")
	}
	return s.RedisStore.Save(ctx, d, key, b, ttl)
}

func (s panicStore) Delete(ctx context.Context, d conn.Driver, key string) error {
	if s.at == "delete" {
		panic("store delete exploded")
	}
	return s.RedisStore.Delete(ctx, d, key)
}

// reportedPanic returns the first reported *core.Error whose cause is a
// panic of callback, or nil.
func reportedPanic(log *errorLog, op core.Op, callback string) *core.PanicError {
	for _, err := range log.all() {
		var ce *core.Error
		var pe *core.PanicError
		if errors.As(err, &ce) && ce.Op == op && errors.Is(err, core.ErrPanic) && errors.As(err, &pe) && pe.Callback == callback {
			return pe
		}
	}
	return nil
}

// Every user callback that panics becomes a *PanicError: reported, or
// returned by the explicit operations, and never a crash. The calls use a
// context that can be cancelled, so that loads run on singleflight's own
// goroutine, where an unrecovered panic would kill the process.
func TestCallbackPanicsAreRecovered(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		newMemo := func(t *testing.T, log *errorLog, calls *counter, opts ...core.ManagerOption) *core.Memo[int, int] {
			t.Helper()
			base := []core.ManagerOption{core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
				core.WithErrorHandler(log.handler)}
			m := core.New(append(base, opts...)...)
			t.Cleanup(func() { m.Close() })
			return core.Memoize(m, "panics", func(_ context.Context, i int) (int, error) { calls.inc(); return i * 3, nil })
		}
		mustGet := func(t *testing.T, memo *core.Memo[int, int], i int) {
			t.Helper()
			if v, err := memo.Get(ctx, i); err != nil || v != i*3 {
				t.Fatalf("Get(%d) = %v, %v; want the loader's value", i, v, err)
			}
		}

		t.Run("BeforeSave", func(t *testing.T) {
			log, calls := &errorLog{}, &counter{}
			memo := newMemo(t, log, calls, core.WithBeforeSave(func(context.Context, string, any) ([]byte, error) {
				panic("before save exploded")
			}))
			mustGet(t, memo, 1)
			if pe := reportedPanic(log, core.OpEncode, "BeforeSave"); pe == nil || pe.Value != "before save exploded" || len(pe.Stack) == 0 {
				t.Fatalf("reported %v; want the BeforeSave panic as a *PanicError, op encode", log.all())
			}
			err := memo.Set(ctx, 1, 5)
			var pe *core.PanicError
			if !errors.Is(err, core.ErrPanic) || !errors.As(err, &pe) || pe.Callback != "BeforeSave" {
				t.Fatalf("Set = %v; want the BeforeSave panic", err)
			}
		})
		t.Run("AfterLoad", func(t *testing.T) {
			log, calls := &errorLog{}, &counter{}
			memo := newMemo(t, log, calls, core.WithBeforeSave(func(_ context.Context, _ string, v any) ([]byte, error) {
				return codec.JSON.Marshal(v)
			}), core.WithAfterLoad(func(context.Context, string, []byte, any) error {
				panic("after load exploded")
			}))
			mustGet(t, memo, 2) // stores the value
			mustGet(t, memo, 2) // reads it back: AfterLoad panics, a miss
			if calls.n() != 2 {
				t.Fatalf("%d loads; an entry AfterLoad panicked on must be a miss", calls.n())
			}
			if reportedPanic(log, core.OpDecode, "AfterLoad") == nil {
				t.Fatalf("reported %v; want the AfterLoad panic, op decode", log.all())
			}
			if _, _, err := memo.Peek(ctx, 2); err != nil {
				t.Fatalf("Peek over a panicking AfterLoad = %v; want a miss", err)
			}
		})
		t.Run("Store.Load", func(t *testing.T) {
			log, calls := &errorLog{}, &counter{}
			memo := newMemo(t, log, calls, core.WithStore(panicStore{at: "load"}), core.WithBreaker(2, time.Hour))
			for i := 0; i < 5; i++ {
				mustGet(t, memo, 3)
			}
			if reportedPanic(log, core.OpLoad, "Store.Load") == nil {
				t.Fatalf("reported %v; want the Store.Load panic, op load", log.all())
			}
			if _, _, err := memo.Peek(ctx, 3); !errors.Is(err, core.ErrPanic) {
				t.Fatalf("Peek = %v; want the Store.Load panic", err)
			}
		})
		t.Run("Store.Save", func(t *testing.T) {
			log, calls := &errorLog{}, &counter{}
			memo := newMemo(t, log, calls, core.WithStore(panicStore{at: "save"}))
			mustGet(t, memo, 4)
			if reportedPanic(log, core.OpSave, "Store.Save") == nil {
				t.Fatalf("reported %v; want the Store.Save panic, op save", log.all())
			}
			if err := memo.Set(ctx, 4, 12); !errors.Is(err, core.ErrPanic) {
				t.Fatalf("Set = %v; want the Store.Save panic", err)
			}
		})
		t.Run("Store.Delete", func(t *testing.T) {
			log, calls := &errorLog{}, &counter{}
			memo := newMemo(t, log, calls, core.WithStore(panicStore{at: "delete"}))
			mustGet(t, memo, 5)
			err := memo.Invalidate(ctx, 5)
			var ce *core.Error
			var pe *core.PanicError
			if !errors.As(err, &ce) || ce.Op != core.OpDelete || !errors.As(err, &pe) || pe.Callback != "Store.Delete" {
				t.Fatalf("Invalidate = %v; want the Store.Delete panic, op delete", err)
			}
		})
		t.Run("error handler", func(t *testing.T) {
			calls := &counter{}
			m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
				core.WithStore(failingStore{}), // every write fails: the handler is told each time
				core.WithErrorHandler(func(context.Context, *core.Error) { panic("handler exploded") }))
			t.Cleanup(func() { m.Close() })
			memo := core.Memoize(m, "panics", func(_ context.Context, i int) (int, error) { calls.inc(); return i * 3, nil })
			for i := 0; i < 3; i++ {
				mustGet(t, memo, 6+i)
			}
			if s := m.Stats(); s.Panics != 3 {
				t.Fatalf("Stats().Panics = %d; want the 3 handler panics counted", s.Panics)
			}
		})
	})
}

// explosive is a value whose JSON encoding panics, as a user's
// MarshalJSON may: the codec runs while a load's result is written, on
// the load's own goroutine, and must not take the process down.
type explosive struct{ N int }

func (explosive) MarshalJSON() ([]byte, error) { panic("marshal exploded") }

func TestCodecPanicDuringTheWrite(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		log, calls := &errorLog{}, &counter{}
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithCodec(codec.JSON), core.WithErrorHandler(log.handler))
		t.Cleanup(func() { m.Close() })
		memo := core.Memoize(m, "explosive", func(_ context.Context, i int) (explosive, error) {
			calls.inc()
			return explosive{i}, nil
		})
		for i := 0; i < 2; i++ {
			if v, err := memo.Get(ctx, 1); err != nil || v.N != 1 {
				t.Fatalf("Get = %v, %v; want the loader's value", v, err)
			}
		}
		if calls.n() != 2 {
			t.Fatalf("%d loads; a value that cannot be written is loaded again", calls.n())
		}
		// The codecs turn a panic of the value's own encoding into an
		// encoding error.
		for _, err := range log.all() {
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Op != core.OpEncode {
				t.Fatalf("reported %v; want encoding errors", err)
			}
		}
		if n := len(log.all()); n != 2 {
			t.Fatalf("%d reports, want one per write", n)
		}
	})
}

// A panic inside the driver while a load stores its value happens on the
// flight's own goroutine (the caller's context can be cancelled), where
// nothing else could recover it. The callers still get the loader's
// value, the panic is reported, and the flight ends: the next call loads
// again rather than waiting on a flight that never finishes.
func TestDriverPanicDuringTheWrite(t *testing.T) {
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		hd := newHookDriver(d)
		hd.setBefore(func(_ context.Context, op, key string) error {
			// The entry's write only: the generation is read on the
			// caller's goroutine, where a panic is the caller's to see.
			if (op == "setnx" || op == "set" || op == "eval") && !strings.HasSuffix(key, "~gen") {
				panic("driver exploded")
			}
			return nil
		})
		log, calls := &errorLog{}, &counter{}
		m := core.New(core.WithDriver(hd), core.WithTimeout(testTimeout), core.WithPrefix(uniquePrefix(t)),
			core.WithErrorHandler(log.handler))
		t.Cleanup(func() { m.Close() })
		memo := core.Memoize(m, "driverpanic", func(_ context.Context, i int) (int, error) { calls.inc(); return i + 1, nil })
		for i := 0; i < 2; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			v, err := memo.Get(ctx, 41)
			cancel()
			if err != nil || v != 42 {
				t.Fatalf("Get = %v, %v; want the loader's value 42", v, err)
			}
		}
		if calls.n() != 2 {
			t.Fatalf("%d loads; want 2 (nothing was stored, and the flight ended)", calls.n())
		}
		if pe := reportedPanic(log, core.OpSave, "Driver"); pe == nil || pe.Value != "driver exploded" {
			t.Fatalf("reported %v; want the driver's panic as a *PanicError, op save", log.all())
		}
	})
}
