package codec

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrEncode reports that Marshal failed: the value holds something its
	// codec cannot encode (a channel, a NaN for JSON, an unregistered type
	// in an interface field for gob), or a MarshalJSON or GobEncode method
	// failed or panicked. The codec's own error is wrapped too.
	ErrEncode = errors.New("redcache: codec: cannot encode")

	// ErrDecode reports that Unmarshal was given bytes it cannot decode into
	// the target: a corrupt or truncated payload, bytes written by another
	// codec or by no codec at all, or a value whose type no longer fits the
	// target's (a field that changed type). A cache treats such an entry as
	// a miss. The decoder's own error, if any, is wrapped too.
	ErrDecode = errors.New("redcache: codec: cannot decode")

	// ErrUnsupportedType reports a Go type the codec cannot handle: any type
	// but []byte, *[]byte, string and *string for [Raw], or an Unmarshal
	// target that is not a non-nil pointer for every codec. The message
	// names the type. From Marshal it comes together with [ErrEncode].
	ErrUnsupportedType = errors.New("redcache: codec: unsupported type")

	// ErrUnknownCodec reports a name or ID that [ByName] or [ByID] does not
	// know: a codec of some other program that this one did not
	// [Register].
	ErrUnknownCodec = errors.New("redcache: codec: unknown codec")
)

// alsoEncode makes an ErrUnsupportedType error from Marshal match
// ErrEncode too, without repeating ErrEncode's text.
type alsoEncode struct{ error }

func (e alsoEncode) Unwrap() []error { return []error{ErrEncode, e.error} }

// wrap wraps a codec's error in sentinel, naming the codec unless the
// error's text already starts with the name (as "gob: ..." does).
func wrap(sentinel error, name string, err error) error {
	if strings.HasPrefix(err.Error(), name+": ") {
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	return fmt.Errorf("%w: %s: %w", sentinel, name, err)
}
