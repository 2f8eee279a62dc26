package core

import (
	"context"
	"time"
)

// Loader-chosen options. A loader knows things about the value it
// returns that its caller does not: that a result is empty (and should
// be kept briefly), that a record is immutable (and may be kept long),
// or that this one must not be cached at all. SetTTL and DontCache tell
// the cache from inside the loader, through its context: a call that
// loads puts a small holder in its loader's context (a few allocations
// per load, none on a hit), which the flight's store reads once the
// loader returned: the holder is the leader's, whose loader runs.
//
// Loader-chosen tags are not offered, on purpose. A tagged value's
// generation is a hash of its tags' generations (tags.go), and a reader
// computes the generation it expects from the tags it knows before it
// reads: the function's and the call's. Tags chosen by the loader are
// known only after the load, so no reader could compute the generation
// of the entry they produce: the entry would read as a miss on every
// call, or, if readers ignored the tags, a tag invalidation would not
// reach it. Making that sound needs the tag names stored in the entry and
// the reader resolving them after the read; until then, tag values with
// [WithTags] or the call's [Tags].

// loadSettings is what a loader chose for the value it returns.
type loadSettings struct {
	ttl       time.Duration
	ttlSet    bool
	dontCache bool
}

type loadSettingsKey struct{}

// loaderContext is a loader's context with its settings' holder.
type loaderContext struct {
	context.Context
	s *loadSettings
}

func (c *loaderContext) Value(key any) any {
	if key == (loadSettingsKey{}) {
		return c.s
	}
	return c.Context.Value(key)
}

func settingsOf(ctx context.Context) *loadSettings {
	s, _ := ctx.Value(loadSettingsKey{}).(*loadSettings)
	return s
}

// SetTTL, called by a loader with the context it was given, stores the
// value the loader returns for ttl instead of the TTL the call would
// have used ([TTL], [WithTTL]): a short TTL for an empty result, a long
// one for an immutable record. As with [TTL], 0 keeps the value until it
// is invalidated or evicted (use [DontCache] to store nothing), a
// negative ttl is 0, [WithJitter] spreads it, and the stale-while-
// revalidate and fail-safe windows are added to it. The last call wins.
//
// Call it on the loader's goroutine, before the loader returns. It
// reports whether ctx is the context of a load whose result the cache
// may store; called with any other context (or when the call skips the
// cache) it does nothing and returns false. It does not change a cached
// error's TTL ([WithNegativeCaching]).
func SetTTL(ctx context.Context, ttl time.Duration) bool {
	s := settingsOf(ctx)
	if s == nil {
		return false
	}
	s.ttl, s.ttlSet = max(ttl, 0), true
	return true
}

// DontCache, called by a loader with the context it was given, keeps the
// value (or error) the loader returns out of the cache: the callers of
// this load get it, and the next call loads again. What the key held
// before is left as it was. Call it on the loader's goroutine, before the
// loader returns. It reports whether ctx is the context of a
// load whose result the cache may store; with any other context it does
// nothing and returns false.
func DontCache(ctx context.Context) bool {
	s := settingsOf(ctx)
	if s == nil {
		return false
	}
	s.dontCache = true
	return true
}

// dropped reports whether the loader said DontCache; s may be nil.
func (s *loadSettings) dropped() bool { return s != nil && s.dontCache }

// settable returns load with a holder for the loader's settings in its
// context, the holder recorded in p.cc.chosen, where the flight's store
// reads it (entryFor, store). A call that cannot store gets load as is.
func (e *engine[V]) settable(p *pending, load func(context.Context) (V, error)) func(context.Context) (V, error) {
	if p.st == nil || (!p.store && !p.stale) {
		return load
	}
	s := new(loadSettings)
	p.cc.chosen = s
	return func(ctx context.Context) (V, error) {
		return load(&loaderContext{Context: ctx, s: s})
	}
}
