// Package bench is the comparison harness behind `redcache-bench`: it runs
// the same workloads, side by side in one process and against one Redis,
// on redcache (with each of its drivers) and on the libraries it is
// measured against, and writes the figures as Markdown and an SVG chart
// (docs/performance.md and docs/performance.svg).
//
// The subjects are:
//
//   - redcache over conn/goredis and over conn/radix (core.Memoize);
//   - raw go-redis and raw radix v4: GET, and on a miss the loader and a
//     SET, then a decode: the limit a cache without pipelining can reach;
//   - github.com/go-redis/cache/v9, with and without its TinyLFU local cache;
//   - github.com/eko/gocache/lib/v4 with its Redis store and its loadable
//     cache;
//   - for HTTP, github.com/chenyahui/gin-cache against a gin handler that
//     calls a memoized function, and the same route uncached.
//
// Every workload reports operations per second, the 50th and 99th
// percentile of the latency of one operation (a sample of them, kept with
// reservoir sampling), and allocations per operation (the process's
// runtime.MemStats.Mallocs delta divided by the operations, so the client
// side of every library is counted, and for HTTP the server and the
// client). Every loop is bounded both in time and in count, and every
// address is on the loopback interface.
//
// [Run] does the work; [Report.Markdown] and [Report.SVG] render it.
// Durations come from the [Mode]: [Full] takes about five minutes on two
// cores, [Quick] well under two.
package bench
