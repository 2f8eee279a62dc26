package codec

import (
	"bytes"
	"reflect"
)

// GobPrimed reports whether Gob's Unmarshal of data into target takes the
// primed path: a pooled Decoder that has read the type definitions data
// starts with, given the value message alone.
func GobPrimed(data []byte, target any) bool {
	gt := gobTypeOf(reflect.TypeOf(target).Elem())
	if !gt.fast {
		return false
	}
	at, ok := gobSplit(data)
	return ok && bytes.Equal(data[:at], gt.canon)
}

// GobSplit is gobSplit: where the value message of a Gob value starts.
func GobSplit(data []byte) (int, bool) { return gobSplit(data) }

// ErrGobMapBomb is the error of a map with more entries than bytes.
var ErrGobMapBomb = errMapBomb
