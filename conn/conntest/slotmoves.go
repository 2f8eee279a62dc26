package conntest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// The sizes of the slot-moves case.
const (
	// slotMoveWorkers is how many goroutines call the driver while the
	// slot moves.
	slotMoveWorkers = 32
	// slotMoveCallDeadline is the deadline of each of their calls: a
	// redirection costs a round trip or two, never seconds.
	slotMoveCallDeadline = 10 * time.Second
	// slotMoveSettle is how long the workers run before the first move,
	// between two moves and after the last one.
	slotMoveSettle = 200 * time.Millisecond
	// slotMoveTrips is how many times the slot goes to another primary and
	// back.
	slotMoveTrips = 2
	// slotMoveNodes is how many primaries the case's cluster has.
	slotMoveNodes = 3
)

// RunSlotMoves checks that a driver keeps every command with its own
// reply while a hash slot migrates between the primaries of a Redis
// Cluster, the case where batches formed for the node that owned the slot
// meet ASK and MOVED redirections.
//
// It starts a 3-primary cluster of its own on loopback (a failure halfway
// leaves no shared server with a slot in the middle of a move) and calls
// open with its primaries' host:port. 32 goroutines then call the driver
// in rounds on keys of one hash slot, each round a Set, a Get, an MGet of
// that key and a second key of the worker's, and a Set and Del of a third
// key, with values that carry the worker and the round; meanwhile the slot
// migrates to another primary and back, twice, as redis-cli --cluster
// reshard moves it (IMPORTING and MIGRATING, MIGRATE of its keys, then
// SETSLOT NODE on every primary). Every call must succeed within a 10 s
// deadline with its own reply, the servers must have sent redirections
// (the case did test them), and at the end every key is on the slot's
// owner with the value of its last acknowledged write: nothing was lost.
//
// The keys of a worker's MGet exist before the first move and are never
// deleted, so Redis always has them on the same node and never answers
// TRYAGAIN; a driver need not retry that.
//
// It closes the driver open returned, and skips, or fails under
// EnvRequire, without redis-server.
func RunSlotMoves(t *testing.T, open func(t *testing.T, addrs []string) conn.Driver) {
	t.Helper()
	began := time.Now()
	c := startSlotCluster(t, slotMoveNodes)
	settled := time.Since(began)
	d := open(t, c.addrs())
	if d == nil {
		t.Fatal("conntest: open returned nil")
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { _ = d.Close() }) })

	tag := "{slotmoves" + randomHex(4) + "}"
	slot := int(conn.Slot(tag))
	home := c.ownerOf(t, slot)
	away := (home + 1) % len(c.nodes)

	l := &slotLoad{d: d, tag: tag}
	l.prepare(t)
	l.start()
	moved := 0
	stopped := false
	defer func() {
		if !stopped { // a move failed the test: let the workers go
			l.stop.Store(true)
			waitGroup(&l.wg, slotMoveCallDeadline+5*time.Second)
		}
	}()
	time.Sleep(slotMoveSettle)
	for range slotMoveTrips {
		for _, hop := range [][2]int{{home, away}, {away, home}} {
			moved += c.moveSlot(t, slot, hop[0], hop[1])
			time.Sleep(slotMoveSettle)
		}
	}
	l.stop.Store(true)
	stopped = true
	if !waitGroup(&l.wg, slotMoveCallDeadline+5*time.Second) {
		t.Fatalf("the workers had not returned %v after being told to stop", slotMoveCallDeadline+5*time.Second)
	}
	close(l.problems)
	failed := false
	for p := range l.problems {
		t.Error(p)
		failed = true
	}
	movedReplies, askReplies := c.redirects(t)
	t.Logf("%d rounds (Set, Get, MGet, Set, Del) by %d workers, the slowest in %v, while slot %d moved %d times (%d keys migrated); the servers answered MOVED %d times and ASK %d times; the cluster took %v to settle",
		l.rounds.Load(), slotMoveWorkers, time.Duration(l.slowest.Load()).Round(time.Millisecond), slot, 2*slotMoveTrips, moved,
		movedReplies, askReplies, settled.Round(time.Millisecond))
	if failed {
		return
	}
	if movedReplies+askReplies == 0 {
		t.Error("no server answered MOVED or ASK: the driver was never redirected, so the case tested nothing")
	}
	l.check(t, c, slot, home)
}

