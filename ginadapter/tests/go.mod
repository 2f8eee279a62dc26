module github.com/redcache/redcache/ginadapter/tests

go 1.24

replace (
	github.com/redcache/redcache/codec => ../../codec
	github.com/redcache/redcache/conn => ../../conn
	github.com/redcache/redcache/conn/goredis => ../../conn/goredis
	github.com/redcache/redcache/conn/memory => ../../conn/memory
	github.com/redcache/redcache/conn/radix => ../../conn/radix
	github.com/redcache/redcache/core => ../../core
	github.com/redcache/redcache/ginadapter => ..
)

require (
	github.com/gin-gonic/gin v1.11.0
	github.com/redcache/redcache/conn v0.1.0
	github.com/redcache/redcache/conn/goredis v0.1.0
	github.com/redcache/redcache/conn/memory v0.1.0
	github.com/redcache/redcache/conn/radix v0.1.0
	github.com/redcache/redcache/core v0.1.0
	github.com/redcache/redcache/ginadapter v0.1.0
)

require (
	github.com/bytedance/sonic v1.14.0 // indirect
	github.com/bytedance/sonic/loader v0.3.0 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/cloudwego/base64x v0.1.6 // indirect
	github.com/gabriel-vasile/mimetype v1.4.8 // indirect
	github.com/gin-contrib/sse v1.1.0 // indirect
	github.com/go-playground/locales v0.14.1 // indirect
	github.com/go-playground/universal-translator v0.18.1 // indirect
	github.com/go-playground/validator/v10 v10.27.0 // indirect
	github.com/goccy/go-json v0.10.2 // indirect
	github.com/goccy/go-yaml v1.18.0 // indirect
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/klauspost/cpuid/v2 v2.3.0 // indirect
	github.com/leodido/go-urn v1.4.0 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/mediocregopher/radix/v4 v4.1.4 // indirect
	github.com/modern-go/concurrent v0.0.0-20180228061459-e0a39a4cb421 // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	github.com/pelletier/go-toml/v2 v2.2.4 // indirect
	github.com/quic-go/qpack v0.5.1 // indirect
	github.com/quic-go/quic-go v0.54.0 // indirect
	github.com/redcache/redcache/codec v0.1.0 // indirect
	github.com/redis/go-redis/v9 v9.22.0 // indirect
	github.com/tilinna/clock v1.0.2 // indirect
	github.com/twitchyliquid64/golang-asm v0.15.1 // indirect
	github.com/ugorji/go/codec v1.3.0 // indirect
	github.com/yuin/gopher-lua v1.1.1 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	go.uber.org/mock v0.5.0 // indirect
	golang.org/x/arch v0.20.0 // indirect
	golang.org/x/crypto v0.40.0 // indirect
	golang.org/x/mod v0.25.0 // indirect
	golang.org/x/net v0.42.0 // indirect
	golang.org/x/sync v0.16.0 // indirect
	golang.org/x/sys v0.35.0 // indirect
	golang.org/x/text v0.27.0 // indirect
	golang.org/x/tools v0.34.0 // indirect
	google.golang.org/protobuf v1.36.9 // indirect
)
