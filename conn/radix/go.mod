module github.com/redcache/redcache/conn/radix

go 1.22

require (
	github.com/mediocregopher/radix/v4 v4.1.4
	github.com/redcache/redcache/conn v0.1.0
)

require github.com/tilinna/clock v1.0.2 // indirect

replace github.com/redcache/redcache/conn => ../
