// Package docs is the redcache documentation: the guides in this folder
// (Markdown, read on GitHub or any Markdown viewer) and the programs they
// quote, under examples/.
//
// Every ```go block of the guides and of the repository's README.md is an
// excerpt of a Go file of this module, and the module's tests check it: a
// block whose text is not found, line for line, in one of its .go files
// fails the test with the guide's file and line. The example programs are
// tested too, against the Redis of the test runner (tools/test.sh), so
// what the guides show compiles and does what they say.
//
// Each example is a main package that runs anywhere: it talks to the Redis
// that $REDIS_URL names, or, without it, to an embedded in-process Redis
// (see internal/devredis).
//
// # Dependencies
//
// This module is not a library and nothing imports it, so it may depend on
// what the examples need without adding to any program's build:
//
//   - github.com/gin-gonic/gin, for the quick start and the gin guide, as
//     the original's quick start used a Flask view;
//   - github.com/alicebob/miniredis/v2, the embedded Redis the examples
//     fall back to when $REDIS_URL is not set;
//   - modernc.org/sqlite, for the SQL guide: a SQLite driver written in pure
//     Go (a translation of SQLite's C code), so the example needs no C
//     compiler and no database server, and builds with CGO_ENABLED=0 on
//     any platform; a cgo driver such as github.com/mattn/go-sqlite3 would
//     need a C toolchain on every machine that builds the docs;
//   - github.com/go-redis/cache/v9, for the migration guide, whose "before"
//     code is compiled and run next to its redcache "after";
//   - the two drivers, github.com/redcache/redcache/conn/goredis and
//     github.com/redcache/redcache/conn/radix, for the connections guide.
//
// The library modules (conn, codec, core and the drivers) never import
// this one, so none of these reach a program that uses redcache.
package docs
