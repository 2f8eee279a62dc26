// Package tests runs core's behaviour tests against real drivers:
// go-redis and radix on the Redis servers of the test runner, and the
// in-memory driver where a race must be made deterministic.
//
// It is a module of its own so that core's go.mod requires only what
// core's packages import: a program that imports core and one driver
// does not get the other driver, the in-memory driver or miniredis in
// its build list. go-redis keeps its extra/ modules apart for the same
// reason. Nothing here is meant to be imported.
package tests
