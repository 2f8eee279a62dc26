package codec

import "fmt"

// Raw stores bytes and strings as they are, with no encoding at all: the
// codec for values that are bytes already (rendered pages, serialized
// protobufs, images) and for sharing keys with programs that read plain
// Redis strings. Its Name is "raw".
//
// Marshal takes a []byte, *[]byte, string or *string; Unmarshal takes a
// *[]byte or *string. Any other type is an error matching
// [ErrUnsupportedType] (and, from Marshal, [ErrEncode]) that names the
// type; so is a nil *[]byte or *string given to Marshal. Named types such
// as json.RawMessage are other types: convert them.
//
// Both copy: Marshal's result does not alias v, and a decoded []byte does
// not alias data. Raw cannot tell nil from empty: a nil or empty []byte
// and "" all store zero bytes, and zero bytes decode into a *[]byte as an
// empty, non-nil slice ([]byte{}) and into a *string as "". Unmarshal never
// fails on data: every byte sequence is a valid value.
var Raw Codec = rawCodec{}

type rawCodec struct{}

func (rawCodec) Name() string { return "raw" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case []byte:
		return clone(v), nil
	case string:
		return []byte(v), nil
	case *[]byte:
		if v != nil {
			return clone(*v), nil
		}
	case *string:
		if v != nil {
			return []byte(*v), nil
		}
	default:
		return nil, alsoEncode{fmt.Errorf("%w: raw: cannot encode %s (want []byte or string)", ErrUnsupportedType, typeName(v))}
	}
	return nil, fmt.Errorf("%w: raw: cannot encode a nil %T", ErrEncode, v)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	switch v := v.(type) {
	case *[]byte:
		if v != nil {
			*v = clone(data)
			return nil
		}
	case *string:
		if v != nil {
			*v = string(data)
			return nil
		}
	default:
		return fmt.Errorf("%w: raw: cannot decode into %s (want *[]byte or *string)", ErrUnsupportedType, typeName(v))
	}
	return fmt.Errorf("%w: raw: Unmarshal needs a non-nil pointer, got a nil %T", ErrUnsupportedType, v)
}

// clone copies b into a new slice that is never nil, even for an empty b.
func clone(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}
