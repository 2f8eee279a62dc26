module github.com/redcache/redcache/conn/memory

go 1.24

require (
	github.com/redcache/redcache/conn v0.1.0
	github.com/yuin/gopher-lua v1.1.1
)

replace github.com/redcache/redcache/conn => ../
