package paginate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redcache/redcache/conn"
)

// family is what List and Sorted share: the keys of one list, its item
// encoding, and the versioned structure under them.
type family[T any] struct {
	cfg   config
	keys  keys
	items itemCodec[T]
	id    func(T) string
	// resolve, when set, picks the driver of each call instead of
	// cfg.driver: a memoized list's is its core function's (Memo.Driver),
	// so that the list lives in the Redis its entry does.
	resolve func(context.Context) (conn.Driver, error)
}

func newFamily[T any](name string, id func(T) string, opts []Option) (*family[T], error) {
	if id == nil {
		return nil, badArg("nil id function")
	}
	cfg := defaultConfig()
	cfg.apply(opts)
	k, err := newKeys(cfg.prefix, name)
	if err != nil {
		return nil, err
	}
	return &family[T]{cfg: cfg, keys: k, items: newItemCodec[T](cfg.codec, k.id), id: id}, nil
}

func (f *family[T]) driver(ctx context.Context) (conn.Driver, error) {
	if f.resolve != nil {
		return f.resolve(ctx)
	}
	return conn.Resolve(ctx, f.cfg.driver)
}

// entry is one item to write, with its score (a List's position), and
// its id when the caller knows it already (else the id function's).
type entry[T any] struct {
	item  T
	score float64
	id    string
}

// replaceChunk is how many items go into one ZADD and one HSET, and
// replaceBatch how many bytes of items one pipeline carries at most: a
// Replace of 100,000 items is a few pipelines of a few hundred commands.
const (
	replaceChunk = 1000
	replaceBatch = 8 << 20
	stagingTTL   = 10 * time.Minute
)

// replace builds a new version under fresh keys, pipelined, then switches
// the pointer to it in one script.
func (f *family[T]) replace(ctx context.Context, entries []entry[T], ttl time.Duration) error {
	_, err := f.replacePointer(ctx, entries, ttl)
	return err
}

