package paginate

import (
	"errors"
	"testing"

	"github.com/redcache/redcache/conn"
)

func testKeys(t testing.TB, name string) keys {
	t.Helper()
	k, err := newKeys("cache", name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const testPointer = "0123456789abcdef00112233445566778899aabbccddeeff"

func TestCursorRoundTrip(t *testing.T) {
	k := testKeys(t, "products")
	for _, cfg := range []config{{}, {cursorKey: []byte("0123456789abcdef")}} {
		c := newCursor(cfg, k, kindSorted, testPointer, 12.5, "item:7")
		cur, err := parseCursor(cfg, k, kindSorted, c)
		if err != nil {
			t.Fatal(err)
		}
		if cur.version != testPointer[:16] || cur.score != 12.5 || cur.member != "item:7" {
			t.Errorf("parsed %+v", cur)
		}
		if err := cur.verify(cfg, k, testPointer); err != nil {
			t.Errorf("verify: %v", err)
		}
		other := testPointer[:16] + "ffffffffffffffffffffffffffffffff"
		if cfg.cursorKey == nil && !errors.Is(cur.verify(cfg, k, other), ErrBadCursor) {
			t.Error("a cursor verified against another version's secret")
		}
		if _, err := parseCursor(cfg, testKeys(t, "other"), kindSorted, c); !errors.Is(err, ErrBadCursor) {
			t.Errorf("another list's cursor: %v", err)
		}
		if _, err := parseCursor(cfg, k, kindList, c); !errors.Is(err, ErrBadCursor) {
			t.Errorf("a sorted cursor given to a List: %v", err)
		}
	}
}

// FuzzParseCursor: whatever a client sends, parsing never panics, and
// nothing but a cursor this list signed passes the check.
func FuzzParseCursor(f *testing.F) {
	k := testKeys(f, "products")
	cfg := config{cursorKey: []byte("0123456789abcdef")}
	f.Add(string(newCursor(cfg, k, kindList, testPointer, 3, "3")))
	f.Add(string(newCursor(config{}, k, kindSorted, testPointer, -1e300, "")))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		cur, err := parseCursor(cfg, k, kindList, Cursor(s))
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v does not match ErrBadCursor", err)
			}
			return
		}
		if string(newCursor(cfg, k, kindList, cur.version+testPointer[16:], cur.score, cur.member)) != s {
			t.Fatalf("accepted %q, which is not the cursor of what it holds", s)
		}
	})
}

func TestPageBounds(t *testing.T) {
	for _, tc := range []struct {
		number, size int
		start, stop  int64
		bad          bool
	}{
		{1, 10, 0, 9, false},
		{3, 10, 20, 29, false},
		{1, 1, 0, 0, false},
		{0, 10, 0, 0, true},
		{-1, 10, 0, 0, true},
		{1, 0, 0, 0, true},
		{1, -5, 0, 0, true},
		{1 << 62, 1 << 10, 0, 0, true},
	} {
		start, stop, err := pageBounds(tc.number, tc.size)
		if tc.bad {
			if !errors.Is(err, conn.ErrBadArg) {
				t.Errorf("pageBounds(%d, %d): %v, want conn.ErrBadArg", tc.number, tc.size, err)
			}
			continue
		}
		if err != nil || start != tc.start || stop != tc.stop {
			t.Errorf("pageBounds(%d, %d) = %d, %d, %v; want %d, %d", tc.number, tc.size, start, stop, err, tc.start, tc.stop)
		}
	}
}

func TestKeysShareASlot(t *testing.T) {
	for _, name := range []string{"products", "a{b", "a}b", "{x}", "x{", "é", "feed:{user}:7"} {
		k := testKeys(t, name)
		v := k.version("0123456789abcdef")
		if conn.Slot(k.ptr) != conn.Slot(v+":z") || conn.Slot(k.ptr) != conn.Slot(v+":h") {
			t.Errorf("%q: its keys do not share a slot", name)
		}
	}
}