// slotLoad is the workers' side of the case: keys of one hash slot, each
// worker with keys of its own.
type slotLoad struct {
	d   conn.Driver
	tag string

	wg       sync.WaitGroup
	stop     atomic.Bool
	rounds   atomic.Int64
	slowest  atomic.Int64 // the longest round, in nanoseconds
	problems chan string
	last     [slotMoveWorkers]string // each worker's last acknowledged Set of its key
}

func (l *slotLoad) key(w int) string   { return l.tag + ":" + strconv.Itoa(w) }
func (l *slotLoad) fixed(w int) string { return l.tag + ":" + strconv.Itoa(w) + ":fixed" }
func (l *slotLoad) temp(w int) string  { return l.tag + ":" + strconv.Itoa(w) + ":temp" }

func fixedValue(w int) string { return "fixed/" + strconv.Itoa(w) }

// prepare writes each worker's key and fixed key before the slot moves,
// so that they live on the same node all along.
func (l *slotLoad) prepare(t *testing.T) {
	t.Helper()
	ctx := ctxT(t)
	for w := range slotMoveWorkers {
		must(t, l.d.Set(ctx, l.key(w), []byte("start/"+strconv.Itoa(w)), time.Hour), "Set before the moves")
		must(t, l.d.Set(ctx, l.fixed(w), []byte(fixedValue(w)), time.Hour), "Set before the moves")
	}
}

func (l *slotLoad) start() {
	l.problems = make(chan string, slotMoveWorkers)
	for w := range slotMoveWorkers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			if err := l.worker(w); err != nil {
				l.problems <- fmt.Sprintf("worker %d: %v", w, err)
			}
		}()
	}
}

// worker runs rounds until told to stop, and returns at the first call
// that fails or returns another reply than its own.
func (l *slotLoad) worker(w int) error {
	key, fixed, temp := l.key(w), l.fixed(w), l.temp(w)
	for i := 0; !l.stop.Load(); i++ {
		want := strconv.Itoa(w) + "/" + strconv.Itoa(i)
		start := time.Now()
		if err := l.round(w, key, fixed, temp, want); err != nil {
			return fmt.Errorf("round %d: %w", i, err)
		}
		for took := int64(time.Since(start)); ; {
			old := l.slowest.Load()
			if took <= old || l.slowest.CompareAndSwap(old, took) {
				break
			}
		}
		l.last[w] = want
		l.rounds.Add(1)
	}
	return nil
}

func (l *slotLoad) round(w int, key, fixed, temp, want string) error {
	ctx, cancel := context.WithTimeout(context.Background(), slotMoveCallDeadline)
	defer cancel()
	start := time.Now()
	late := func(what string, err error) error {
		return fmt.Errorf("%s after %v: %w", what, time.Since(start).Round(time.Millisecond), err)
	}
	if err := l.d.Set(ctx, key, []byte(want), time.Hour); err != nil {
		return late("Set", err)
	}
	got, err := l.d.Get(ctx, key)
	if err != nil {
		return late("Get", err)
	}
	if string(got) != want {
		return fmt.Errorf("Get = %q, want %q", got, want)
	}
	vals, err := l.d.MGet(ctx, key, fixed)
	if err != nil {
		return late("MGet", err)
	}
	if len(vals) != 2 || string(vals[0]) != want || string(vals[1]) != fixedValue(w) {
		return fmt.Errorf("MGet = %q, want [%q %q]", vals, want, fixedValue(w))
	}
	if err := l.d.Set(ctx, temp, []byte(want), time.Hour); err != nil {
		return late("Set", err)
	}
	n, err := l.d.Del(ctx, temp)
	if err != nil {
		return late("Del", err)
	}
	if n != 1 {
		return fmt.Errorf("Del of a key just set = %d, want 1", n)
	}
	return nil
}