// replacePointer is replace, returning the new pointer.
func (f *family[T]) replacePointer(ctx context.Context, entries []entry[T], ttl time.Duration) (string, error) {
	ms, err := conn.Milliseconds(ttl)
	if err != nil {
		return "", fmt.Errorf("redcache/paginate: %w", err)
	}
	ids := make([]string, len(entries))
	vals := make([]string, len(entries))
	seen := make(map[string]struct{}, len(entries))
	for i, e := range entries {
		if math.IsNaN(e.score) || math.IsInf(e.score, 0) {
			return "", badArg("item %d: score %v (NaN and infinities are refused)", i, e.score)
		}
		if ids[i] = e.id; f.id != nil {
			ids[i] = f.id(e.item)
		}
		if _, dup := seen[ids[i]]; dup {
			return "", badArg("item %d: id %q given twice", i, ids[i])
		}
		seen[ids[i]] = struct{}{}
		if vals[i], err = f.items.encode(e.item); err != nil {
			return "", err
		}
	}
	d, err := f.driver(ctx)
	if err != nil {
		return "", err
	}
	ptr := newPointer()
	vk := f.keys.version(ptr[:16])
	z, h := vk+":z", vk+":h"
	// drop deletes the staging keys of a Replace that failed, even when
	// ctx is what failed, within a bound of its own.
	drop := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_, _ = d.Del(dctx, z, h)
	}
	var cmds []*conn.Cmd
	size := 0
	flush := func() error {
		if len(cmds) == 0 {
			return nil
		}
		err := d.Pipeline(ctx, cmds...)
		for _, c := range cmds {
			err = errors.Join(err, c.Err)
		}
		cmds, size = cmds[:0], 0
		return err
	}
	for start := 0; start < len(entries); start += replaceChunk {
		end := min(start+replaceChunk, len(entries))
		zadd := make([]any, 0, 2+2*(end-start))
		hset := make([]any, 0, 2+2*(end-start))
		zadd = append(zadd, "ZADD", z)
		hset = append(hset, "HSET", h)
		for i := start; i < end; i++ {
			zadd = append(zadd, formatScore(entries[i].score), ids[i])
			hset = append(hset, ids[i], vals[i])
			size += len(vals[i]) + len(ids[i])
		}
		cmds = append(cmds, conn.NewCmd(zadd...), conn.NewCmd(hset...))
		if start == 0 {
			// Staging keys expire on their own if this process dies
			// before the switch; the switch sets the list's ttl.
			cmds = append(cmds, conn.NewCmd("PEXPIRE", z, stagingTTL), conn.NewCmd("PEXPIRE", h, stagingTTL))
		}
		if size >= replaceBatch {
			if err := flush(); err != nil {
				drop()
				return "", fmt.Errorf("%w: %w", ErrIncomplete, err)
			}
		}
	}
	if err := flush(); err != nil {
		drop()
		return "", fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	_, err = d.Eval(ctx, switchScript, []string{f.keys.ptr}, f.keys.base, ptr, ms, len(entries))
	if conn.IsReplyError(err, "PAGINATEINCOMPLETE") {
		return "", fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	if err != nil {
		return "", err
	}
	return ptr, nil
}

// formatScore formats a score as Redis reads it back, exactly.
func formatScore(score float64) string {
	return strconv.FormatFloat(score, 'g', -1, 64)
}

// newPointer returns a fresh pointer value: a random version (16 hex
// digits) and a random cursor secret (32 hex digits).
func newPointer() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// write runs one writeScript operation on the current version.
func (f *family[T]) write(ctx context.Context, op string, args ...any) (int64, error) {
	d, err := f.driver(ctx)
	if err != nil {
		return 0, err
	}
	r, err := d.Eval(ctx, writeScript, []string{f.keys.ptr}, append([]any{f.keys.base, op}, args...)...)
	if errors.Is(err, conn.ErrMiss) {
		return 0, ErrMiss
	}
	if err != nil {
		return 0, err
	}
	n, ok := r.(int64)
	if !ok {
		return 0, fmt.Errorf("redcache/paginate: unexpected reply %T", r)
	}
	return n, nil
}

// encodeAll returns id, item pairs (with the score between them for add).
func (f *family[T]) encodeAll(items []T, scores []float64) ([]any, error) {
	args := make([]any, 0, 3*len(items))
	for i, it := range items {
		v, err := f.items.encode(it)
		if err != nil {
			return nil, err
		}
		args = append(args, f.id(it))
		if scores != nil {
			if math.IsNaN(scores[i]) || math.IsInf(scores[i], 0) {
				return nil, badArg("score %v (NaN and infinities are refused)", scores[i])
			}
			args = append(args, formatScore(scores[i]))
		}
		args = append(args, v)
	}
	return args, nil
}

func (f *family[T]) length(ctx context.Context) (int, error) {
	d, err := f.driver(ctx)
	if err != nil {
		return 0, err
	}
	r, err := d.Eval(ctx, lenScript, []string{f.keys.ptr}, f.keys.base)
	if errors.Is(err, conn.ErrMiss) {
		return 0, ErrMiss
	}
	if err != nil {
		return 0, err
	}
	n, ok := r.(int64)
	if !ok {
		return 0, fmt.Errorf("redcache/paginate: unexpected reply %T", r)
	}
	return int(n), nil
}

func (f *family[T]) delete(ctx context.Context) error {
	d, err := f.driver(ctx)
	if err != nil {
		return err
	}
	_, err = d.Eval(ctx, deleteScript, []string{f.keys.ptr}, f.keys.base)
	if errors.Is(err, conn.ErrMiss) {
		return nil
	}
	return err
}

// window is what readScript returned, decoded.
type window[T any] struct {
	pointer string
	total   int
	ids     []string
	scores  []float64
	items   []T
}

// read runs readScript: version is the version the caller expects, or "".
func (f *family[T]) read(ctx context.Context, version string, args ...any) (window[T], error) {
	var w window[T]
	d, err := f.driver(ctx)
	if err != nil {
		return w, err
	}
	r, err := d.Eval(ctx, readScript, []string{f.keys.ptr}, append([]any{f.keys.base, version}, args...)...)
	if errors.Is(err, conn.ErrMiss) {
		return w, ErrMiss
	}
	if err != nil {
		return w, err
	}
	bad := func() (window[T], error) {
		return w, fmt.Errorf("redcache/paginate: unexpected reply to a page read: %v", r)
	}
	a, ok := r.([]any)
	if !ok || len(a) == 0 {
		return bad()
	}
	if w.pointer, ok = a[0].(string); !ok || len(w.pointer) != 48 {
		return bad()
	}
	if len(a) == 1 {
		return w, ErrStaleCursor
	}
	if len(a) != 5 {
		return bad()
	}
	total, ok1 := a[1].(int64)
	ids, ok2 := a[2].([]any)
	scores, ok3 := a[3].([]any)
	vals, ok4 := a[4].([]any)
	if !ok1 || !ok2 || !ok3 || !ok4 || len(ids) != len(scores) || len(ids) != len(vals) {
		// An empty Lua table is an empty array: every list has its slot.
		return bad()
	}
	w.total = int(total)
	w.ids = make([]string, len(ids))
	w.scores = make([]float64, len(ids))
	w.items = make([]T, len(ids))
	for i := range ids {
		id, ok := ids[i].(string)
		sc, _ := scores[i].(string)
		s, err := strconv.ParseFloat(sc, 64)
		if !ok || err != nil {
			return bad()
		}
		w.ids[i], w.scores[i] = id, s
		if w.items[i], err = f.items.decode(id, vals[i]); err != nil {
			return window[T]{}, err
		}
	}
	return w, nil
}

// trim keeps the first n items of a window read with one more than n, and
// reports whether there was more.
func (w *window[T]) trim(n int) bool {
	if len(w.items) <= n {
		return false
	}
	w.ids, w.scores, w.items = w.ids[:n], w.scores[:n], w.items[:n]
	return true
}
