package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/redcache/redcache/conn"
)

// errStopScan, returned by a scan callback, ends the scan without an
// error.
var errStopScan = errors.New("stop scan")

// defaultScanCount is the COUNT hint of every SCAN: how many slots of the
// keyspace Redis walks per call. Larger means fewer round trips and
// longer (still short) pauses of the server.
const defaultScanCount = 1000

// scanKeys calls fn for every key that matches pattern, on every primary
// of d (conn.ForEachNode), with SCAN cursor MATCH pattern COUNT count:
// never KEYS, which blocks the server for as long as it takes. SCAN may
// return a key twice while Redis resizes its tables; callers that count
// keys accept that imprecision. fn may return errStopScan to end early.
// Every key seen is reported to p, which may be nil.
func scanKeys(ctx context.Context, d conn.Driver, pattern string, count int, p *progress, fn func(key string) error) error {
	if count <= 0 {
		count = defaultScanCount
	}
	if p != nil {
		// The total, for the progress: DBSIZE of every node, O(1) each.
		_ = conn.ForEachNode(ctx, d, func(ctx context.Context, node conn.Driver) error {
			p.nodesTotal++
			if n, err := dbSize(ctx, node); err == nil {
				p.total += n
			}
			return nil
		})
	}
	err := conn.ForEachNode(ctx, d, func(ctx context.Context, node conn.Driver) error {
		size := int64(-1)
		if p != nil {
			if n, err := dbSize(ctx, node); err == nil {
				size = n
			}
		}
		p.node(size)
		cursor := "0"
		for {
			reply, err := node.Do(ctx, "SCAN", cursor, "MATCH", pattern, "COUNT", count)
			if err != nil {
				return fmt.Errorf("SCAN: %w", err)
			}
			next, keys, err := parseScan(reply)
			if err != nil {
				return err
			}
			p.walked(cursorFraction(next))
			for _, k := range keys {
				p.add(1)
				if err := fn(k); err != nil {
					return err
				}
			}
			if next == "0" {
				return nil
			}
			cursor = next
		}
	})
	if errors.Is(err, errStopScan) {
		return nil
	}
	return err
}

// dbSize is the number of keys of a node's database (DBSIZE).
func dbSize(ctx context.Context, node conn.Driver) (int64, error) {
	reply, err := node.Do(ctx, "DBSIZE")
	if err != nil {
		return 0, err
	}
	n, ok := reply.(int64)
	if !ok {
		return 0, fmt.Errorf("DBSIZE: unexpected reply %T", reply)
	}
	return n, nil
}

// cursorFraction estimates how much of a node's keyspace a SCAN has
// walked when it returns cursor: Redis walks its hash table in reverse
// binary order, so the cursor's bits, reversed, count the buckets done
// out of 2^64. "0", the end, is all of it. It is an estimate (a table
// that grows or shrinks during the scan moves it), shown with a "~".
func cursorFraction(cursor string) float64 {
	if cursor == "0" {
		return 1
	}
	c, err := strconv.ParseUint(cursor, 10, 64)
	if err != nil {
		return -1
	}
	return float64(bits.Reverse64(c)) / (1 << 64)
}

// parseScan reads a SCAN reply: the next cursor and the keys.
func parseScan(reply any) (cursor string, keys []string, err error) {
	arr, ok := reply.([]any)
	if !ok || len(arr) != 2 {
		return "", nil, fmt.Errorf("SCAN: unexpected reply %T", reply)
	}
	cursor, ok = arr[0].(string)
	if !ok {
		if n, isInt := arr[0].(int64); isInt {
			cursor, ok = strconv.FormatInt(n, 10), true
		}
	}
	list, ok2 := arr[1].([]any)
	if !ok || !ok2 {
		return "", nil, fmt.Errorf("SCAN: unexpected reply [%T %T]", arr[0], arr[1])
	}
	keys = make([]string, 0, len(list))
	for _, k := range list {
		s, ok := k.(string)
		if !ok {
			return "", nil, fmt.Errorf("SCAN: unexpected key %T", k)
		}
		keys = append(keys, s)
	}
	return cursor, keys, nil
}

