package conntest

import (
	"os"
	"strings"
	"testing"
)

// Environment variables through which the test runner (tools/test.sh)
// hands its servers to the tests.
const (
	// EnvRedis holds host:port of a standalone Redis.
	EnvRedis = "REDCACHE_TEST_REDIS"
	// EnvCluster holds the comma-separated host:port of a Redis Cluster's
	// primaries.
	EnvCluster = "REDCACHE_TEST_CLUSTER"
	// EnvRequire, when "1", turns a missing server from a skip into a
	// failure. The test runner and CI set it.
	EnvRequire = "REDCACHE_TEST_REQUIRE"
)

const howTo = "run the tests with `bash tools/test.sh`, which starts Redis for them, or set "

// RedisAddr returns the standalone Redis the tests may use. With none
// given it skips tb, or fails it under the test runner. Call it in the
// subtest that needs the server, not in its parent: a skip ends the whole
// test it is called in (see [EachServer]).
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv(EnvRedis)
	if addr == "" {
		missing(tb, howTo+EnvRedis+"=host:port")
	}
	return addr
}

// ClusterAddrs returns the Redis Cluster primaries the tests may use. With
// none given it skips tb, or fails it under the test runner. Call it in
// the cluster subtest, not in a parent that has standalone subtests too:
// without a cluster, only the cluster cases should skip.
func ClusterAddrs(tb testing.TB) []string {
	tb.Helper()
	v := os.Getenv(EnvCluster)
	if v == "" {
		missing(tb, howTo+EnvCluster+"=host:port,host:port,...")
		return nil
	}
	return strings.Split(v, ",")
}

// LookupRedis returns the standalone Redis the tests may use, and whether
// there is one. It never skips: it is for code that decides what to run.
func LookupRedis() (string, bool) {
	addr := os.Getenv(EnvRedis)
	return addr, addr != ""
}

// LookupCluster returns the Redis Cluster primaries the tests may use, and
// whether there are any. It never skips.
func LookupCluster() ([]string, bool) {
	v := os.Getenv(EnvCluster)
	if v == "" {
		return nil, false
	}
	return strings.Split(v, ","), true
}

// Server is one kind of Redis deployment the tests run against.
type Server struct {
	// Name names the subtest: "standalone" or "cluster".
	Name string
	// Cluster reports a Redis Cluster; Addrs then lists its primaries.
	Cluster bool
	// Addrs holds host:port of the server, or of the cluster's primaries.
	Addrs []string
}

// EachServer runs fn as one subtest per server: "standalone" on the
// standalone Redis, "cluster" on the Redis Cluster. A subtest whose server
// is missing skips (or fails under the test runner) on its own, so the
// other still runs: without a cluster, only the cluster cases skip.
func EachServer(t *testing.T, fn func(t *testing.T, srv Server)) {
	t.Helper()
	t.Run("standalone", func(t *testing.T) {
		fn(t, Server{Name: "standalone", Addrs: []string{RedisAddr(t)}})
	})
	t.Run("cluster", func(t *testing.T) {
		fn(t, Server{Name: "cluster", Cluster: true, Addrs: ClusterAddrs(t)})
	})
}

func missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv(EnvRequire) == "1" {
		tb.Fatal("no Redis for this test: " + msg)
	}
	tb.Skip("no Redis for this test: " + msg)
}
