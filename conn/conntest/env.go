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
// given it skips the test, or fails it under the test runner.
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv(EnvRedis)
	if addr == "" {
		missing(tb, howTo+EnvRedis+"=host:port")
	}
	return addr
}

// ClusterAddrs returns the Redis Cluster primaries the tests may use. With
// none given it skips the test, or fails it under the test runner.
func ClusterAddrs(tb testing.TB) []string {
	tb.Helper()
	v := os.Getenv(EnvCluster)
	if v == "" {
		missing(tb, howTo+EnvCluster+"=host:port,host:port,...")
		return nil
	}
	return strings.Split(v, ",")
}

func missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv(EnvRequire) == "1" {
		tb.Fatal("no Redis for this test: " + msg)
	}
	tb.Skip("no Redis for this test: " + msg)
}
