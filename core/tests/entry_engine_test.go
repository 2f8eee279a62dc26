package tests_test

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core"
)

var (
	errFirst  = errors.New("first sentinel")
	errSecond = errors.New("second sentinel")
)

// Issue 8 item 8: a negative entry names its sentinel by a stable
// identity: reordering the WithNegativeCaching list between two releases
// keeps errors.Is true for the same sentinel.
func TestNegativeSentinelSurvivesReorder(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		fail := func(context.Context, int) (int, error) { return 0, errSecond }
		oldRelease := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
			core.WithNegativeCaching(time.Minute, errFirst, errSecond))
		newRelease := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
			core.WithNegativeCaching(time.Minute, errSecond, errFirst))
		t.Cleanup(func() { oldRelease.Close(); newRelease.Close() })
		if _, err := core.Memoize(oldRelease, "neg", fail).Get(ctx, 1); !errors.Is(err, errSecond) {
			t.Fatalf("writer = %v", err)
		}
		_, err := core.Memoize(newRelease, "neg", func(context.Context, int) (int, error) {
			t.Error("the cached error was not served")
			return 0, nil
		}).Get(ctx, 1)
		if !errors.Is(err, core.ErrCached) || !errors.Is(err, errSecond) || errors.Is(err, errFirst) {
			t.Fatalf("reader with the list reordered = %v: want the cached errSecond", err)
		}
	})
}

// Issue 8 item 9: what a function reads that is not a value for it is a
// miss: a negative entry when it does not cache errors, an entry whose
// header was altered; an entry of a newer format is a quiet miss, left in
// place; an entry of the previous format still reads.
func TestEntryFormatOnRedis(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		log := &errorLog{}
		m := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix), core.WithErrorHandler(log.handler))
		t.Cleanup(func() { m.Close() })
		var calls counter
		get := core.Memoize(m, "fmt", func(_ context.Context, k string) (string, error) {
			calls.inc()
			return "loaded:" + k, nil
		})
		get.Get(ctx, "warm")
		raw := func(k string) []byte {
			key, _ := get.Key(k)
			b, err := d.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		put := func(k string, b []byte) string {
			key, _ := get.Key(k)
			if err := d.Set(ctx, key, b, time.Minute); err != nil {
				t.Fatal(err)
			}
			return key
		}
		mustLoad := func(what, k string) {
			t.Helper()
			before := calls.n()
			v, err := get.Get(ctx, k)
			if err != nil || v != "loaded:"+k || calls.n() != before+1 {
				t.Fatalf("%s: Get = %q, %v (loads %d); want a miss and the loader's value", what, v, err, calls.n()-before)
			}
		}

		t.Run("negative entry without negative caching", func(t *testing.T) {
			nm := core.New(core.WithDriver(d), core.WithTimeout(testTimeout), core.WithPrefix(prefix),
				core.WithNegativeCaching(time.Minute))
			t.Cleanup(func() { nm.Close() })
			core.Memoize(nm, "fmt", func(context.Context, string) (string, error) { return "", errFirst }).Get(ctx, "neg")
			mustLoad("a negative entry", "neg")
		})

		t.Run("negative flag flipped", func(t *testing.T) {
			b := raw("warm")
			b[2] ^= 0x01
			put("flip", b)
			reported := len(log.all())
			mustLoad("a value entry with its negative flag flipped", "flip")
			if errs := log.all()[reported:]; len(errs) != 1 || !errors.Is(errs[0], core.ErrCorruptEntry) {
				t.Fatalf("reported %v, want one ErrCorruptEntry", errs)
			}
		})

		t.Run("newer format", func(t *testing.T) {
			b := raw("warm")
			b[1] = 3 // a later release
			key := put("newer", b)
			reported, corrupt := len(log.all()), m.Stats().CorruptEntries
			mustLoad("an entry of a newer format", "newer")
			if errs := log.all()[reported:]; len(errs) != 0 || m.Stats().CorruptEntries != corrupt {
				t.Fatalf("a newer entry was reported (%v) or counted corrupt", errs)
			}
			if got, _ := d.Get(ctx, key); string(got) != string(b) {
				t.Fatal("a newer entry was overwritten")
			}
		})

		t.Run("format v1", func(t *testing.T) {
			gen, err := d.Get(ctx, prefix+":fmt:~gen")
			if err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.ParseUint(strings.TrimSpace(string(gen)), 10, 64)
			payload, _ := codec.Gob.Marshal("from v1")
			id, _ := codec.ID(codec.Gob)
			put("v1", v1Entry(0, id, n, time.Time{}, payload))
			before := calls.n()
			if v, err := get.Get(ctx, "v1"); err != nil || v != "from v1" || calls.n() != before {
				t.Fatalf("v1 entry = %q, %v: want a hit", v, err)
			}
		})
	})
}