// check reads every key back once the slot is home again: each holds its
// last acknowledged value, through the driver and on the slot's owner,
// and no key was left on another node.
func (l *slotLoad) check(t *testing.T, c *slotCluster, slot, home int) {
	t.Helper()
	ctx := ctxT(t)
	for w := range slotMoveWorkers {
		got, err := l.d.Get(ctx, l.key(w))
		if err != nil || string(got) != l.last[w] {
			t.Errorf("worker %d's key after the moves: Get = %q, %v; want %q, its last acknowledged Set", w, got, err, l.last[w])
		}
		got, err = l.d.Get(ctx, l.fixed(w))
		if err != nil || string(got) != fixedValue(w) {
			t.Errorf("worker %d's fixed key after the moves: Get = %q, %v; want %q", w, got, err, fixedValue(w))
		}
	}
	for i := range c.nodes {
		n, ok := c.do(t, i, "CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(slot)).(int64)
		want := int64(0)
		if i == home {
			want = 2 * slotMoveWorkers
		}
		if !ok || n != want {
			t.Errorf("node %s holds %d keys of slot %d after the moves, want %d", c.nodes[i].Addr(), n, slot, want)
		}
	}
}

// slotCluster is a Redis Cluster of primaries only that a test starts on
// loopback and owns, with slots it may move.
type slotCluster struct {
	nodes []*Process
	ids   []string
	buses []int // the nodes' cluster bus ports
}

// startSlotCluster starts n primaries, gives each an equal share of the
// slots and a config epoch of its own (as redis-cli --cluster create
// does), introduces them, and waits until every node sees the same slot
// map.
func startSlotCluster(t *testing.T, n int) *slotCluster {
	t.Helper()
	c := &slotCluster{}
	for range n {
		// The bus port is chosen too: the default, the port plus 10000,
		// is past 65535 for a third of the ephemeral range.
		bus, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, StartRedis(t, "--cluster-enabled", "yes",
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"))
		c.buses = append(c.buses, bus)
	}
	per := conn.SlotCount / n
	for i := range c.nodes {
		id, ok := c.do(t, i, "CLUSTER", "MYID").(string)
		if !ok || id == "" {
			t.Fatalf("CLUSTER MYID of %s: no id", c.nodes[i].Addr())
		}
		c.ids = append(c.ids, id)
		lo, hi := i*per, (i+1)*per-1
		if i == n-1 {
			hi = conn.SlotCount - 1
		}
		c.do(t, i, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi))
		c.do(t, i, "CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1))
	}
	// Every node meets every other: no handshake waits for gossip.
	for i := 1; i < n; i++ {
		for j := range i {
			c.do(t, i, "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(c.nodes[j].Port()), strconv.Itoa(c.buses[j]))
		}
	}
	c.waitAgreed(t, 20*time.Second)
	return c
}

// addrs returns the primaries' host:port.
func (c *slotCluster) addrs() []string {
	a := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		a[i] = n.Addr()
	}
	return a
}

// do sends a command to node i and fails t on an error.
func (c *slotCluster) do(t *testing.T, i int, args ...string) any {
	t.Helper()
	v, err := adminDo(c.nodes[i].Addr(), args...)
	if err != nil {
		t.Fatalf("%s on %s: %v", strings.Join(args, " "), c.nodes[i].Addr(), err)
	}
	return v
}

// waitAgreed waits until every node is a primary, reports
// cluster_state:ok, knows every other node as a connected primary, and
// sees the same owner for every slot.
func (c *slotCluster) waitAgreed(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		why := c.disagreement()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not settle within %v: %s", limit, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// disagreement returns why the nodes do not agree yet, or "".
func (c *slotCluster) disagreement() string {
	var first *clusterView
	for i, n := range c.nodes {
		role, err := adminDo(n.Addr(), "ROLE")
		if err != nil {
			return err.Error()
		}
		if r, ok := role.([]any); !ok || len(r) == 0 || r[0] != "master" {
			return fmt.Sprintf("%s: ROLE = %v, want a master", n.Addr(), role)
		}
		info, err := adminDo(n.Addr(), "CLUSTER", "INFO")
		if err != nil {
			return err.Error()
		}
		if s, _ := info.(string); !strings.Contains(s, "cluster_state:ok") {
			return n.Addr() + ": cluster_state is not ok"
		}
		text, err := adminDo(n.Addr(), "CLUSTER", "NODES")
		if err != nil {
			return err.Error()
		}
		s, _ := text.(string)
		v, err := parseClusterNodes(s)
		if err != nil {
			return n.Addr() + ": " + err.Error()
		}
		switch {
		case v.trouble != "":
			return n.Addr() + " sees " + v.trouble
		case v.primaries != len(c.nodes):
			return fmt.Sprintf("%s knows %d primaries, want %d", n.Addr(), v.primaries, len(c.nodes))
		case v.migrating:
			return n.Addr() + " has a slot migrating or importing"
		case i == 0:
			first = v
		case v.owner != first.owner:
			return n.Addr() + " sees another slot map than " + c.nodes[0].Addr()
		}
	}
	return ""
}

// ownerOf returns the index of the node that owns slot, as the first node
// sees it.
func (c *slotCluster) ownerOf(t *testing.T, slot int) int {
	t.Helper()
	text, _ := c.do(t, 0, "CLUSTER", "NODES").(string)
	v, err := parseClusterNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range c.ids {
		if v.owner[slot] == id {
			return i
		}
	}
	t.Fatalf("no node of the cluster owns slot %d", slot)
	return -1
}

// moveSlot migrates slot from node src to node dst as redis-cli --cluster
// reshard does: IMPORTING on dst, MIGRATING on src, MIGRATE of its keys
// until src has none, then SETSLOT NODE on dst, src and every other
// primary. It returns how many keys it migrated, once every node agrees
// that dst owns the slot.
func (c *slotCluster) moveSlot(t *testing.T, slot, src, dst int) int {
	t.Helper()
	s := strconv.Itoa(slot)
	c.do(t, dst, "CLUSTER", "SETSLOT", s, "IMPORTING", c.ids[src])
	c.do(t, src, "CLUSTER", "SETSLOT", s, "MIGRATING", c.ids[dst])
	host, port, err := net.SplitHostPort(c.nodes[dst].Addr())
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for {
		keys, ok := c.do(t, src, "CLUSTER", "GETKEYSINSLOT", s, "1000").([]any)
		if !ok {
			t.Fatalf("CLUSTER GETKEYSINSLOT on %s: not an array", c.nodes[src].Addr())
		}
		if len(keys) == 0 {
			break
		}
		// One MIGRATE for all of them: Redis moves them at once, so that
		// keys of one worker are never on two nodes.
		args := []string{"MIGRATE", host, port, "", "0", "5000", "REPLACE", "KEYS"}
		for _, k := range keys {
			ks, ok := k.(string)
			if !ok {
				t.Fatalf("CLUSTER GETKEYSINSLOT on %s: %T in the array", c.nodes[src].Addr(), k)
			}
			args = append(args, ks)
		}
		c.do(t, src, args...)
		moved += len(keys)
	}
	order := []int{dst, src}
	for i := range c.nodes {
		if i != src && i != dst {
			order = append(order, i)
		}
	}
	for _, i := range order {
		c.do(t, i, "CLUSTER", "SETSLOT", s, "NODE", c.ids[dst])
	}
	c.waitAgreed(t, 10*time.Second)
	if got := c.ownerOf(t, slot); got != dst {
		t.Fatalf("slot %d is on %s after its move to %s", slot, c.nodes[got].Addr(), c.nodes[dst].Addr())
	}
	return moved
}

// redirects returns how many MOVED and ASK error replies the nodes have
// sent, from INFO errorstats.
func (c *slotCluster) redirects(t *testing.T) (moved, ask int64) {
	t.Helper()
	for i := range c.nodes {
		text, _ := c.do(t, i, "INFO", "errorstats").(string)
		moved += errorCount(text, "MOVED")
		ask += errorCount(text, "ASK")
	}
	return moved, ask
}

// errorCount reads the count of the error prefix from INFO errorstats
// ("errorstat_MOVED:count=12").
func errorCount(info, prefix string) int64 {
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "errorstat_"+prefix+":count=")
		if !ok {
			continue
		}
		rest, _, _ = strings.Cut(rest, ",")
		n, err := strconv.ParseInt(rest, 10, 64)
		if err == nil {
			return n
		}
	}
	return 0
}

// clusterView is what one node says of the cluster in CLUSTER NODES.
type clusterView struct {
	owner     [conn.SlotCount]string // the id of each slot's primary, "" for none
	primaries int                    // how many primaries it knows
	migrating bool                   // a slot of its own is migrating or importing
	trouble   string                 // a node failing, in handshake or not connected
}

// parseClusterNodes reads the text of CLUSTER NODES: one line a node,
// "id addr flags primary ping pong epoch link slot...", where a slot is
// "N", "N-M", or "[N->-id]" and "[N-<-id]" for a migration.
func parseClusterNodes(text string) (*clusterView, error) {
	v := &clusterView{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES: short line %q", line)
		}
		id, flags, link := f[0], strings.Split(f[2], ","), f[7]
		for _, fl := range flags {
			switch fl {
			case "fail", "fail?", "handshake", "noaddr":
				v.trouble = id + " " + fl
			case "master":
				v.primaries++
			}
		}
		if link != "connected" {
			v.trouble = id + " " + link
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				v.migrating = true
				continue
			}
			lo, hi, isRange := strings.Cut(r, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err := errors.Join(err1, err2); err != nil || a < 0 || b >= conn.SlotCount || a > b {
				return nil, fmt.Errorf("CLUSTER NODES: bad slot range %q", r)
			}
			for s := a; s <= b; s++ {
				v.owner[s] = id
			}
		}
	}
	return v, nil
}

