package codec

import (
	"encoding/json"
	"errors"
	"fmt"
)

// JSON is encoding/json: readable in redis-cli, shared with programs in
// other languages, and the codec the original library's README shows as
// its first extension. Its Name is "json".
//
// JSON knows fewer types than Go, so some values come back changed:
//
//   - Decoded into an interface (a *any target, a field of type any),
//     numbers become float64 (an int64 beyond 2^53 loses precision),
//     objects map[string]any and arrays []any. Decode into the concrete
//     type to get it back.
//   - time.Time keeps its instant, to the nanosecond, and its UTC offset,
//     but not its location: a time in America/New_York comes back in an
//     unnamed fixed zone with the same offset (or in time.Local, if that
//     has the same offset at that instant; a UTC time comes back in UTC).
//     Compare times with [time.Time.Equal].
//   - nil and empty differ: a nil slice or map is null and comes back nil;
//     an empty one is [] or {} and comes back empty. A nil pointer is null
//     and comes back nil.
//   - []byte is base64 text; strings with invalid UTF-8 come back with
//     U+FFFD in place of the bad bytes.
//   - Unexported fields and fields tagged `json:"-"` are not stored. Map
//     keys must be strings, integers or encoding.TextMarshalers.
//   - NaN and ±Inf, channels, functions and complex numbers cannot be
//     marshaled ([ErrEncode]; for the types also [ErrUnsupportedType]);
//     nor can a value with a pointer cycle.
//
// Unmarshal replaces *v (it sets it to its zero value first, where
// encoding/json would leave fields absent from data untouched), and turns
// a syntax error, a value of the wrong JSON type and a panic in an
// UnmarshalJSON method into an [ErrDecode].
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Name() string { return "json" }

func (jsonCodec) Marshal(v any) (data []byte, err error) {
	defer encodePanic("json", &err)
	// json.Marshal already encodes into a pooled buffer and returns a copy.
	data, err = json.Marshal(v)
	if err != nil {
		var ute *json.UnsupportedTypeError
		if errors.As(err, &ute) {
			return nil, alsoEncode{fmt.Errorf("%w: %w", ErrUnsupportedType, err)}
		}
		return nil, wrap(ErrEncode, "json", err)
	}
	return data, nil
}

func (jsonCodec) Unmarshal(data []byte, v any) (err error) {
	if err := target("json", v); err != nil {
		return err
	}
	defer decodePanic("json", &err)
	if err := json.Unmarshal(data, v); err != nil {
		return wrap(ErrDecode, "json", err)
	}
	return nil
}