// Issue 8 item 15: a miss with a slow Redis costs at most one timeout
// for the read phase, generation included.
func TestMissCostsOneTimeout(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		h := newHookDriver(d)
		const timeout = 400 * time.Millisecond
		m := core.New(core.WithDriver(h), core.WithPrefix(uniquePrefix(t)), core.WithTimeout(timeout), core.WithBreaker(0, 0))
		t.Cleanup(func() { m.Close() })
		get := core.Memoize(m, "slow", func(_ context.Context, k int) (int, error) { return k, nil })
		get.Get(ctx, 0) // connect while fast
		h.setBefore(func(ctx context.Context, op, _ string) error {
			if op != "get" {
				return nil
			}
			select { // every read answers late, within the timeout
			case <-time.After(350 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		time.Sleep(1100 * time.Millisecond) // the generation is due for a re-read
		start := time.Now()
		if v, err := get.Get(ctx, 1); err != nil || v != 1 {
			t.Fatalf("Get = %d, %v", v, err)
		}
		// The bound the docs state: the timeout, plus scheduling slack.
		if took, bound := time.Since(start), timeout+200*time.Millisecond; took > bound {
			t.Fatalf("a miss took %v with a slow Redis, want at most %v (one timeout for the read phase)", took, bound)
		}
	})
}

// Issue 8 item 15: callers that joined a load get its value before the
// write to Redis, which they do not wait for. (A caller joins a load that
// began before it only when it saw what that load's leader saw under the
// key: here both see an entry they cannot use. One that saw nothing waits
// for a load that begins after it: see flight_late_test.go.)
func TestWaitersDoNotWaitForTheWrite(t *testing.T) {
	eachRaceTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		h := newHookDriver(d)
		m := core.New(core.WithDriver(h), core.WithPrefix(uniquePrefix(t)), core.WithTimeout(testTimeout))
		t.Cleanup(func() { m.Close() })
		started := make(chan struct{}, 1)
		get := core.Memoize(m, "waiters", func(_ context.Context, k int) (int, error) {
			started <- struct{}{}
			time.Sleep(300 * time.Millisecond) // long enough for the second caller to join
			return k, nil
		})
		get.Get(ctx, 0)
		<-started
		key, _ := get.Key(1)
		if err := d.Set(ctx, key, []byte("not an entry"), time.Minute); err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		h.setBefore(func(_ context.Context, op, k string) error {
			if k == key && (op == "setnx" || op == "eval" || op == "set") {
				<-release // Redis takes its time to write
			}
			return nil
		})
		defer close(release)
		leader := make(chan error, 1)
		go func() { _, err := get.Get(ctx, 1); leader <- err }()
		<-started
		waiter := make(chan int, 1)
		go func() { v, _ := get.Get(ctx, 1); waiter <- v }()
		select {
		case v := <-waiter:
			if v != 1 {
				t.Fatalf("waiter = %d", v)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a caller that joined the load waited for the write")
		}
	})
}

// v1Entry encodes an entry as the previous release did (format version
// 1): the CRC covers the bytes after the header only.
func v1Entry(flags, codecID byte, gen uint64, soft time.Time, payload []byte) []byte {
	b := []byte{0xC5, 1, flags, codecID, 0, 0, 0, 0}
	b = binary.AppendUvarint(b, gen)
	if flags&0x04 != 0 {
		b = binary.BigEndian.AppendUint64(b, uint64(soft.UnixMilli()))
	}
	b = append(b, payload...)
	binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(b[8:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
