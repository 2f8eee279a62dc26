// Package tests holds the tests of redcacheotel that need a real Redis and
// both drivers. It is a module of its own so that redcacheotel's go.mod
// requires no driver: a program that imports redcacheotel and one driver
// never downloads the other.
package tests
