package core

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/redcache/redcache/core/format"
)

// The entry format lives in package format; core writes values, negative
// entries and tombstones in it.

// encodeNegative is the payload of a negative entry: the matched
// sentinel is named by its message, which stays the same when the list
// given to WithNegativeCaching is reordered between releases.
func encodeNegative(sentinel error, msg string) []byte {
	n := format.Negative{Msg: msg}
	if sentinel != nil {
		n.Sentinel = sentinel.Error()
	}
	return n.Append(make([]byte, 0, n.Size()))
}

// decodeNegative reads the payload of a negative entry and maps the
// sentinel it names back to one of sentinels.
func decodeNegative(ent format.Entry, sentinels []error) (*CachedError, error) {
	n, err := format.ParseNegative(ent)
	if err != nil {
		return nil, err
	}
	ce := &CachedError{Msg: n.Msg}
	if n.Index > 0 && n.Index <= uint64(len(sentinels)) {
		// Version 1 named the sentinel by its index in the writer's list.
		ce.Sentinel = sentinels[n.Index-1]
	}
	if n.Sentinel != "" {
		// A sentinel this process does not know: keep the message, drop
		// the identity.
		for _, s := range sentinels {
			if s != nil && s.Error() == n.Sentinel {
				ce.Sentinel = s
				break
			}
		}
	}
	return ce, nil
}

// tombstone returns a new tombstone entry: its random nonce makes every
// tombstone differ from the last, so that a load fenced by one is not
// let through by the next.
func tombstone(gen uint64) []byte {
	var nonce [8]byte
	binary.BigEndian.PutUint64(nonce[:], rand.Uint64())
	ent := format.Entry{Tombstone: true, Generation: gen, Payload: nonce[:]}
	return ent.Append(make([]byte, 0, ent.Size()))
}
