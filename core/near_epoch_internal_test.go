package core

import (
	"strconv"
	"testing"
	"time"
)

// Issue 8 item 7: an invalidation of one key does not refuse the near
// fills of the other keys in flight (16 shard-wide epochs refused nearly
// every fill under message load).
func TestNearEpochsPerKey(t *testing.T) {
	n := newNearCache[int](10000, time.Minute)
	refused := 0
	for i := 0; i < 1000; i++ {
		key := "k" + strconv.Itoa(i)
		epoch := n.epoch(key) // a fill starts
		n.drop("other" + strconv.Itoa(i))
		n.drop("another" + strconv.Itoa(i))
		now := time.Now().UnixNano()
		n.put(key, i, 1, epoch, now, 0)
		if _, ok := n.get(key, 1, now); !ok {
			refused++
		}
	}
	// Two unrelated drops per fill share a counter with it about 0.2% of
	// the time.
	if refused > 20 {
		t.Fatalf("%d of 1000 fills refused by invalidations of other keys", refused)
	}
	// A drop of the key itself, or of everything, always refuses its fill.
	epoch := n.epoch("mine")
	n.drop("mine")
	n.put("mine", 1, 1, epoch, time.Now().UnixNano(), 0)
	epoch2 := n.epoch("mine2")
	n.clear()
	n.put("mine2", 1, 1, epoch2, time.Now().UnixNano(), 0)
	for _, k := range []string{"mine", "mine2"} {
		if _, ok := n.get(k, 1, time.Now().UnixNano()); ok {
			t.Fatalf("a fill of %s survived an invalidation that came during it", k)
		}
	}
}
