module github.com/redcache/redcache/sqlcache/tests

go 1.25.0

replace (
	github.com/redcache/redcache/codec => ../../codec
	github.com/redcache/redcache/conn => ../../conn
	github.com/redcache/redcache/conn/goredis => ../../conn/goredis
	github.com/redcache/redcache/conn/radix => ../../conn/radix
	github.com/redcache/redcache/core => ../../core
	github.com/redcache/redcache/sqlcache => ..
)

require (
	github.com/google/go-cmp v0.7.0
	github.com/jackc/pgx/v5 v5.12.0
	github.com/redcache/redcache/conn v0.1.0
	github.com/redcache/redcache/conn/goredis v0.1.0
	github.com/redcache/redcache/conn/radix v0.1.0
	github.com/redcache/redcache/core v0.1.0
	github.com/redcache/redcache/sqlcache v0.1.0
	modernc.org/sqlite v1.38.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dustin/go-humanize v1.0.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/mediocregopher/radix/v4 v4.1.4 // indirect
	github.com/ncruces/go-strftime v0.1.9 // indirect
	github.com/redcache/redcache/codec v0.1.0 // indirect
	github.com/redis/go-redis/v9 v9.22.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/tilinna/clock v1.0.2 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/exp v0.0.0-20250408133849-7e4ce0ab07d0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.33.0 // indirect
	golang.org/x/text v0.41.0 // indirect
	modernc.org/libc v1.65.10 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.11.0 // indirect
)
