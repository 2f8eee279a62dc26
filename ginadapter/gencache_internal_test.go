package ginadapter

import (
	"strconv"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// driverID stands for a driver: only its identity matters to the cache.
type driverID struct {
	conn.Driver
	id int
}

func TestGenCacheForwardAndBounded(t *testing.T) {
	var g genCache
	d1, d2 := driverID{id: 1}, driverID{id: 2}
	now := time.Now()
	g.store(d1, "k", "1700000000000", now)
	g.store(d1, "k", "999", now) // older: not adopted
	g.store(d2, "k", "5", now)   // another Redis: its own
	vals := make([]string, 1)
	if miss := g.lookup(d1, []string{"k"}, vals, time.Second, now); len(miss) != 0 || vals[0] != "1700000000000" {
		t.Fatalf("d1: missing %v, value %q", miss, vals[0])
	}
	if miss := g.lookup(d2, []string{"k"}, vals, time.Second, now); len(miss) != 0 || vals[0] != "5" {
		t.Fatalf("d2: missing %v, value %q", miss, vals[0])
	}
	if miss := g.lookup(d1, []string{"k"}, vals, time.Second, now.Add(2*time.Second)); len(miss) != 1 {
		t.Fatalf("a generation older than the interval was trusted")
	}
	if miss := g.lookup(d1, []string{"k"}, vals, 0, now); len(miss) != 1 {
		t.Fatalf("with no interval, a generation was trusted")
	}
	for i := range 3 * genCacheMax {
		g.store(d1, "path:/"+strconv.Itoa(i), "1", now)
	}
	if n := len(g.m); n > genCacheMax {
		t.Fatalf("%d generations kept, want at most %d", n, genCacheMax)
	}
	if genCacheable(nil) {
		t.Fatal("a nil driver is a key")
	}
}

func TestKeyFields(t *testing.T) {
	cases := []struct{ a, b string }{
		{"/a?x=1&y=2", "/a?y=2&x=1"},
		{"/a?x=2&x=1", "/a?x=1&x=2"},
	}
	for _, tc := range cases {
		if sortedQuery(tc.a[3:]) != sortedQuery(tc.b[3:]) {
			t.Errorf("%s and %s differ", tc.a, tc.b)
		}
	}
	if got := acceptedCodings(map[string][]string{"Accept-Encoding": {"gzip;q=0, br, identity, GZIP"}}); len(got) != 2 || got[0] != "br" || got[1] != "gzip" {
		t.Errorf("acceptedCodings = %v", got)
	}
	if accepts(map[string][]string{"Accept-Encoding": {"gzip;q=0"}}, "gzip") {
		t.Error("q=0 accepted")
	}
	for _, lv := range []struct {
		path string
		want int
	}{{"/", 1}, {"/a", 2}, {"/a/b/", 3}, {"/1/2/3/4/5/6/7/8/9/10", 9}} {
		if got := pathLevels(lv.path, 8); len(got) != lv.want {
			t.Errorf("pathLevels(%q) = %v", lv.path, got)
		}
	}
	if !etagMatch(`"x", W/"abc"`, `W/"abc"`) || etagMatch(`"abd"`, `W/"abc"`) || !etagMatch("*", `"a"`) {
		t.Error("etagMatch")
	}
}