// globEscape escapes the characters that are special in a Redis glob
// pattern, so that a prefix matches itself only.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\^`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\', '^':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// progress reports a long scan on stderr: at most once a second while it
// runs, and a summary line at the end. A nil *progress reports nothing.
// On a terminal the running line is rewritten in place; elsewhere (when
// asked for with --progress) each report is a line of its own. It shows
// how many keys the scan walked out of the total DBSIZE gives, the rate,
// and how many keys matched.
type progress struct {
	w          io.Writer
	tty        bool
	what       string // "keys"
	every      time.Duration
	start      time.Time
	last       time.Time
	matched    int
	nodes      int     // nodes begun
	nodesTotal int     // nodes there are (0: unknown)
	total      int64   // DBSIZE summed over the nodes
	done       int64   // keys of the nodes finished
	size       int64   // DBSIZE of the node being scanned; -1 unknown
	frac       float64 // of the node being scanned, walked
	shown      bool
	width      int
	nowFun     func() time.Time
}

// newProgress returns a progress reporter on w, or nil when show is false.
func newProgress(w io.Writer, show, tty bool, what string) *progress {
	if !show {
		return nil
	}
	now := time.Now()
	return &progress{w: w, tty: tty, what: what, every: time.Second, start: now, last: now, size: -1, nowFun: time.Now}
}

// node records that the scan moved on to another node, which holds size
// keys (-1 when DBSIZE could not tell).
func (p *progress) node(size int64) {
	if p == nil {
		return
	}
	if p.nodes > 0 && p.size > 0 {
		p.done += p.size
	}
	p.nodes++
	p.size, p.frac = size, 0
	if p.nodesTotal == 0 && size > 0 {
		p.total += size // no DBSIZE pass before: count as we go
	}
}

// walked records that the scan walked frac (0 to 1) of the current
// node's keyspace; it never goes back.
func (p *progress) walked(frac float64) {
	if p != nil && frac > p.frac {
		p.frac = min(frac, 1)
	}
}

// add records n more matching keys and prints a report when one is due.
func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.matched += n
	if now := p.nowFun(); now.Sub(p.last) >= p.every {
		p.last = now
		p.print(p.running(now))
	}
}

// walkedKeys estimates the keys walked so far.
func (p *progress) walkedKeys() int64 {
	n := p.done
	if p.size > 0 {
		n += int64(p.frac * float64(p.size))
	}
	return n
}

func (p *progress) running(now time.Time) string {
	w := p.walkedKeys()
	pct := ""
	if p.total > 0 {
		pct = fmt.Sprintf(" (%d%%)", min(100, w*100/p.total))
	}
	return fmt.Sprintf("scanned ~%d of %d %s%s on node %d of %d, %s %s/s; %d matched",
		w, p.total, p.what, pct, p.nodes, max(p.nodesTotal, p.nodes), rate(w, now.Sub(p.start)), p.what, p.matched)
}

// finish prints the summary line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	elapsed := p.nowFun().Sub(p.start)
	w := p.walkedKeys()
	p.print(fmt.Sprintf("scanned %d of %d %s (DBSIZE) on %d node(s) in %s, %s %s/s; %d matched",
		w, p.total, p.what, p.nodes, elapsed.Round(100*time.Microsecond), rate(w, elapsed), p.what, p.matched))
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// rate formats n per d: "250", "12.5k".
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	r := float64(n) / d.Seconds()
	if r >= 1000 {
		return strconv.FormatFloat(r/1000, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(r, 'f', 0, 64)
}

func (p *progress) print(line string) {
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(line)
	fmt.Fprint(p.w, "\r"+line+pad)
	p.shown = true
}
