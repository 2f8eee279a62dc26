package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	err := conn.ForEachNode(ctx, d, func(ctx context.Context, node conn.Driver) error {
		p.node()
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
// asked for with --progress) each report is a line of its own.
type progress struct {
	w      io.Writer
	tty    bool
	what   string // "keys"
	every  time.Duration
	start  time.Time
	last   time.Time
	n      int
	nodes  int
	shown  bool
	width  int
	nowFun func() time.Time
}

// newProgress returns a progress reporter on w, or nil when show is false.
func newProgress(w io.Writer, show, tty bool, what string) *progress {
	if !show {
		return nil
	}
	now := time.Now()
	return &progress{w: w, tty: tty, what: what, every: time.Second, start: now, last: now, nowFun: time.Now}
}

// node records that the scan moved on to another node.
func (p *progress) node() {
	if p != nil {
		p.nodes++
	}
}

// add records n more keys and prints a report when one is due.
func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.n += n
	if now := p.nowFun(); now.Sub(p.last) >= p.every {
		p.last = now
		p.print(fmt.Sprintf("scanned %d %s so far (node %d)…", p.n, p.what, p.nodes))
	}
}

// done prints the summary line.
func (p *progress) done() {
	if p == nil {
		return
	}
	elapsed := p.nowFun().Sub(p.start).Round(100 * time.Microsecond)
	p.print(fmt.Sprintf("scanned %d %s on %d node(s) in %s", p.n, p.what, p.nodes, elapsed))
	if p.tty {
		fmt.Fprintln(p.w)
	}
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
