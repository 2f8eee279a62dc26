// Package codec turns the values redcache caches into bytes for Redis and
// back. A [Codec] has three methods, Marshal, Unmarshal and Name; the
// package provides three of them and a wrapper that compresses large
// values:
//
//   - [Gob], the default: encoding/gob, which stores almost any Go value
//     and gives it back with its Go types, as the original library's
//     pickle did.
//   - [JSON]: encoding/json, readable in redis-cli and by other languages,
//     at the price of JSON's smaller set of types.
//   - [Raw]: []byte and string stored as they are.
//   - [Compress]: any of them (or your own), DEFLATE-compressed from 1 KiB
//     on.
//
// The package imports only the standard library.
//
// # Choosing a codec
//
// Use Gob unless you have a reason not to. It needs no struct tags, keeps
// Go's types (an int64 stays an int64, a time.Time a time.Time, a value in
// an interface field its concrete type, once registered), and tolerates
// fields added to or removed from a struct between the process that wrote
// a value and the one that reads it.
//
// Use JSON when something else reads the cache (another service, a person
// in redis-cli), or when values must survive renaming a Go type (gob
// records the names of types stored in interfaces). It is not faster:
// Gob decodes a 1 KiB struct about three times faster than JSON (see
// Performance).
//
// Use Raw when the value is bytes already: a rendered page, an image, a
// protobuf you marshaled yourself.
//
// Wrap any of them with Compress when values are large (many KiB) and
// compressible (text, JSON, lists of records) and network or Redis memory
// costs more than CPU: a 16 KiB gob list of records shrinks about 3.5
// times. Small values pass through with one byte of overhead.
//
// # What comes back
//
// No codec gives back every Go value exactly. The differences that matter
// to a cache:
//
//	                        Gob                     JSON                    Raw
//	nil pointer             nil                     nil                     (error)
//	nil slice or map        nil                     nil                     []byte{}
//	empty slice             nil                     empty                   []byte{}
//	empty map               empty                   empty                   -
//	unexported fields       dropped                 dropped                 -
//	int64 into any          int64                   float64 (2^53 limit)    -
//	struct into any         the struct (registered) map[string]any          -
//	time.Time               instant and offset      instant and offset      -
//	invalid UTF-8 strings   kept                    replaced by U+FFFD      kept
//	NaN, ±Inf               kept                    ErrEncode               -
//	pointer cycles          fatal stack overflow    ErrEncode               -
//
// Times keep their instant to the nanosecond and their UTC offset, but not
// their location: a time in America/New_York comes back in an unnamed
// fixed zone with the same offset (time.Local if that has the same offset
// then, UTC if it was UTC), and its monotonic reading is dropped. Compare
// cached times with [time.Time.Equal], never ==. The documentation of
// [Gob], [JSON] and [Raw] has the details.
//
// Every codec's Unmarshal replaces the value its argument points to rather
// than merging into it (gob and json on their own leave fields that the
// data does not mention untouched, which would mix a cached value with
// whatever the variable held), and never keeps or aliases the bytes it was
// given.
//
// # Errors
//
// Errors are wrapped sentinels, checked with [errors.Is]:
//
//   - [ErrEncode]: Marshal failed; the value cannot be stored.
//   - [ErrDecode]: the bytes are corrupt, foreign, or no longer fit the
//     target type (a field changed type). A cache treats the entry as a
//     miss. Unmarshal never panics, whatever the bytes: panics inside the
//     standard decoders or in GobDecode and UnmarshalJSON methods are
//     recovered and returned as ErrDecode, and every decoder here is
//     fuzzed.
//   - [ErrUnsupportedType]: a Go type the codec cannot handle, such as an
//     int for Raw, or an Unmarshal target that is not a non-nil pointer.
//   - [ErrUnknownCodec]: [ByName] or [ByID] found no such codec.
//
// # Codec identity
//
// A cache entry may outlive the program that wrote it, and the program
// that reads it may be configured with another codec. [Codec.Name] is a
// short, stable identity of the format ("gob", "json+flate"); [ByName]
// finds the codec for a name. The built-in codecs and their compressed
// forms also have a one-byte [ID] (Gob 1, JSON 2, Raw 3, compressed 0x80|x),
// which [ByID] turns back into a codec, for headers where every byte
// counts. Codecs of your own are found by name once you [Register] them.
//
// # Compression
//
// [Compress] uses DEFLATE from compress/flate behind a 1-byte marker,
// described on Compress. Its defaults are a threshold of 1 KiB
// ([DefaultThreshold]) and flate.BestSpeed ([DefaultLevel]): on a 16 KiB
// list of records, BestSpeed made it 3.5 times smaller at about a third of
// the time flate.DefaultCompression took, which made it 7% smaller still.
// The level and the threshold are free to change at any time: they change
// what is written, never what can be read.
//
// Only the standard library is used. Measured on the same 16 KiB of text
// on the development machine (a shared 2-core AMD EPYC VM, so only the
// ratios mean much), github.com/klauspost/compress/flate, which writes the
// same DEFLATE format, compressed and inflated about 2.5 times faster than
// compress/flate, for the same size; its s2 was about 6 times faster to
// compress and 10 to inflate, but 40% larger; its zstd at the fastest level
// compressed no faster than compress/flate at BestSpeed (values this small
// do not amortize its setup) and inflated about 2.5 times faster. Because
// klauspost's flate is wire-compatible, a program that wants it can wrap
// it in a codec of its own, and a later release of this package could
// switch to it without changing a stored byte. It is not a dependency
// today: this module stays on the standard library, and the difference
// (50 to 100 microseconds per 16 KiB value, each way, on that machine)
// matters only to programs that compress many large values, which can
// make that choice themselves.
//
// # Performance
//
// Measured with the package's benchmarks (go test -bench . -benchmem; see
// bench_test.go) on the development machine described above, which was
// running a dozen other jobs: only the ratios and the allocation counts
// mean much. BenchmarkProduct is the value of the comparison harness in
// tools (a 1 KiB struct); msgpack (github.com/vmihailenco/msgpack/v5, not
// a dependency) was measured on the same struct in one run with the
// others, for reference. Times are CPU time per call (BenchmarkProduct's
// cpu-ns/op):
//
//	1 KiB struct     Marshal                 Unmarshal
//	Gob              ~2 µs,   3 allocs       ~3 µs,  10 allocs
//	JSON             ~2.5 µs, 3 allocs       ~8 µs,  15 allocs
//	msgpack          ~2 µs,   5 allocs       ~2.5 µs, 9 allocs
//	Raw (1 KiB)      ~0.3 µs, 1 alloc        ~0.4 µs, 2 allocs
//
// Before Gob kept its encoders and decoders per type (see [Gob]), the same
// struct took about 8 µs and 22 allocations to marshal, 28 µs and 199
// allocations to unmarshal: every value paid for a new gob.Encoder
// describing its types and a new gob.Decoder compiling a decoding engine
// for them. Types that can hold an interface value still pay that.
//
// On a 16 KiB value (a list of 24 records), Compress at BestSpeed added
// about 100 µs to each of Marshal and Unmarshal and stored 4.6 KiB, at
// DefaultCompression it added about 300 µs to Marshal for 4.3 KiB. The
// machine is shared, so these numbers moved by up to a factor of two
// between runs; run the benchmarks on yours.
//
// Gob's Marshal and Unmarshal take their encoders, decoders and buffers
// from sync.Pools and make a single copy of the result; Compress pools its
// flate writers and readers, which are hundreds of KiB each.
//
// # Writing your own codec
//
// Implement [Codec] and keep the promises listed on it: Marshal's result
// belongs to the caller; Unmarshal takes a non-nil pointer, replaces what
// it points to, never keeps data, and never panics; errors wrap
// [ErrEncode], [ErrDecode] and [ErrUnsupportedType]; Name is stable and
// unique and contains no '+'. Register it in an init function of every
// program that reads its values, and it works with [ByName] and [Compress]
// like the built-in codecs. The customCodec example stores any
// encoding.BinaryMarshaler this way.
package codec
