package paginate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math"
)

// Cursor marks a place in a list: the next [List.After] or
// [Sorted.After] continues right after the item it was taken at, however
// many items were added before it since. It is opaque and signed
// (HMAC-SHA256, with the key of [WithCursorKey] or else with a secret
// each version of the list keeps in Redis), so a client may hold it, but
// a cursor that was altered, forged or issued by another list is
// [ErrBadCursor], and one issued before a Replace is [ErrStaleCursor].
// The empty Cursor is no place: After refuses it.
type Cursor string

const (
	kindList   = 'L'
	kindSorted = 'S'
	macSize    = 16
	// kind, owner, version, score, then the member
	cursorHead = 1 + 4 + 8 + 8
)

// cursor is a decoded Cursor.
type cursor struct {
	version string // 16 hex digits
	score   float64
	member  string
	payload []byte
	mac     []byte
}

func (k keys) sign(key []byte, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(k.base))
	m.Write(payload)
	return m.Sum(nil)[:macSize]
}

// secret returns the cursor key: the configured one, else the version's.
func cursorKey(cfg config, pointer string) []byte {
	if cfg.cursorKey != nil {
		return cfg.cursorKey
	}
	b, _ := hex.DecodeString(pointer[16:])
	return b
}

// newCursor returns the cursor right after (score, member) in the version
// that pointer names.
func newCursor(cfg config, k keys, kind byte, pointer string, score float64, member string) Cursor {
	p := make([]byte, cursorHead, cursorHead+len(member)+macSize)
	p[0] = kind
	binary.BigEndian.PutUint32(p[1:], uint32(k.id))
	_, _ = hex.Decode(p[5:13], []byte(pointer[:16]))
	binary.BigEndian.PutUint64(p[13:], math.Float64bits(score))
	p = append(p, member...)
	p = append(p, k.sign(cursorKey(cfg, pointer), p)...)
	return Cursor(base64.RawURLEncoding.EncodeToString(p))
}

// parseCursor decodes c and checks what can be checked before Redis is
// asked: its form, its kind and its list, and its signature when the
// list has a configured key.
func parseCursor(cfg config, k keys, kind byte, c Cursor) (cursor, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(string(c))
	if err != nil || len(b) < cursorHead+macSize || b[0] != kind {
		return cursor{}, ErrBadCursor
	}
	if binary.BigEndian.Uint32(b[1:]) != uint32(k.id) {
		return cursor{}, ErrBadCursor
	}
	n := len(b) - macSize
	cur := cursor{
		version: hex.EncodeToString(b[5:13]),
		score:   math.Float64frombits(binary.BigEndian.Uint64(b[13:])),
		member:  string(b[cursorHead:n]),
		payload: b[:n],
		mac:     b[n:],
	}
	if math.IsNaN(cur.score) || math.IsInf(cur.score, 0) {
		return cursor{}, ErrBadCursor
	}
	if cfg.cursorKey != nil && !hmac.Equal(cur.mac, k.sign(cfg.cursorKey, cur.payload)) {
		return cursor{}, ErrBadCursor
	}
	return cur, nil
}

// verify checks the signature against the version's secret, once Redis
// gave it; with a configured key, parseCursor checked it already.
func (cur cursor) verify(cfg config, k keys, pointer string) error {
	if cfg.cursorKey != nil {
		return nil
	}
	if !hmac.Equal(cur.mac, k.sign(cursorKey(cfg, pointer), cur.payload)) {
		return ErrBadCursor
	}
	return nil
}
