// Package tests holds the tests of package sqlcache that need real Redis
// drivers and databases (SQLite through modernc.org/sqlite, PostgreSQL
// through pgx), so that sqlcache's own module requires neither.
package tests
