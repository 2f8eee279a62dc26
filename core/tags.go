package core

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/conn"
)

// Tags. A tag names a group of values across functions ("table users",
// "path /blog/"), so that one call makes them all unreachable. Each tag
// has a generation of its own under the function's prefix, kept, read,
// cached and bumped exactly as a function's generation is (generation.go):
// created from the clock when missing, moved on by the bump script,
// adopted only forward, re-read by one caller per refresh interval, and
// announced on the invalidation channel when it moves.
//
// A tagged value's generation is a hash of its function's generation
// and of the generations of every tag it carries (see mixGeneration):
// when any of them moves, the hash changes, and an entry written before
// a tag was invalidated reads as a miss for a reader that knows the new
// tag generation. A hash has no order, so an entry whose generation is
// not the reader's makes the reader re-read every part once (one
// pipeline) before it calls it a miss: the entry may be newer than what
// the reader knows. Nothing about tags is written into the entry or the
// key: the entry's generation field holds the hash, and the key does not
// change, so Invalidate and Set reach a tagged value by its arguments
// alone. The hash is computed from the cached generations, so a hit
// reads no tag key; the fence that keeps a load from storing after an
// InvalidateAll (the generation read again before the store) reads the
// tags' generations too, so a load in flight when one of its tags is
// invalidated does not store its value.

// tagRef is one tag under one prefix: its generation key, and what this
// process knows of that generation on each Redis.
type tagRef struct {
	key  string
	gens genStates
	used atomic.Int64 // unix nanoseconds of its last use, or tagDropped, tagPinned (tagregistry.go)
}

