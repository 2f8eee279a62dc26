// Package ginadapter connects redcache to gin: middleware that chooses
// the Redis of each request, a response cache that is safe by default,
// handlers that serve a memoized function's value as JSON, and purges.
//
// # Connections
//
// [Connection] puts one driver into every request's context, as the
// original's use_connection() did for a Flask app; [ConnectionFunc]
// chooses one per request (a tenant per host or header), so that each
// tenant's values and responses stay in its own Redis. Every redcache call
// made with c.Request.Context() uses it.
//
// # Response cache
//
// [Cache] (middleware) and [CacheHandler] (a decorator for one route)
// keep whole responses in Redis for a ttl, through a function memoized
// with a core.Manager ([NewCache] returns the [ResponseCache] itself, for
// its purges). Its rules:
//
//   - Only GET and HEAD are cached; a HEAD is answered from a cached GET
//     and never stores one. The key is the host, the path, the query
//     sorted by name and value, the codings the client accepts, the
//     headers declared with [WithVary], and the user ([WithUser]).
//   - The whole response (status, headers, body) is buffered and written
//     to Redis once, after the handler returned. A handler that streams
//     (Flush), hijacks the connection or writes more than
//     [WithMaxBodySize] is passed through as it writes, uncached.
//   - Only 2xx responses ([WithStatuses]) of requests that were not
//     aborted are stored, and not those whose Cache-Control says
//     no-store, no-cache or private, nor those whose Vary names a header
//     outside the key.
//   - Concurrent misses of one key on one Redis run the handler once; the
//     others get its response, unless it could not be shared (then each
//     runs the handler) or [WithForgetTimeout] passed first.
//   - Every response says X-Cache: HIT, MISS or BYPASS. Stored responses
//     carry an ETag (the handler's, else a hash of the body), and
//     If-None-Match gets 304 Not Modified; hits carry Age. Hop-by-hop
//     headers, Set-Cookie, Content-Length and Date are never stored nor
//     replayed; headers that middleware before the cache set (CORS, say)
//     are not stored either, so they are never doubled.
//   - Requests with Authorization or Cookie bypass the cache, and
//     responses with Set-Cookie are not stored, unless [WithUser] names
//     the user: then they are keyed per user.
//   - A gzip middleware may sit on either side: before the cache, it
//     compresses what the cache replays; after it, compressed bodies are
//     stored apart from plain ones (Accept-Encoding is in the key), and a
//     body is never served in a coding the client did not accept.
//   - When Redis is down or slow, the handler runs as without a cache and
//     the response says X-Cache: BYPASS.
//
// # Purges
//
// [ResponseCache.PurgeRoute] and [ResponseCache.PurgePrefix] make every
// response of a route or under a path prefix unreachable, in every
// process that uses a cache of the same name, with a Manager of the same
// prefix, on the same Redis: each response carries core tags for its
// route and its path prefixes, and a purge is a Manager.InvalidateTag of
// one of them. The process that purges sees it at once, the others
// within [WithPurgeRefresh] (1 s), as with any core tag.
//
// # JSON
//
// [JSON] and [JSON0] serve a memoized function's value: the payload is
// cached rather than the response, and the function is called with the
// request's context.
package ginadapter
