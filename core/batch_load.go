package core

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/core/format"
)

// The batch path: GetMany reads every key of a call in one MGET, judges
// each entry as lookup does, and loads the missing ids through per-id
// flights in the function's flight group, so that the ids an overlapping
// call is fetching are taken from its load (the answer is assembled per
// id across loads). A call leads the flights of the ids nobody is
// fetching, runs the loader once for them, hands each flight its value,
// and stores the values in one pipeline, each fenced by what the read of
// its key saw, as a single load's store is (write.go).

// batchCall is one GetMany.
type batchCall[K comparable, V any] struct {
	e    *engine[V]
	fn   func(context.Context, []K) (map[K]V, error)
	cc   callConfig
	d    conn.Driver
	st   *genState
	tags *tagSet
	// bypass: the call skipped the cache; refreshed: it is a Refresh.
	bypass, refreshed bool
}

// batchItem is one distinct id of a GetMany.
type batchItem[K comparable, V any] struct {
	id  K
	key string
	p   pending
	v   V
	has bool  // v is the id's value
	err error // the id's error; ErrNotFound: the loader left it out
	// answered is set once the cache gave the id's answer.
	answered bool
	stale    bool // v is stale: refresh it in the background
	nearHit  bool // v is from the near cache
	fk       string
	c        *flightCall
	epoch    uint64 // the near cache's epoch of key before it was read
	// delivered and ended are the flight's state, for the load that leads it.
	delivered, ended bool
}

