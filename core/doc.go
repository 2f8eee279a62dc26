// Package core is the redcache memoizer: it keeps a function's results in
// Redis for a time to live, and serves them from there.
//
// The original Python library put a decorator on a function; here a
// function is wrapped with [Memoize] (or [Memoize0] for no arguments,
// [Memoize2] for two) and called through the result:
//
//	if err := conn.Use(goredis.New(client)); err != nil { // use_connection()
//		return err
//	}
//
//	var loadUser = core.Memoize(core.Default, "users.get",
//		func(ctx context.Context, id int) (User, error) { ... },
//		core.WithTTL(5*time.Second))     // @default_cache.cache(ttl=5)
//
//	u, err := loadUser.Get(ctx, 42)
//
// [New] makes a [Manager]: the settings its functions share, and their
// shared state (stats, circuit breakers, background work, which
// [Manager.Close] stops). [Default] is the original's default_cache. A
// [Memo] is called with [Memo.Get]; [Memo.Set] writes a value through the
// cache, [Memo.Invalidate] drops one argument's value in every process,
// and [Memo.InvalidateAll] (or [Manager.InvalidateAll]) every value of the
// function. Values carry tags ([WithTags] for a function, [Tags] for a
// call); [Manager.InvalidateTag] drops every value carrying a tag, in
// every function, in O(1): a tag has a generation, as a function has.
//
// # Options
//
// Options come in three kinds, each its own type, so that an option given
// where it cannot be honoured does not compile:
//
//   - An [Option] sets up a memoized function. Given to [Memoize] it is
//     that function's own; given to [New] it is the default of every
//     function of the Manager, and a function's own value wins: [WithTTL],
//     [WithCodec], [WithPrefix], [WithDriver], [WithTimeout],
//     [WithBreaker], [WithErrorHandler], [WithNearCache] and the others.
//   - A [ManagerOption] sets up the Manager as a whole and is given to
//     [New] only: [WithFenceWindow]. Every Option is a ManagerOption too.
//   - A [CallOption] changes one call: [TTL], which wins over WithTTL for
//     the value that call stores, [SkipCache] and [Refresh].
//
// Trouble the caller does not see goes to the [ErrorHandler] given with
// [WithErrorHandler], as an [*Error] naming the step, the function, the
// key, the driver and the cluster node.
//
// # What a call does
//
//	situation                           outcome
//	hit                                 the cached value; the loader is not called
//	miss                                the loader runs once, its value is stored and returned
//	loader error                        returned, not cached
//	loader error, negative caching on   returned and cached for the negative ttl; later calls get a *CachedError
//	loader panic                        every waiter gets a *PanicError (errors.Is ErrPanic); nothing is cached; the process lives
//	panic in BeforeSave, AfterLoad,     the loader's value; the panic is reported as a *PanicError
//	  a Store or the error handler        (the handler's own is counted); the process lives
//	zero value or nil result            cached, and comes back as it went in (as far as the codec keeps it)
//	concurrent misses of one key        one loader call, every caller gets its result
//	caller's ctx ends while waiting     ctx.Err() at once; the load goes on for the others and the cache
//	Redis down, slow or refusing        the loader's value; the trouble goes to the error handler and Stats
//	Redis keeps failing                 the circuit breaker opens: calls skip Redis at no cost until a probe succeeds
//	one cluster primary down            only that node's breaker opens: the other nodes' keys keep hitting
//	during and after Close              the loader's result or error, never the Manager's own error
//	entry corrupt, foreign or other codec   a miss, reported as ErrCorruptEntry, and overwritten
//	stale entry (stale-while-revalidate)    the stale value at once, one background reload
//	InvalidateAll, then a call          a miss (the generation changed)
//
// # The four steps
//
// The original's manager had four overridable steps; each can be replaced
// alone:
//
//   - load and save: a [Store] ([WithStore]); the default [RedisStore]
//     keeps an entry in a string written with SET ... PX in one command;
//   - before_save and after_load: [BeforeSave] and [AfterLoad]
//     ([WithBeforeSave], [WithAfterLoad]); the default is the codec
//     ([WithCodec]), Gob unless told otherwise.
//
// # Keys and invalidation
//
// Keys are "<prefix>:<name>:<encoded arguments>". The encoding never lets
// two different arguments share a key (see [KeyAppender] for the table)
// and is the same in every process. [Memo.Invalidate] replaces one entry
// with a short tombstone, so that no load in flight, in any process, can
// put the old value back; [Memo.InvalidateAll] and
// [Manager.InvalidateAll] drop every entry of a function by moving its
// generation on (one script: INCR, or the clock when the key was lost),
// which every entry records, and announce it to other processes' near
// caches.
//
// # The entry
//
// Each stored value carries a small header (format version, flags,
// codec, checksum, generation, soft expiry): see package
// [github.com/redcache/redcache/core/format] and
// docs/format.md. Bytes that are not such an entry are never decoded as a
// value.
//
// # Connections
//
// A Manager without [WithDriver] resolves the driver of every call with
// conn.Resolve: the driver in the call's context, else the top of the
// connection stack.
package core
