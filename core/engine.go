package core

import (
	"hash/maphash"
	"sync/atomic"
	"weak"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
)

// engine is the memoizer behind Memo, Memo0 and Memo2: everything but the
// encoding of the arguments.
type engine[V any] struct {
	m         *Manager
	cfg       config
	deadlines *deadlines
	name      string
	base      []byte // "<prefix>:<name>:"
	genKey    string
	codecID   byte
	compress  bool

	gens genStates // per driver: generation and flights
	tags *tagSet   // WithTags (tags.go); nil without tags
	// callTagged is set once a call gave tags of its own: a tag
	// invalidation from another process then drops every near value.
	callTagged atomic.Bool
	tagSets    tagSetCache   // the tag sets of calls with Tags
	near       *nearCache[V] // nil without WithNearCache
	// stored holds, per slot of keys, when a load last stored a value:
	// a flight leader looks at the cache again only if a load stored into
	// its slot after its caller read the cache (see loadAndStore).
	stored [storedSlots]atomic.Int64
	seed   maphash.Seed
	// stats are this function's alone (Memo.Stats); the Manager counts
	// them too. They are apart from the engine: the Manager's record of
	// the function holds them without keeping the engine alive.
	stats *counters
	// retries are the keys whose load failed while an expired value was
	// served instead, until their next load may run (failsafe.go).
	retries retryThrottle
}

const storedSlots = 64

func (e *engine[V]) storedSlot(key string) *atomic.Int64 {
	return &e.stored[maphash.String(e.seed, key)%storedSlots]
}

func newEngine[V any](m *Manager, name string, opts []Option) *engine[V] {
	if m == nil {
		panic("redcache: Memoize with a nil Manager")
	}
	if err := checkName(name); err != nil {
		panic(err)
	}
	e := &engine[V]{m: m, cfg: m.cfg, name: name, seed: maphash.MakeSeed(), stats: new(counters)}
	applyOptions(&e.cfg, opts)
	e.cfg.hooks.stats = e.stats
	e.deadlines = m.deadlines
	if e.cfg.timeout != m.cfg.timeout {
		e.deadlines = newDeadlines(e.cfg.timeout)
	}
	e.base = []byte(e.cfg.prefix + ":" + name + ":")
	e.genKey = generationKey(e.cfg.prefix, name)
	e.tags = m.tagRefs(e.cfg.prefix, e.cfg.tags, 0, true)
	w := weakEngine[V]{weak.Make(e)}
	m.register(e.cfg.prefix+":"+name, w)
	if e.cfg.nearSize > 0 {
		e.near = newNearCacheBytes[V](e.cfg.nearSize, e.cfg.nearTTL, e.cfg.nearBytes)
		m.near.add(w)
	}
	if e.cfg.beforeSave == nil && e.cfg.afterLoad == nil {
		// The codec ID is recorded only when the codec does both steps,
		// so that entries of another codec read as foreign.
		e.codecID, _ = codec.ID(e.cfg.codec)
		e.compress = e.codecID&0x80 != 0
	}
	return e
}

// weakEngine is how the Manager reaches an engine, for invalidations,
// without keeping it alive after the program dropped its Memo.
type weakEngine[V any] struct{ p weak.Pointer[engine[V]] }

func (w weakEngine[V]) alive() bool { return w.p.Value() != nil }

func (w weakEngine[V]) adoptGeneration(d conn.Driver, gen uint64) {
	if e := w.p.Value(); e != nil {
		e.adoptGeneration(d, gen)
	}
}

func (w weakEngine[V]) generationChanged() {
	if e := w.p.Value(); e != nil {
		e.generationChanged()
	}
}

func (w weakEngine[V]) dropKey(key string) {
	if e := w.p.Value(); e != nil {
		e.dropKey(key)
	}
}

func (w weakEngine[V]) dropAll() {
	if e := w.p.Value(); e != nil {
		e.dropAll()
	}
}

func (e *engine[V]) dropKey(key string) {
	if e.near != nil {
		e.near.drop(key)
	}
}

func (e *engine[V]) dropAll() {
	if e.near != nil {
		e.near.clear()
	}
}
