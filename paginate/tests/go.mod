module github.com/redcache/redcache/paginate/tests

go 1.24

replace (
	github.com/redcache/redcache/codec => ../../codec
	github.com/redcache/redcache/conn => ../../conn
	github.com/redcache/redcache/conn/goredis => ../../conn/goredis
	github.com/redcache/redcache/conn/radix => ../../conn/radix
	github.com/redcache/redcache/core => ../../core
	github.com/redcache/redcache/paginate => ..
)

require (
	github.com/google/go-cmp v0.7.0
	github.com/redcache/redcache/codec v0.1.0
	github.com/redcache/redcache/conn v0.1.0
	github.com/redcache/redcache/conn/goredis v0.1.0
	github.com/redcache/redcache/conn/radix v0.1.0
	github.com/redcache/redcache/core v0.1.0
	github.com/redcache/redcache/paginate v0.1.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/mediocregopher/radix/v4 v4.1.4 // indirect
	github.com/redis/go-redis/v9 v9.22.0 // indirect
	github.com/tilinna/clock v1.0.2 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
)