// adminDo sends one command to the Redis at addr on a connection of its
// own (RESP2) and returns its reply: a string for a simple or bulk
// string, an int64, nil, or a []any for an array. An error reply is
// returned as an error. It waits 10 s at most.
func adminDo(addr string, args ...string) (any, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(command(args)); err != nil {
		return nil, err
	}
	v, err := readReply(bufio.NewReader(c))
	if err != nil {
		return nil, err
	}
	if e, ok := v.(replyError); ok {
		return nil, e
	}
	return v, nil
}

// replyError is an error reply of Redis; inside an array it is an element
// like the others.
type replyError string

func (e replyError) Error() string { return "conntest: redis: " + string(e) }

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("conntest: bad RESP line %q", line)
	}
	kind, body := line[0], string(line[1:len(line)-2])
	switch kind {
	case '+':
		return body, nil
	case '-':
		return replyError(body), nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("conntest: bad RESP integer %q", body)
		}
		return n, nil
	case '$', '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return nil, fmt.Errorf("conntest: bad RESP length %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		if kind == '$' {
			b := make([]byte, n+2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, err
			}
			if !bytes.HasSuffix(b, []byte("\r\n")) {
				return nil, fmt.Errorf("conntest: bulk string of %d bytes not ended by CRLF", n)
			}
			return string(b[:n]), nil
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return a, nil
	default:
		return nil, fmt.Errorf("conntest: unknown RESP type in %q", line)
	}
}
