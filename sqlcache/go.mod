module github.com/redcache/redcache/sqlcache

go 1.24

require github.com/redcache/redcache/core v0.1.0

require (
	github.com/redcache/redcache/codec v0.1.0 // indirect
	github.com/redcache/redcache/conn v0.1.0 // indirect
)

replace (
	github.com/redcache/redcache/codec => ../codec
	github.com/redcache/redcache/conn => ../conn
	github.com/redcache/redcache/core => ../core
)
