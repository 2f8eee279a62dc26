// Package tests runs paginate's behaviour tests and benchmarks against
// real drivers: go-redis and radix, on the standalone Redis and the
// 3-primary Cluster the test runner starts (tools/test.sh).
//
// It is a module of its own so that paginate's go.mod requires no driver:
// a program that imports paginate and one driver does not get the other
// in its build list. Nothing here is meant to be imported.
package tests