// tagKey is the generation key of tag under prefix:
// "<prefix>::tag:<tag>". No function key starts with "<prefix>::" (a
// function name is never empty), and braces in the tag are escaped as in
// arguments, so that a tag never becomes a cluster hash tag: each tag's
// generation lives on the slot its name hashes to.
func tagKey(prefix, tag string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len("::tag:") + len(tag))
	b.WriteString(prefix)
	b.WriteString("::tag:")
	for i := 0; i < len(tag); i++ {
		switch c := tag[i]; c {
		case '{':
			b.WriteString(`\(`)
		case '}':
			b.WriteString(`\)`)
		case '\\':
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// tagMessage announces on the invalidation channel that the generation
// under a tag key moved on.
func tagMessage(sender, key string) string { return "t " + sender + " " + key }

// normalizeTags returns the tags sorted, without duplicates or empty
// strings, in a new slice (nil when none is left).
func normalizeTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if t != "" {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// WithTags makes every value of the function carry tags (given to [New],
// every value of every function of the Manager): [Manager.InvalidateTag]
// with any of them makes the value unreachable. Tags add up: a function
// carries its Manager's tags and its own, and a call's [Tags] add to
// both. Empty strings are ignored.
//
// A tag costs a Redis key under the function's prefix, read once per
// generation refresh interval ([WithGenerationRefresh]) by one call of
// the process, and once more before a loaded value is stored; a hit
// reads none.
func WithTags(tags ...string) Option {
	return option(func(c *config) {
		c.tags = normalizeTags(append(slices.Clone(c.tags), tags...))
	})
}

// Tags makes the value this call stores (or that Set writes) carry tags,
// in addition to those of [WithTags]. A call reads with the same tags:
// an entry whose tags were invalidated is a miss. Give a key the same
// tags on every call: an entry written with other tags reads as a miss
// (and is loaded again), never as another value.
func Tags(tags ...string) CallOption {
	// Clipped, so that a second Tags appends to a copy: a call with one
	// Tags option, the usual case, allocates nothing for it.
	tags = slices.Clip(tags)
	return callOption(func(c *callConfig) {
		if c.tags == nil {
			c.tags = tags
			return
		}
		c.tags = append(c.tags, tags...)
	})
}

// tagSet is the tags of a value: their records, and a fingerprint of
// the set that starts the value's generation (see mixGeneration), so
// that an entry written with other tags never has the generation a
// reader computes.
type tagSet struct {
	refs []*tagRef
	salt uint64
}

// mixGeneration folds one generation into a tagged value's generation. A
// tagged value's generation is a hash of the sequence of the function's
// generation and its tags' generations (in the order of their keys),
// started from the tag set's fingerprint: mixGeneration(...
// mixGeneration(salt, function), tag1 ..., tagN). It is a bijection of h
// for a given g and of g for a given h, so two vectors that differ in
// one place always differ, and two that differ in several collide only
// by chance (1 in 2^64). A sum would not do: a process that knows one
// tag's new generation and another's old one can compute the sum of an
// entry written with the opposite knowledge.
func mixGeneration(h, g uint64) uint64 {
	h = (h ^ g) * 0x9e3779b97f4a7c15
	h ^= h >> 32
	h *= 0xd6e8feb86659fd93
	h ^= h >> 32
	return h
}

// tagRefs returns the tag set of tags (normalized) under prefix, nil when
// there is none, its records stamped as used at now, or pinned.
func (m *Manager) tagRefs(prefix string, tags []string, now int64, pin bool) *tagSet {
	if len(tags) == 0 {
		return nil
	}
	ts := &tagSet{refs: make([]*tagRef, len(tags))}
	h := fnv.New64a()
	for i, t := range tags {
		ts.refs[i] = m.tagRef(prefix, t, now, pin)
		h.Write([]byte(ts.refs[i].key))
		h.Write([]byte{0})
	}
	ts.salt = h.Sum64()
	return ts
}

// tagsFor returns the tags of a call: the function's, plus the call's own.
// A tag set kept from an earlier call is resolved again when one of its
// records was dropped (see tagregistry.go).
func (e *engine[V]) tagsFor(cc *callConfig) *tagSet {
	if len(cc.tags) == 0 {
		return e.tags
	}
	if !e.callTagged.Load() {
		e.callTagged.Store(true)
	}
	var buf [256]byte
	k := buf[:0]
	for _, t := range cc.tags {
		k = append(append(k, t...), 0)
	}
	now := cc.since
	if now == 0 {
		now = time.Now().UnixNano()
	}
	_, grain := e.m.tagTiming()
	if ts := e.tagSets.get(k); ts != nil && ts.live(now, grain) {
		return ts
	}
	ts := e.m.tagRefs(e.cfg.prefix, normalizeTags(append(slices.Clone(e.cfg.tags), cc.tags...)), now, false)
	e.tagSets.put(string(k), ts)
	return ts
}

// tagSetCache keeps the tag sets of a function's calls by the tags as
// the calls give them, so that a call with the tags of an earlier one
// resolves them without allocating. It is bounded: past maxTagSets sets,
// new ones are resolved on every call.
type tagSetCache struct {
	mu sync.RWMutex
	m  map[string]*tagSet
}

const maxTagSets = 4096

func (c *tagSetCache) get(k []byte) *tagSet {
	c.mu.RLock()
	ts := c.m[string(k)] // no allocation: the compiler looks the bytes up in place
	c.mu.RUnlock()
	return ts
}

func (c *tagSetCache) put(k string, ts *tagSet) {
	if ts == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*tagSet)
	}
	if _, ok := c.m[k]; ok || len(c.m) < maxTagSets {
		c.m[k] = ts // a set resolved again replaces the one with a dropped record
	}
}

// knownGeneration is the generation of a value with tags on d as this
// process knows it, without asking Redis.
func knownGeneration(d conn.Driver, st *genState, tags *tagSet) uint64 {
	gen := st.gen.Load()
	if tags == nil {
		return gen
	}
	gen = mixGeneration(tags.salt, gen)
	for _, t := range tags.refs {
		gen = mixGeneration(gen, t.gens.of(d).gen.Load())
	}
	return gen
}

// recentRead is how recent a read of every part of a tagged value's
// generation must be for a call not to read them again when it meets an
// entry of other generations: right after an InvalidateTag, every key's
// first read meets one, and each would cost a pipeline. An entry that
// is really newer than what the process knows (another process
// invalidated and stored since) costs a load instead, whose store check
// learns the new generations for every later call of the process.
const recentRead = time.Second

// readRecently reports whether every part of a tagged value's generation
// was read from Redis (or bumped by this process) within recentRead.
func readRecently(d conn.Driver, st *genState, tags *tagSet, now int64) bool {
	fresh := func(s *genState) bool {
		seen := s.seen.Load()
		return seen > 1 && now-seen < int64(recentRead)
	}
	if !fresh(st) {
		return false
	}
	for _, t := range tags.refs {
		if !fresh(t.gens.of(d)) {
			return false
		}
	}
	return true
}

// fullGeneration is [engine.generation] for a value with tags: the
// function's generation and its tags' mixed (see mixGeneration), each
// read, cached and failing open as the function's is. A tag generation
// never read that cannot be read fails the call's lookup, which then
// loads without storing.
func (e *engine[V]) fullGeneration(ctx, rctx context.Context, d conn.Driver, b *breaker, st *genState, tags *tagSet, now int64, force bool) (uint64, error) {
	if force && tags != nil && readRecently(d, st, tags, now) {
		force = false
	}
	if tags != nil && e.prefetch(ctx, rctx, d, st, tags.refs, now, force) {
		force = false // every part was just read from Redis
	}
	gen, err := e.generation(ctx, rctx, d, b, st, now, force)
	if err != nil || tags == nil {
		return gen, err
	}
	gen = mixGeneration(tags.salt, gen)
	for _, t := range tags.refs {
		tg, err := e.generationAt(ctx, rctx, d, b, t.gens.of(d), t.key, now, force)
		if err != nil {
			return 0, err
		}
		gen = mixGeneration(gen, tg)
	}
	return gen, nil
}

// prefetch reads, in one pipeline, the generations of a call that are
// due for a read (never read, stale, or past the refresh interval), when
// more than one is: a cold call, or the call that refreshes a function
// and its tags, whose generations all turn due together, costs one round
// trip (one per node on a cluster, in parallel) instead of one per
// generation. It claims each read as [engine.generationAt] does, so that
// only one caller reads each, and leaves the generations it did not read
// (claimed by another caller, failed, behind a breaker that is not
// closed) to generationAt, which goes on as without it. It reports
// whether it read every part, the function's and each tag's.
func (e *engine[V]) prefetch(ctx, rctx context.Context, d conn.Driver, st *genState, tags []*tagRef, now int64, force bool) (all bool) {
	type part struct {
		st   *genState
		key  string
		seen int64
		gb   *breaker
		done func()
	}
	var buf [8]part
	parts := buf[:0]
	consider := func(s *genState, key string) {
		seen := s.seen.Load()
		if !force && seen > 1 && now-seen < int64(e.cfg.genRefresh) {
			return
		}
		if r := s.retry.Load(); seen != 0 && r != 0 && now < r {
			return
		}
		parts = append(parts, part{st: s, key: key, seen: seen})
	}
	consider(st, e.genKey)
	for _, t := range tags {
		consider(t.gens.of(d), t.key)
	}
	if len(parts) < 2 {
		return false
	}
	for i := range parts {
		gb := e.m.breakerForKey(&e.cfg, d, parts[i].key)
		if gb != nil && BreakerState(gb.state.Load()) != BreakerClosed {
			return false // the breakers' probes are generationAt's to make
		}
		parts[i].gb = gb
	}
	claimed := parts[:0]
	for _, p := range parts {
		if p.seen == 0 {
			wait, done := p.st.firstRead()
			if wait != nil {
				continue // another caller reads it: generationAt waits for it
			}
			if p.st.seen.Load() != 0 {
				done()
				continue
			}
			p.done = done
		} else if !p.st.seen.CompareAndSwap(p.seen, now) {
			continue // another caller is re-reading it
		}
		claimed = append(claimed, p)
	}
	if len(claimed) == 0 {
		return false
	}
	all = len(claimed) == len(tags)+1
	cmds := make([]*conn.Cmd, len(claimed))
	for i, p := range claimed {
		cmds[i] = conn.NewCmd("GET", p.key)
	}
	sctx, step := e.redisStart(rctx, OpGeneration, claimed[0].key)
	perr := d.Pipeline(sctx, cmds...)
	step.end(perr)
	for i, p := range claimed {
		err := perr
		if err == nil {
			err = cmds[i].Err
		}
		var gen uint64
		switch {
		case err == nil && cmds[i].Reply != nil:
			gen = e.parseGeneration(ctx, d, p.key, cmds[i].Reply)
			p.gb.success()
		case err == nil || errors.Is(err, conn.ErrMiss):
			// Missing: created from the clock; trouble is reported there.
			gen, err = e.readGenerationAt(ctx, rctx, d, p.gb, p.st, p.key)
		case perr == nil || i == 0:
			// Reported once for a pipeline that failed as a whole.
			e.m.redisResult(ctx, &e.cfg, d, p.gb, OpGeneration, e.name, p.key, err)
		}
		if err != nil {
			all = false
			if p.seen != 0 {
				// As generationAt: the last generation read goes on, and
				// the next read waits for the retry interval.
				p.st.retry.Store(time.Now().UnixNano() + int64(max(min(e.cfg.genRefresh, time.Second), 50*time.Millisecond)))
				p.st.seen.CompareAndSwap(now, 1)
			}
		} else {
			p.st.adopt(gen, now)
		}
		if p.done != nil {
			p.done() // a first read that failed is tried again by generationAt
		}
	}
	return all
}

// parseGeneration reads a generation from a pipeline's reply. As in
// readGeneration, a value that is not a number is reported and read as 0
// (the next bump replaces it).
func (e *engine[V]) parseGeneration(ctx context.Context, d conn.Driver, key string, reply any) uint64 {
	var gen uint64
	var err error
	switch r := reply.(type) {
	case string:
		gen, err = strconv.ParseUint(r, 10, 64)
	case []byte:
		gen, err = strconv.ParseUint(string(r), 10, 64)
	default:
		err = fmt.Errorf("a %T", r)
	}
	if err != nil {
		e.m.report(ctx, &e.cfg, d, OpGeneration, e.name, key,
			fmt.Errorf("%w: generation %v is not a number", ErrCorruptEntry, reply))
		return 0
	}
	return gen
}

// readGenerations reads the generation of a value with tags from Redis,
// not from what this process knows, adopting each part: the check before
// a store. The function's and the tags' generation keys are read in one
// pipeline (one round trip per node on a cluster, where each key lives on
// the slot its name hashes to); a missing one is created from the clock.
func (e *engine[V]) readGenerations(ctx, rctx context.Context, d conn.Driver, b *breaker, st *genState, set *tagSet, now int64) (uint64, error) {
	if set == nil {
		gen, err := e.readGeneration(ctx, rctx, d, b, st)
		if err != nil {
			st.stale()
			return 0, err
		}
		st.adopt(gen, now)
		return gen, nil
	}
	tags := set.refs
	keys := make([]string, 0, len(tags)+1)
	states := make([]*genState, 0, len(tags)+1)
	keys, states = append(keys, e.genKey), append(states, st)
	for _, t := range tags {
		keys, states = append(keys, t.key), append(states, t.gens.of(d))
	}
	cmds := make([]*conn.Cmd, len(keys))
	for i, k := range keys {
		cmds[i] = conn.NewCmd("GET", k)
	}
	fail := func(key string, err error) (uint64, error) {
		for _, s := range states {
			s.stale()
		}
		e.m.redisResult(ctx, &e.cfg, d, b, OpGeneration, e.name, key, err)
		return 0, &Error{Op: OpGeneration, Name: e.name, Key: key, Err: err}
	}
	if err := d.Pipeline(rctx, cmds...); err != nil {
		return fail(e.genKey, err)
	}
	sum := set.salt
	for i, c := range cmds {
		var gen uint64
		switch {
		case errors.Is(c.Err, conn.ErrMiss) || (c.Err == nil && c.Reply == nil):
			var err error
			if gen, err = e.readGenerationAt(ctx, rctx, d, b, states[i], keys[i]); err != nil {
				for _, s := range states {
					s.stale()
				}
				return 0, err
			}
		case c.Err != nil:
			return fail(keys[i], c.Err)
		default:
			gen = e.parseGeneration(ctx, d, keys[i], c.Reply)
		}
		states[i].adopt(gen, now)
		sum = mixGeneration(sum, gen)
	}
	b.success()
	return sum, nil
}

// InvalidateTag makes every value that carries any of tags unreachable,
// in every function of the Manager's prefix, at once: each tag's
// generation is moved on, one O(1) command per tag, safe on a cluster;
// no entry is listed, scanned or deleted. Values written before read as
// misses and are loaded again; a load that was in flight does not store
// its value. Empty tags are ignored.
//
// The calling process sees it at once. Other processes see it at once
// for their near caches and cached tag generations when they keep a
// near cache (the invalidation channel carries it), and otherwise within
// their generation refresh interval ([WithGenerationRefresh]), as for
// [Manager.InvalidateAll].
//
// Like InvalidateAll, it also reaches the live functions memoized with
// this Manager under a prefix or a driver of their own. The error joins
// those of every tag generation that could not be moved on.
func (m *Manager) InvalidateTag(ctx context.Context, tags ...string) error {
	tags = normalizeTags(tags)
	if len(tags) == 0 {
		return nil
	}
	type target struct {
		prefix string
		d      conn.Driver
	}
	seen := map[target]bool{}
	var cfgs []*config
	add := func(c *config) {
		if c.driver != nil && !reflect.TypeOf(c.driver).Comparable() {
			cfgs = append(cfgs, c)
			return
		}
		if t := (target{c.prefix, c.driver}); !seen[t] {
			seen[t] = true
			cfgs = append(cfgs, c)
		}
	}
	add(&m.cfg)
	m.mu.Lock()
	for name, fs := range m.funcs {
		live := liveFuncs(fs)
		m.funcs[name] = live
		for _, f := range live {
			add(f.cfg)
		}
	}
	m.mu.Unlock()
	var errs []error
	for _, c := range cfgs {
		for _, tag := range tags {
			if err := m.bumpTag(ctx, c, tag); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// bumpTag moves tag's generation on under cfg's prefix and driver, adopts
// it in this process and announces it.
func (m *Manager) bumpTag(ctx context.Context, cfg *config, tag string) error {
	d, err := conn.Resolve(ctx, cfg.driver)
	if err != nil {
		return &Error{Op: OpResolve, Err: err}
	}
	ref := m.tagRef(cfg.prefix, tag, time.Now().UnixNano(), false)
	bctx, cancel := m.deadlinesOf(cfg).bound(ctx, time.Now().UnixNano())
	defer cancel()
	bctx, step := startRedis(bctx, cfg, OpGeneration, "", ref.key)
	n, err := bumpGenerationKey(bctx, d, ref.key, m.cfg.tagKeyTTLOrNone())
	step.end(err)
	if err != nil {
		return &Error{Op: OpGeneration, Key: ref.key, Err: err}
	}
	now := time.Now().UnixNano()
	ref.gens.of(d).adopt(n, now)
	if ref.used.Load() == tagDropped {
		// Dropped while the bump ran: the record that replaced it may
		// have read the generation before the bump, and must know it now.
		m.tagRef(cfg.prefix, tag, now, false).gens.of(d).adopt(n, now)
	}
	m.publish(ctx, cfg, d, tagMessage(m.near.id, ref.key))
	return nil
}

// tagChanged is told by the subscription that another process moved the
// generation under a tag key on: re-read it on the next call, and drop
// the near values that may carry it at once.
func (m *Manager) tagChanged(key string) {
	if r := m.liveTagRef(key); r != nil {
		r.gens.each((*genState).stale)
	}
	m.near.each(func(c invalidator) {
		if t, ok := c.(interface{ dropTagged(key string) }); ok {
			t.dropTagged(key)
		}
	})
}

// releaseTags drops what the tags keep for d, once the Manager found d
// unused (see forgetDriver).
func (m *Manager) releaseTags(d conn.Driver) {
	m.tags.each(func(r *tagRef) { r.gens.release(d) })
}

// tagsStale makes every tag generation be re-read: messages may have
// been lost.
func (m *Manager) tagsStale() {
	m.tags.each(func(r *tagRef) { r.gens.each((*genState).stale) })
}

func (w weakEngine[V]) dropTagged(key string) {
	if e := w.p.Value(); e != nil {
		e.dropTagged(key)
	}
}

// dropTagged drops the near values that may carry the tag under key:
// all of them when a call gave tags of its own, else when the function's
// tags include it.
func (e *engine[V]) dropTagged(key string) {
	if e.near == nil {
		return
	}
	if e.callTagged.Load() {
		e.near.clear()
		return
	}
	if e.tags == nil {
		return
	}
	for _, t := range e.tags.refs {
		if t.key == key {
			e.near.clear()
			return
		}
	}
}

// InvalidateTag makes every value carrying any of tags unreachable; see
// [Manager.InvalidateTag], which it calls on the function's Manager.
func (c *Memo[A, V]) InvalidateTag(ctx context.Context, tags ...string) error {
	return c.e.m.InvalidateTag(ctx, tags...)
}

// InvalidateTag makes every value carrying any of tags unreachable; see
// [Manager.InvalidateTag], which it calls on the function's Manager.
func (c *Memo0[V]) InvalidateTag(ctx context.Context, tags ...string) error {
	return c.e.m.InvalidateTag(ctx, tags...)
}

// InvalidateTag makes every value carrying any of tags unreachable; see
// [Manager.InvalidateTag], which it calls on the function's Manager.
func (c *Memo2[A, B, V]) InvalidateTag(ctx context.Context, tags ...string) error {
	return c.e.m.InvalidateTag(ctx, tags...)
}

// defaultTagKeyTTL is how long a tag's generation key lives in Redis
// after it was created or last bumped, without WithTagKeyTTL.
const defaultTagKeyTTL = 30 * 24 * time.Hour

// WithTagKeyTTL sets how long a tag's generation key ("<prefix>::tag:<tag>")
// lives in Redis after it was created or last moved on by
// [Manager.InvalidateTag] (30 days by default; 0 keeps it for ever, as
// function generation keys are). A site that tags every response with its
// path (the gin adapter tags each with its path prefixes) meets millions
// of tags; without a TTL each would leave a key behind for ever.
//
// An expiry never makes an invalidated value a hit again: a missing tag
// key is created from the clock (microseconds), which is larger than any
// generation the key held, since each bump adds one and bumps never run
// ahead of microseconds; the generation a value was written under is then
// never met again and the value is a miss. The cost is one miss per
// tagged value read after an idle tag's key expired. A negative d is
// treated as 0. It is a [ManagerOption] only, given to [New].
func WithTagKeyTTL(d time.Duration) ManagerOption {
	return managerOption(func(c *config) {
		if d <= 0 {
			c.tagKeyTTL = -1
			return
		}
		c.tagKeyTTL = d
	})
}

// tagKeyTTLOrNone returns the TTL of tag generation keys: 0 for none.
func (c *config) tagKeyTTLOrNone() time.Duration {
	switch {
	case c.tagKeyTTL == 0:
		return defaultTagKeyTTL
	case c.tagKeyTTL < 0:
		return 0
	}
	return c.tagKeyTTL
}

// generationKeyTTL returns the TTL a generation key is created with: none
// for the function's own key, the Manager's tag key TTL for a tag's (the
// only other keys an engine reads generations from).
func (e *engine[V]) generationKeyTTL(genKey string) time.Duration {
	if genKey == e.genKey {
		return 0
	}
	return e.m.cfg.tagKeyTTLOrNone()
}
