// Package faults holds the fault suite: tests that put real Redis servers
// through the failures a cache meets in production (a SIGKILL and restart,
// a CLIENT PAUSE, a DEBUG SLEEP, a SIGSTOP, a full memory, a primary
// failover in a 3+3 cluster, TLS with an ACL user) while core's memoized
// calls run against them with both drivers, and check what the library
// promises: no error from Get, no call past its deadline plus 10%, hits back
// within a bound once Redis is back, the trouble reported, no goroutine
// left after Close.
//
// The tests start and own the redis-server processes they kill or stop
// (see [Server]); the cluster and TLS tests use the servers of the test
// runner (tools/test.sh), which hands them over in REDCACHE_TEST_* variables.
// REDCACHE_FAULTS_LONG=1 (bash tools/test.sh --faults-long) runs more rounds
// of each fault under longer loads; REDCACHE_FAULTS=off skips the suite.
//
// Each test logs one line per fault and driver, starting with "RESULT",
// from which `go test -v` output makes a table: calls, errors, calls past
// the bound, max latency, recovery time.
package faults