func getMany[K comparable, V any](ctx context.Context, e *engine[V], ids []K, keyOf func(K) (string, error),
	fn func(context.Context, []K) (map[K]V, error), opts []CallOption) (map[K]V, error) {
	out := make(map[K]V, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	bc := &batchCall[K, V]{e: e, fn: fn}
	if len(opts) > 0 {
		bc.cc = callOptions(opts)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	items := make([]*batchItem[K, V], 0, len(ids))
	distinct := make(map[K]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := distinct[id]; dup {
			continue
		}
		distinct[id] = struct{}{}
		key, err := keyOf(id)
		if err != nil {
			return nil, err
		}
		items = append(items, &batchItem[K, V]{id: id, key: key})
	}
	o := e.cfg.hooks.observer
	if o == nil {
		return bc.get(ctx, out, items)
	}
	// One Get for the observer: the call, under the key of its first id,
	// with the outcome of the id that cost the most.
	call := Call{Name: e.name, Key: items[0].key}
	ctx = o.GetStart(ctx, call)
	out, err := bc.get(ctx, out, items)
	o.GetEnd(ctx, call, bc.outcome(items), err)
	return out, err
}

// outcome sums up the outcomes of the items: the costliest of them.
func (bc *batchCall[K, V]) outcome(items []*batchItem[K, V]) Outcome {
	if bc.bypass {
		return OutcomeBypass
	}
	rank := map[Outcome]int{OutcomeNearHit: 0, OutcomeHit: 1, OutcomeNegativeHit: 2, OutcomeStaleHit: 3,
		OutcomeMiss: 4, OutcomeRefresh: 5, OutcomeError: 6, OutcomeBypass: 7}
	worst := OutcomeNearHit
	for _, it := range items {
		var oc Outcome
		switch {
		case it.nearHit:
			oc = OutcomeNearHit
		case it.stale:
			oc = OutcomeStaleHit
		case it.answered && it.has:
			oc = OutcomeHit
		case it.answered:
			oc = OutcomeNegativeHit
		case it.p.outcome == OutcomeBypass:
			oc = OutcomeBypass
		case it.p.store && bc.refreshed:
			oc = OutcomeRefresh
		case it.p.store:
			oc = OutcomeMiss
		default:
			oc = OutcomeError
		}
		if rank[oc] > rank[worst] {
			worst = oc
		}
	}
	return worst
}

// get is GetMany for the distinct items of ids.
func (bc *batchCall[K, V]) get(ctx context.Context, out map[K]V, items []*batchItem[K, V]) (map[K]V, error) {
	e := bc.e
	if bc.cc.skip || e.cfg.skipCache || e.m.isClosed() {
		bc.bypass = true
		for range items {
			count(&e.m.stats.bypassed, &e.stats.bypassed)
		}
		bc.loadDirect(ctx, items)
		return bc.collect(out, items, nil)
	}
	if bc.cc.refresh {
		// A forced refresh is an invalidation and a load: the loads in
		// flight from before it cannot store, and it stores only over
		// its own tombstones.
		keys := make([]string, len(items))
		for i, it := range items {
			keys[i] = it.key
		}
		if err := e.invalidateMany(ctx, keys); err != nil {
			e.m.report(ctx, &e.cfg, nil, OpSave, e.name, keys[0], err)
		}
		bc.cc.refresh, bc.refreshed = false, true
	}
	now := time.Now()
	bc.cc.since = now.UnixNano()
	d, err := conn.Resolve(ctx, e.cfg.driver)
	if err != nil {
		bc.bypass = true
		for range items {
			count(&e.m.stats.bypassed, &e.stats.bypassed)
		}
		e.m.report(ctx, &e.cfg, nil, OpResolve, e.name, "", err)
		bc.loadDirect(ctx, items)
		return bc.collect(out, items, nil)
	}
	bc.d, bc.st, bc.tags = d, e.gens.of(d), e.tagsFor(&bc.cc)
	for _, it := range items {
		it.p = pending{cc: bc.cc, d: d, st: bc.st, tags: bc.tags}
	}
	rest := items
	if e.near != nil {
		if e.m.near.serves(d) {
			rest = rest[:0:0]
			gen := knownGeneration(d, bc.st, bc.tags)
			for _, it := range items {
				if v, ok := e.near.get(it.key, gen, nearNow()); ok {
					count(&e.m.stats.near, &e.stats.near) // a hit: see counters
					it.v, it.has, it.answered, it.nearHit = v, true, true, true
					continue
				}
				rest = append(rest, it)
			}
		}
		e.m.startNear(d, e.cfg.prefix)
	}
	if len(rest) > 0 {
		bc.read(ctx, rest, now)
	}
	var missing, stale []*batchItem[K, V]
	for _, it := range rest {
		switch {
		case it.stale:
			stale = append(stale, it)
		case !it.answered:
			missing = append(missing, it)
		}
	}
	if len(stale) > 0 {
		bc.refreshStale(ctx, stale)
	}
	var ctxErr error
	if len(missing) > 0 {
		ctxErr = bc.fill(ctx, missing)
	}
	return bc.collect(out, items, ctxErr)
}

// collect puts the answers in out, and joins the distinct errors.
func (bc *batchCall[K, V]) collect(out map[K]V, items []*batchItem[K, V], ctxErr error) (map[K]V, error) {
	var errs []error
	for _, it := range items {
		if it.has {
			out[it.id] = it.v
			continue
		}
		if it.err == nil || errors.Is(it.err, ErrNotFound) {
			continue
		}
		dup := false
		for _, e := range errs {
			if e == it.err {
				dup = true
				break
			}
		}
		if !dup {
			errs = append(errs, it.err)
		}
	}
	switch {
	case ctxErr != nil:
		return out, ctxErr
	case len(errs) == 1:
		return out, errs[0]
	}
	return out, errors.Join(errs...)
}

// loadDirect calls the loader with every id, without the cache.
func (bc *batchCall[K, V]) loadDirect(ctx context.Context, items []*batchItem[K, V]) {
	ids := make([]K, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	res, err := bc.load(ctx, items[0].key, ids)
	for _, it := range items {
		if err != nil {
			it.err = err
		} else if v, ok := res[it.id]; ok {
			it.v, it.has = v, true
		}
	}
}

// load runs the loader once for ids, counting it and recovering a panic
// into a *PanicError. key names the call for the observer: the key of
// the first id.
func (bc *batchCall[K, V]) load(ctx context.Context, key string, ids []K) (map[K]V, error) {
	e := bc.e
	call := func(ctx context.Context) (map[K]V, error) { return bc.fn(ctx, ids) }
	var res map[K]V
	var err error
	if o := e.cfg.hooks.observer; o != nil {
		c := Call{Name: e.name, Key: key}
		start := time.Now()
		lctx := o.LoadStart(ctx, c)
		res, err = callLoader(lctx, call)
		o.LoadEnd(lctx, c, time.Since(start), err)
	} else {
		res, err = callLoader(ctx, call)
	}
	count(&e.m.stats.loads, &e.stats.loads)
	if err != nil {
		count(&e.m.stats.loadErrors, &e.stats.loadErrors)
		if errors.Is(err, ErrPanic) {
			count(&e.m.stats.loadPanics, &e.stats.loadPanics)
		}
	}
	return res, err
}

// read looks the items up in Redis: the generation, then every key in
// one MGET, each entry judged as lookup judges one.
func (bc *batchCall[K, V]) read(ctx context.Context, items []*batchItem[K, V], now time.Time) {
	e, d := bc.e, bc.d
	nowNs := now.UnixNano()
	// One allow per breaker (per node on a cluster): a half-open breaker
	// lets one call through, and this call is one.
	allowed := make(map[*breaker]bool, 1)
	var order []*breaker
	look := items[:0:0]
	for _, it := range items {
		b := e.m.breakerForKey(&e.cfg, d, it.key)
		it.p.b = b
		ok, known := allowed[b]
		if !known {
			ok = b.allow(nowNs)
			allowed[b] = ok
			if ok {
				order = append(order, b)
			}
		}
		if !ok {
			count(&e.m.stats.bypassed, &e.stats.bypassed)
			it.p.load, it.p.outcome = true, OutcomeBypass
			continue
		}
		look = append(look, it)
	}
	if len(look) == 0 {
		return
	}
	unavailable := func() {
		for _, it := range look {
			it.p.load, it.p.store = true, false
		}
	}
	rctx, cancel := e.deadlines.bound(ctx, nowNs)
	defer cancel()
	if e.near != nil {
		for _, it := range look {
			it.epoch = e.near.epoch(it.key) // before the read: see nearCache.put
		}
	}
	b0 := look[0].p.b
	reported := e.stats.redisErrors.Load()
	gen, err := e.fullGeneration(ctx, rctx, d, b0, bc.st, bc.tags, nowNs, false)
	if err != nil {
		for _, b := range order {
			b.abandon()
		}
		if errors.Is(err, errGenerationDown) {
			for range look {
				count(&e.m.stats.bypassed, &e.stats.bypassed)
			}
		}
		unavailable()
		return
	}
	data, err := bc.mget(rctx, look)
	if err != nil {
		if e.stats.redisErrors.Load() == reported {
			e.m.redisResult(ctx, &e.cfg, d, b0, OpLoad, e.name, look[0].key, err)
		} else {
			// The generation's read failed in this call and was reported:
			// a dead Redis is reported once per call, not once per step.
			e.quietFailure(ctx, d, b0, err)
		}
		for _, b := range order {
			if b != b0 {
				b.abandon()
			}
		}
		if !conn.IsReplyError(err, "") {
			bc.st.stale() // Redis may have restarted and lost the generation key
		}
		unavailable()
		return
	}
	for _, b := range order {
		b.success()
	}
	// An entry of a generation this process may not know yet (another
	// process invalidated and stored since) makes the call read the
	// generation again, once for the whole batch.
	ents := make([]format.Entry, len(look))
	perrs := make([]error, len(look))
	regen := false
	for i := range look {
		if data[i] == nil {
			continue
		}
		ents[i], perrs[i] = format.Parse(data[i])
		if ent := ents[i]; perrs[i] == nil && !ent.Tombstone && ent.Generation != gen && (ent.Generation > gen || bc.tags != nil) {
			regen = true
		}
	}
	if regen {
		if gen, err = e.fullGeneration(ctx, rctx, d, b0, bc.st, bc.tags, nowNs, true); err != nil {
			unavailable()
			return
		}
	}
	for i, it := range look {
		it.p.gen, it.p.obs = gen, now
		bc.judge(ctx, it, data[i], ents[i], perrs[i], nowNs)
	}
}

// mget reads the entries of items: one MGET with the default store,
// one Load per key with a Store of your own.
func (bc *batchCall[K, V]) mget(rctx context.Context, items []*batchItem[K, V]) ([][]byte, error) {
	e := bc.e
	sctx, step := e.redisStart(rctx, OpLoad, items[0].key)
	var data [][]byte
	var err error
	if _, ok := e.cfg.store.(RedisStore); ok {
		keys := make([]string, len(items))
		for i, it := range items {
			keys[i] = it.key
		}
		data, err = bc.d.MGet(sctx, keys...)
		if err == nil && len(data) != len(keys) {
			err = fmt.Errorf("redcache: MGET of %d keys returned %d values", len(keys), len(data))
		}
	} else {
		data = make([][]byte, len(items))
		for i, it := range items {
			v, lerr := e.cfg.store.Load(sctx, bc.d, it.key)
			if lerr != nil && !errors.Is(lerr, conn.ErrMiss) {
				err = lerr
				break
			}
			data[i] = v
		}
	}
	step.end(err)
	return data, err
}

// judge decides what the entry read under it.key means, as lookup does
// for one key: a hit, a stale hit, a cached error, or a miss to load
// (and store, unless it is an entry of a newer release).
func (bc *batchCall[K, V]) judge(ctx context.Context, it *batchItem[K, V], data []byte, ent format.Entry, perr error, now int64) {
	e, p := bc.e, &it.p
	miss := func() {
		count(&e.m.stats.misses, &e.stats.misses)
		p.load, p.store = true, true
	}
	p.seen = data
	if data == nil {
		miss()
		return
	}
	if errors.Is(perr, ErrNewerEntry) {
		count(&e.m.stats.misses, &e.stats.misses)
		p.load = true // a newer release's: not ours to judge or replace
		return
	}
	if perr == nil && !ent.Tombstone && ent.Codec != e.codecID {
		perr = fmt.Errorf("%w: written with codec ID %#02x, read with %#02x", ErrCorruptEntry, ent.Codec, e.codecID)
	}
	if perr != nil {
		e.m.report(ctx, &e.cfg, bc.d, OpDecode, e.name, it.key, perr)
		miss()
		return
	}
	if ent.Tombstone || ent.Generation != p.gen {
		miss() // invalidated, or of another generation
		return
	}
	age := e.aged(ent, now)
	if age == statusExpired {
		// Past its expiry: Redis keeps it only as a fail-safe fallback
		// (WithFailSafe), never a hit.
		miss()
		return
	}
	if ent.Negative {
		if e.cfg.negTTL <= 0 {
			miss()
			return
		}
		n, err := format.ParseNegative(ent)
		if err != nil {
			e.m.report(ctx, &e.cfg, bc.d, OpDecode, e.name, it.key, err)
			miss()
			return
		}
		count(&e.m.stats.negative, &e.stats.negative)
		it.answered = true
		if n.Sentinel == ErrNotFound.Error() || n.Msg == ErrNotFound.Error() {
			it.err = ErrNotFound
			return
		}
		ce, _ := decodeNegative(ent, e.cfg.negErrs)
		it.err = ce
		return
	}
	var v V
	if err := e.decode(ctx, it.key, ent.Payload, &v); err != nil {
		e.m.report(ctx, &e.cfg, bc.d, OpDecode, e.name, it.key, fmt.Errorf("%w: %w", ErrCorruptEntry, err))
		miss()
		return
	}
	count(&e.m.stats.hits, &e.stats.hits)
	it.v, it.has, it.answered = v, true, true
	if age == statusStale || age == statusEager {
		// Served, and reloaded in the background: past its soft expiry
		// (stale-while-revalidate), or past its eager-refresh point,
		// which is a fresh hit.
		if age == statusStale {
			count(&e.m.stats.stale, &e.stats.stale)
		}
		it.stale = true
		return
	}
	if e.near != nil && e.m.near.serves(bc.d) {
		e.near.putSized(it.key, v, len(ent.Payload), p.gen, it.epoch, now, nearUntil(ent))
	}
}

// fill gets the missing items through per-id flights: it joins the
// flights of the ids another call is fetching, under the rules of fill
// (flightKey, join), and leads the others, for which it runs the loader
// once. It returns ctx.Err() when ctx ended before every answer came.
func (bc *batchCall[K, V]) fill(ctx context.Context, items []*batchItem[K, V]) error {
	e := bc.e
	if bc.st.solo {
		// Drivers that cannot be told apart share no flight.
		for _, it := range items {
			it.c = newFlightCall(1, false)
		}
		bc.run(ctx, nil, items)
		bc.take(items)
		return nil
	}
	g := &bc.st.flights
	var leads, verify []*batchItem[K, V]
	join := func(it *batchItem[K, V], rule joinRule) {
		var lead, again bool
		it.c, lead, again = g.join(it.fk, it.p.obs, rule)
		switch {
		case again:
			verify = append(verify, it)
		case lead:
			leads = append(leads, it)
		}
	}
	for _, it := range items {
		var rule joinRule
		it.fk, rule = e.flightKey(it.key, &it.p)
		join(it, rule)
	}
	if len(verify) > 0 {
		// Ids that saw nothing, whose older loads are under way: they
		// join those only once the generation, read again (once for the
		// batch), shows that Redis lost nothing since (see joinVerify).
		rule := joinFresh
		p := verify[0].p
		if e.verifyGeneration(ctx, &p) {
			rule = joinSeen
		}
		again := verify
		verify = nil
		for _, it := range again {
			if rule == joinSeen {
				it.p.gen = p.gen
			}
			it.fk, _ = e.flightKey(it.key, &it.p)
			join(it, rule)
		}
	}
	// The flights queued behind loads under way (see join) start when
	// those end: they are loaded apart, so that they do not hold back
	// the ids no load was fetching.
	var fresh, queued []*batchItem[K, V]
	for _, it := range leads {
		if it.c.after != nil {
			queued = append(queued, it)
		} else {
			fresh = append(fresh, it)
		}
	}
	for _, group := range [][]*batchItem[K, V]{fresh, queued} {
		if len(group) > 0 {
			bc.launch(ctx, g, group)
		}
	}
	for i, it := range items {
		select {
		case <-it.c.done:
		case <-ctx.Done():
			for _, rest := range items[i:] {
				g.leave(rest.fk, rest.c)
			}
			bc.take(items[:i])
			return ctx.Err()
		}
	}
	bc.take(items)
	// The call that led loads also sees them stored, so that its next
	// call hits; the others do not wait for the write.
	for _, it := range leads {
		select {
		case <-it.c.written:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// launch runs the load of the flights of items, which this call leads:
// on a goroutine of its own, cancelled when every caller waiting for any
// of its ids has left, or on the caller's when it cannot give up.
func (bc *batchCall[K, V]) launch(ctx context.Context, g *flightGroup, items []*batchItem[K, V]) {
	e := bc.e
	if ctx.Done() == nil {
		// A caller that cannot give up runs the load on its own
		// goroutine, as fill does.
		bc.runQueued(ctx, g, items)
		return
	}
	lctx, cancel, ok := e.m.loadContext(ctx, true, 0)
	if !ok {
		for _, it := range items {
			it.p.store = false // closed: the cache is left alone
		}
		bc.runQueued(ctx, g, items)
		return
	}
	// Each flight releases its share of the load once, when its last
	// waiter left.
	var live atomic.Int32
	live.Store(int32(len(items)))
	release := func() {
		if live.Add(-1) == 0 {
			cancel()
		}
	}
	own := make([]*batchItem[K, V], len(items))
	for i, it := range items {
		g.setCancel(it.c, release)
		cp := *it
		own[i] = &cp // the load's own copy: the caller reads its items meanwhile
	}
	go func() {
		defer e.m.bg.Done()
		defer cancel()
		bc.runQueued(lctx, g, own)
	}()
}

// runQueued is run, once the flights queued behind others (see join)
// may start; those whose turn has not come when ctx ends get ctx's
// error.
func (bc *batchCall[K, V]) runQueued(ctx context.Context, g *flightGroup, items []*batchItem[K, V]) {
	queued := false
	for _, it := range items {
		if it.c.after != nil {
			queued = true
			select {
			case <-it.c.after:
			case <-ctx.Done():
			}
		}
	}
	if queued && ctx.Err() != nil {
		kept := items[:0:0]
		for _, it := range items {
			if it.c.after != nil && !isClosed(it.c.after) {
				g.loaded(it.c, nil, ctx.Err())
				g.finish(it.fk, it.c)
				continue
			}
			kept = append(kept, it)
		}
		items = kept
	}
	if len(items) > 0 {
		bc.run(ctx, g, items)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// take reads the answers of the items' flights, which are done.
func (bc *batchCall[K, V]) take(items []*batchItem[K, V]) {
	for _, it := range items {
		if it.c.err != nil {
			it.err = it.c.err
			continue
		}
		if v, ok := it.c.val.(V); ok {
			it.v, it.has = v, true
		}
	}
}

// refreshStale reloads the stale items once each in the background,
// however many readers see them stale, without making the caller wait:
// the loader is called once for those whose refresh is not under way.
func (bc *batchCall[K, V]) refreshStale(ctx context.Context, items []*batchItem[K, V]) {
	e := bc.e
	if bc.st.solo {
		return // no flight to share the refresh: served stale until it expires
	}
	lctx, cancel, ok := e.m.loadContext(ctx, false, e.cfg.fenceWindow)
	if !ok {
		return
	}
	g := &bc.st.flights
	var own []*batchItem[K, V]
	for _, it := range items {
		cp := &batchItem[K, V]{id: it.id, key: it.key, p: it.p, epoch: it.epoch}
		cp.p.cc.refresh, cp.p.background, cp.p.store = true, true, true
		cp.fk, _ = e.flightKey(cp.key, &cp.p)
		if cp.c = g.startKeep(cp.fk); cp.c != nil {
			own = append(own, cp)
		}
	}
	if len(own) == 0 {
		cancel()
		e.m.bg.Done()
		return
	}
	go func() {
		defer e.m.bg.Done()
		defer cancel()
		bc.run(lctx, g, own)
	}()
}

// run is the load of the flights of items, which this call leads: look
// again at the keys a load just stored into, run the loader once for the
// rest, hand each flight its answer, then store the values in one
// pipeline.
func (bc *batchCall[K, V]) run(ctx context.Context, g *flightGroup, items []*batchItem[K, V]) {
	e := bc.e
	deliver := func(it *batchItem[K, V], val any, err error) {
		it.delivered = true
		if g != nil {
			g.loaded(it.c, val, err)
		} else {
			it.c.val, it.c.err, it.c.loaded = val, err, true
			close(it.c.done)
		}
	}
	end := func(it *batchItem[K, V]) {
		it.ended = true
		if g != nil {
			g.finish(it.fk, it.c)
		} else {
			close(it.c.written)
		}
	}
	defer func() {
		// As in runFlight: a panic in a driver or a Store must not leave
		// flights registered that hand their waiters nothing.
		r := recover()
		if r == nil {
			return
		}
		perr := &PanicError{Value: r, Stack: debug.Stack(), Callback: "Driver"}
		op := OpSave
		for _, it := range items {
			if !it.delivered {
				op = OpLoad
				deliver(it, nil, perr)
			}
			if !it.ended {
				end(it)
			}
		}
		e.m.report(ctx, &e.cfg, bc.d, op, e.name, items[0].key, perr)
	}()
	ask := bc.lookAgain(ctx, items, deliver, end)
	if len(ask) == 0 {
		return
	}
	if e.near != nil {
		for _, it := range ask {
			it.epoch = e.near.epoch(it.key)
		}
	}
	ids := make([]K, len(ask))
	for i, it := range ask {
		ids[i] = it.id
	}
	res, err := bc.load(ctx, ask[0].key, ids)
	if err != nil {
		for _, it := range ask {
			deliver(it, nil, err)
		}
		if !errors.Is(err, ErrPanic) {
			bc.store(ctx, ask, nil, err)
		}
	} else {
		for _, it := range ask {
			if v, ok := res[it.id]; ok {
				deliver(it, v, nil)
			} else {
				deliver(it, nil, ErrNotFound)
			}
		}
		bc.store(ctx, ask, res, nil)
	}
	for _, it := range ask {
		end(it)
	}
}

// lookAgain reads again the keys of items into whose slot a load stored
// since their call read the cache (see runFlight): the hits are handed to
// their flights, and the rest is returned, to load.
func (bc *batchCall[K, V]) lookAgain(ctx context.Context, items []*batchItem[K, V],
	deliver func(*batchItem[K, V], any, error), end func(*batchItem[K, V])) []*batchItem[K, V] {
	e := bc.e
	var again []*batchItem[K, V]
	for _, it := range items {
		if it.p.store && !it.p.cc.refresh && e.storedSlot(it.key).Load() >= it.p.cc.since {
			again = append(again, it)
		}
	}
	if len(again) == 0 {
		return items
	}
	now := time.Now()
	rctx, cancel := e.deadlines.bound(ctx, now.UnixNano())
	defer cancel()
	data, err := bc.mget(rctx, again)
	var gen uint64
	if err == nil {
		gen, err = e.fullGeneration(ctx, rctx, bc.d, again[0].p.b, bc.st, bc.tags, now.UnixNano(), false)
	}
	for i, it := range again {
		if err != nil {
			it.p.store = false
			continue
		}
		ent, perr := format.Parse(data[i])
		switch {
		case data[i] == nil:
			it.p.seen, it.p.obs, it.p.gen = nil, now, gen
		case errors.Is(perr, ErrNewerEntry):
			it.p.store = false
		case perr == nil && !ent.Tombstone && !ent.Negative && ent.Generation == gen && ent.Codec == e.codecID &&
			e.aged(ent, now.UnixNano()) == statusHit:
			var v V
			if e.decode(ctx, it.key, ent.Payload, &v) == nil {
				deliver(it, v, nil)
				end(it)
				continue
			}
			fallthrough
		default:
			it.p.seen, it.p.obs, it.p.gen = data[i], now, gen
		}
	}
	rest := items[:0:0]
	for _, it := range items {
		if !it.ended {
			rest = append(rest, it)
		}
	}
	return rest
}

// quietFailure is redisResult for a failure that the call reported
// already: it feeds the breaker and the stats, and reports only the
// breaker's opening.
func (e *engine[V]) quietFailure(ctx context.Context, d conn.Driver, b *breaker, err error) {
	switch {
	case errors.Is(err, ErrPanic), ctx.Err() != nil:
		b.abandon()
		return
	case conn.IsReplyError(err, ""):
		b.success()
	default:
		if b.failure(time.Now().UnixNano(), errors.Is(err, context.DeadlineExceeded)) {
			e.m.report(ctx, &e.cfg, d, OpBreaker, e.name, "", ErrCircuitOpen)
		}
	}
	count(&e.m.stats.redisErrors, &e.stats.redisErrors)
}

// negativeFor returns whether err is to be cached, and the sentinel it
// matched, as storeNegative decides.
func (e *engine[V]) negativeFor(err error) (sentinel error, ok bool) {
	if e.cfg.negTTL <= 0 || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil, false
	}
	if e.cfg.negAll {
		return nil, true
	}
	for _, target := range e.cfg.negErrs {
		if errors.Is(err, target) {
			return target, true
		}
	}
	return nil, false
}

// store writes the loader's answers for items in one pipeline: each
// value (or negative entry, for an id left out or a load that failed,
// with negative caching) only if the generation did not move since the
// read, and only over what the read of its key saw.
func (bc *batchCall[K, V]) store(ctx context.Context, items []*batchItem[K, V], res map[K]V, loadErr error) {
	e := bc.e
	now := time.Now()
	var sentinel error
	if loadErr != nil {
		var ok bool
		if sentinel, ok = e.negativeFor(loadErr); !ok {
			return
		}
	}
	var ws []batchWrite[K, V]
	for _, it := range items {
		if !it.p.store {
			continue
		}
		if e.tooLate(it.p.obs, now) {
			count(&e.m.stats.fenced, &e.stats.fenced)
			continue
		}
		w := batchWrite[K, V]{it: it}
		if v, ok := res[it.id]; ok && loadErr == nil {
			var err error
			if w.ent, w.ttl, w.until, err = e.entryFor(ctx, it.key, it.p.gen, v, it.p.cc, now); err != nil {
				e.m.report(ctx, &e.cfg, bc.d, OpEncode, e.name, it.key, err)
				continue
			}
			w.value = true
		} else {
			n := format.Negative{Msg: ErrNotFound.Error(), Sentinel: ErrNotFound.Error()}
			if loadErr != nil {
				n = format.Negative{Msg: loadErr.Error()}
				if sentinel != nil {
					n.Sentinel = sentinel.Error()
				}
			} else if e.cfg.negTTL <= 0 {
				continue
			}
			w.ttl = e.cfg.negTTL
			w.ent = format.Entry{Negative: true, Codec: e.codecID, Compressed: e.compress, Generation: it.p.gen,
				Expiry: now.Add(w.ttl), Payload: n.Append(make([]byte, 0, n.Size()))}
		}
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		return
	}
	defer func() {
		stamp := time.Now().UnixNano()
		for _, w := range ws {
			e.storedSlot(w.it.key).Store(stamp)
		}
	}()
	b0 := ws[0].it.p.b
	wctx, cancel := e.deadlines.bound(context.WithoutCancel(ctx), now.UnixNano())
	defer cancel()
	if e.fenced() {
		gctx, step := e.redisStart(wctx, OpGeneration, e.genKey)
		gen, err := e.readGenerations(ctx, gctx, bc.d, b0, bc.st, bc.tags, now.UnixNano())
		step.end(err)
		if err != nil {
			return
		}
		kept := ws[:0]
		for _, w := range ws {
			if w.ent.Generation != gen {
				count(&e.m.stats.fenced, &e.stats.fenced) // invalidated (or Redis restarted) during the load
				continue
			}
			kept = append(kept, w)
		}
		ws = kept
	}
	stored := make([]bool, len(ws))
	if _, ok := e.cfg.store.(RedisStore); ok {
		stored = bc.pipeline(ctx, wctx, b0, ws)
	} else {
		for i, w := range ws {
			data := w.ent.Append(make([]byte, 0, w.ent.Size()))
			sctx, step := e.redisStart(wctx, OpSave, w.it.key)
			ok, err := e.saveIf(sctx, bc.d, w.it.key, data, w.ttl, w.it.p.seen)
			step.end(err)
			e.m.redisResult(ctx, &e.cfg, bc.d, w.it.p.b, OpSave, e.name, w.it.key, err)
			if err == nil && !ok {
				count(&e.m.stats.fenced, &e.stats.fenced)
			}
			stored[i] = err == nil && ok
		}
	}
	if e.near != nil && e.m.near.serves(bc.d) {
		stamp := time.Now().UnixNano()
		for i, w := range ws {
			if stored[i] && w.value {
				if v, ok := res[w.it.id]; ok {
					e.near.putSized(w.it.key, v, len(w.ent.Payload), w.it.p.gen, w.it.epoch, stamp, w.until)
				}
			}
		}
	}
}
