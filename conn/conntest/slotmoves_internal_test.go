package conntest

import (
	"bufio"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/redcache/redcache/conn"
)

func TestReadReply(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want any
		bad  bool
	}{
		{"simple", "+OK\r\n", "OK", false},
		{"error", "-MOVED 3999 127.0.0.1:6381\r\n", replyError("MOVED 3999 127.0.0.1:6381"), false},
		{"integer", ":-12\r\n", int64(-12), false},
		{"bulk", "$5\r\nab\r\nc\r\n", "ab\r\nc", false},
		{"empty bulk", "$0\r\n\r\n", "", false},
		{"null bulk", "$-1\r\n", nil, false},
		{"null array", "*-1\r\n", nil, false},
		{"empty array", "*0\r\n", []any{}, false},
		{"keys", "*2\r\n$3\r\n{a}\r\n$4\r\n{a}b\r\n", []any{"{a}", "{a}b"}, false},
		{"role", "*3\r\n$6\r\nmaster\r\n:42\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$2\r\n42\r\n",
			[]any{"master", int64(42), []any{[]any{"127.0.0.1", "6380", "42"}}}, false},
		{"error in an array", "*2\r\n+OK\r\n-ERR no\r\n", []any{"OK", replyError("ERR no")}, false},
		{"bulk without CRLF", "$2\r\nabcd", nil, true},
		{"short bulk", "$10\r\nab\r\n", nil, true},
		{"short array", "*2\r\n+OK\r\n", nil, true},
		{"bad length", "$x\r\n", nil, true},
		{"bad integer", ":1.5\r\n", nil, true},
		{"unknown type", "%1\r\n", nil, true},
		{"line without CR", "+OK\n", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readReply(bufio.NewReader(strings.NewReader(c.in)))
			if c.bad {
				if err == nil {
					t.Fatalf("readReply(%q) = %#v, want an error", c.in, got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("readReply(%q) = %#v, %v; want %#v", c.in, got, err, c.want)
			}
		})
	}
}

func TestParseClusterNodes(t *testing.T) {
	const a, b, c = "aaaa", "bbbb", "cccc"
	text := a + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 [5461-<-" + b + "]\n" +
		b + " 127.0.0.1:7001@17001 master - 0 1700000000000 2 connected 5461-10922\n" +
		c + " 127.0.0.1:7002@17002 master - 0 1700000000000 3 connected 10923 10924-16383\n"
	v, err := parseClusterNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	for slot, want := range map[int]string{0: a, 5460: a, 5461: b, 10922: b, 10923: c, 16383: c} {
		if v.owner[slot] != want {
			t.Errorf("owner of slot %d = %q, want %q", slot, v.owner[slot], want)
		}
	}
	if v.primaries != 3 || !v.migrating || v.trouble != "" {
		t.Errorf("primaries, migrating, trouble = %d, %v, %q; want 3, true, \"\"", v.primaries, v.migrating, v.trouble)
	}

	v, err = parseClusterNodes(a + " 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383\n" +
		b + " 127.0.0.1:7001@17001 master,fail? - 0 0 2 connected\n")
	if err != nil || v.trouble != b+" fail?" {
		t.Errorf("a failing node: trouble = %q, %v; want %q", v.trouble, err, b+" fail?")
	}
	v, err = parseClusterNodes(a + " 127.0.0.1:7000@17000 master - 0 0 1 disconnected 0-16383\n")
	if err != nil || v.trouble != a+" disconnected" {
		t.Errorf("a node not connected: trouble = %q, %v; want %q", v.trouble, err, a+" disconnected")
	}
	for _, bad := range []string{"short line", a + " x master - 0 0 1 connected 5-3", a + " x master - 0 0 1 connected 16384"} {
		if _, err := parseClusterNodes(bad); err == nil {
			t.Errorf("parseClusterNodes(%q) succeeded, want an error", bad)
		}
	}
}

func TestErrorCount(t *testing.T) {
	info := "# Errorstats\r\nerrorstat_ASK:count=3\r\nerrorstat_MOVED:count=12\r\nerrorstat_ERR:count=1\r\n"
	if got := errorCount(info, "MOVED"); got != 12 {
		t.Errorf("MOVED = %d, want 12", got)
	}
	if got := errorCount(info, "ASK"); got != 3 {
		t.Errorf("ASK = %d, want 3", got)
	}
	if got := errorCount(info, "TRYAGAIN"); got != 0 {
		t.Errorf("TRYAGAIN = %d, want 0", got)
	}
}

// TestSlotClusterMove: the case's own cluster comes up with every slot
// served, and a move carries a slot's keys (and only them) to the other
// primary and back, with the old owner redirecting meanwhile.
func TestSlotClusterMove(t *testing.T) {
	c := startSlotCluster(t, 3)
	if why := c.disagreement(); why != "" {
		t.Fatalf("the cluster is up but: %s", why)
	}
	tag := "{clustermove}"
	slot := int(conn.Slot(tag))
	home := c.ownerOf(t, slot)
	away := (home + 1) % 3
	const keys = 1100 // more than one GETKEYSINSLOT returns (1000)
	for i := range keys {
		c.do(t, home, "SET", tag+strconv.Itoa(i), "v"+strconv.Itoa(i))
	}
	other := "other" // a key of another slot of home, which must stay
	for conn.Slot(other) == uint16(slot) || c.ownerOf(t, int(conn.Slot(other))) != home {
		other += "x"
	}
	c.do(t, home, "SET", other, "stays")

	if n := c.moveSlot(t, slot, home, away); n != keys {
		t.Errorf("moveSlot migrated %d keys, want %d", n, keys)
	}
	if got := c.do(t, away, "GET", tag+"7"); got != "v7" {
		t.Errorf("GET on the new owner = %#v, want %q", got, "v7")
	}
	_, err := adminDo(c.nodes[home].Addr(), "GET", tag+"7")
	var re replyError
	if !errors.As(err, &re) || !strings.HasPrefix(string(re), "MOVED "+strconv.Itoa(slot)+" "+c.nodes[away].Addr()) {
		t.Errorf("GET on the old owner: %v, want MOVED %d %s", err, slot, c.nodes[away].Addr())
	}
	if got := c.do(t, home, "GET", other); got != "stays" {
		t.Errorf("GET of a key of another slot = %#v, want %q", got, "stays")
	}
	if moved, _ := c.redirects(t); moved == 0 {
		t.Error("INFO errorstats counts no MOVED after one was sent")
	}

	c.moveSlot(t, slot, away, home)
	for i, n := range []int{home, away} {
		want := []int64{keys, 0}[i]
		if got := c.do(t, n, "CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(slot)); got != want {
			t.Errorf("node %s holds %v keys of slot %d after the move back, want %d", c.nodes[n].Addr(), got, slot, want)
		}
	}
}
