package paginate

import (
	"fmt"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/core/format"
)

// itemCodec encodes each item on its own, as a core entry: the codec's
// bytes behind core's versioned, checksummed header, whose generation
// field holds the list's identity. A page decodes only its own items, and
// an item that is corrupt, of another list or of another codec is an
// error, never a wrong item.
type itemCodec[T any] struct {
	cd    codec.Codec
	id    byte // codec.ID, 0 when the codec has none
	owner uint64
}

func newItemCodec[T any](cd codec.Codec, owner uint64) itemCodec[T] {
	id, _ := codec.ID(cd)
	return itemCodec[T]{cd: cd, id: id, owner: owner}
}

func (c itemCodec[T]) encode(v T) (string, error) {
	b, err := c.cd.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("redcache/paginate: %w", err)
	}
	e := format.Entry{Codec: c.id, Generation: c.owner, Payload: b}
	return string(e.Append(make([]byte, 0, e.Size()))), nil
}

func (c itemCodec[T]) decode(id string, raw any) (T, error) {
	var v T
	s, ok := raw.(string)
	if !ok {
		return v, corruptItem(id, fmt.Errorf("no bytes stored (%T)", raw))
	}
	e, err := format.Parse([]byte(s))
	switch {
	case err != nil:
		return v, corruptItem(id, err)
	case e.Negative || e.Tombstone:
		return v, corruptItem(id, fmt.Errorf("%w: not a list item", format.ErrCorruptEntry))
	case e.Generation != c.owner:
		return v, corruptItem(id, fmt.Errorf("%w: an item of another list", format.ErrCorruptEntry))
	case e.Codec != c.id:
		return v, corruptItem(id, fmt.Errorf("%w: codec %d, this list reads %d (%s)", format.ErrCorruptEntry, e.Codec, c.id, c.cd.Name()))
	}
	if err := c.cd.Unmarshal(e.Payload, &v); err != nil {
		return v, corruptItem(id, err)
	}
	return v, nil
}
