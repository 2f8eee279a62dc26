module github.com/redcache/redcache/conn

go 1.22
