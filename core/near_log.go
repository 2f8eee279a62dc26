package core

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redcache/redcache/conn"
)

// The invalidation log: what lets a near cache that lost its
// subscription drop only what it missed. Every announcement is also
// appended, in the same script, to a Redis stream per key prefix (keys,
// generations and tags: never values), capped at about nearLogLen
// entries; the message published carries the entry's ID. A subscriber
// remembers the ID of the last entry it heard of, per prefix. When its
// subscription comes back it reads the log from that ID on and drops
// exactly what the entries after it name. When the log no longer holds
// that ID (trimmed past it, expired, or lost with a Redis restart), what
// was missed cannot be known: everything is dropped, as before the log.
//
// The order is sound because the script appends and publishes at once,
// on the node that holds the log: a message published before the new
// subscription was confirmed is in the log when it is read afterwards,
// and one published after reaches the subscription (hearing one twice
// drops a key twice, which is harmless). On a Redis Cluster the log of
// a prefix is on one node, whose messages reach every node in order.

const (
	// nearLogLen is about how many announcements the log of a prefix
	// keeps: a subscription that comes back after more were made drops
	// everything.
	nearLogLen = 10000
	// nearLogTTL is how long the log of a prefix outlives its last
	// announcement.
	nearLogTTL = 24 * time.Hour
	// nearLogPage is how many entries one read of the log returns.
	nearLogPage = 1000
)

// logKeyFor is the key of the invalidation log of a key prefix. No
// function's key starts with it.
func logKeyFor(prefix string) string { return InvalidationChannel + ":log:" + prefix }

// announceScript appends each message (ARGV[4+2i] .. ' ' .. ARGV[5+2i],
// the kind and sender, then the target) to the log KEYS[1], capped at
// about ARGV[2] entries and kept for ARGV[3] ms, and publishes it on the
// channel ARGV[1] with the entry's ID after the sender. It returns the
// last ID.
var announceScript = conn.NewScript(`
local last
for i = 4, #ARGV, 2 do
  last = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[i] .. ' ' .. ARGV[i+1])
  redis.call('PUBLISH', ARGV[1], ARGV[i] .. '/' .. last .. ' ' .. ARGV[i+1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return last
`)

// tailScript returns the ID of the last entry of the log KEYS[1],
// adding an entry that announces nothing when it is empty (kept ARGV[1]
// ms), so that a subscriber always has an ID to read on from.
var tailScript = conn.NewScript(`
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then return last[1][1] end
local id = redis.call('XADD', KEYS[1], '*', 'm', 'a')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return id
`)

// sinceScript returns the entries of the log KEYS[1] from the ID ARGV[1]
// on, at most ARGV[2] of them, as ID, message, ID, message...; or
// nothing when the log does not hold ARGV[1] any more.
var sinceScript = conn.NewScript(`
local r = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
if #r == 0 or r[1][1] ~= ARGV[1] then return {} end
local out = {}
for _, e in ipairs(r) do
  out[#out+1] = e[1]
  out[#out+1] = e[2][2]
end
return out
`)

// publish tells the other processes about an explicit write, and logs
// it for those whose subscription is down. It is best effort: a lost
// message costs at most the near ttl of staleness.
func (m *Manager) publish(ctx context.Context, cfg *config, d conn.Driver, msg string) {
	m.announce(ctx, cfg, d, msg)
}

// announce publishes msgs (each "<kind> <sender> <target>") on the
// channel of cfg's prefix and appends them to its log, in one script.
// When the script cannot run, they are published alone, unlogged.
func (m *Manager) announce(ctx context.Context, cfg *config, d conn.Driver, msgs ...string) {
	if len(msgs) == 0 {
		return
	}
	bctx, cancel := m.deadlinesOf(cfg).bound(ctx, time.Now().UnixNano())
	defer cancel()
	ch := channelFor(cfg.prefix)
	if m.near.logOff.Load() {
		m.publishPlain(ctx, bctx, cfg, d, ch, msgs)
		return
	}
	args := make([]any, 0, 3+2*len(msgs))
	args = append(args, ch, strconv.Itoa(nearLogLen), strconv.FormatInt(nearLogTTL.Milliseconds(), 10))
	for _, msg := range msgs {
		kind, rest, _ := strings.Cut(msg, " ")
		sender, target, _ := strings.Cut(rest, " ")
		args = append(args, kind+" "+sender, target)
	}
	_, err := d.Eval(bctx, announceScript, []string{logKeyFor(cfg.prefix)}, args...)
	if err == nil {
		return
	}
	if m.near.logUnsupported(err) {
		// Reported once, by logUnsupported: from now on the Manager
		// announces without a log.
		m.report(ctx, cfg, d, OpPublish, "", logKeyFor(cfg.prefix), err)
	} else {
		m.report(ctx, cfg, d, OpPublish, "", ch, err)
		if !conn.IsReplyError(err, "") {
			return // Redis cannot be reached: a PUBLISH would fail as well
		}
	}
	// The log cannot be written: the processes that are subscribed
	// still hear of it.
	m.publishPlain(ctx, bctx, cfg, d, ch, msgs)
}

// publishPlain publishes msgs on ch without logging them.
func (m *Manager) publishPlain(ctx, bctx context.Context, cfg *config, d conn.Driver, ch string, msgs []string) {
	var err error
	if len(msgs) == 1 {
		_, err = d.Do(bctx, "PUBLISH", ch, msgs[0])
	} else {
		cmds := make([]*conn.Cmd, len(msgs))
		for i, msg := range msgs {
			cmds[i] = conn.NewCmd("PUBLISH", ch, msg)
		}
		err = d.Pipeline(bctx, cmds...)
		for _, c := range cmds {
			if err == nil {
				err = c.Err
			}
		}
	}
	if err != nil {
		m.report(ctx, cfg, d, OpPublish, "", ch, err)
	}
}

// logUnsupported reports whether err says that the Redis cannot keep an
// invalidation log (no streams, as conn/memory; or an ACL that denies
// them); the first time it does, it turns the log off for good: the
// Manager announces without it, and its near cache drops everything
// when its subscription comes back, as before the log.
func (h *nearHub) logUnsupported(err error) bool {
	if !conn.IsReplyError(err, "") {
		return false
	}
	s := strings.ToLower(err.Error())
	if !strings.Contains(s, "unknown command") && !strings.Contains(s, "unknown redis command") && !strings.Contains(s, "noperm") {
		return false
	}
	return h.logOff.CompareAndSwap(false, true)
}

// logID is a stream entry's ID, "<ms>-<seq>", made comparable.
type logID struct{ ms, seq uint64 }

func parseLogID(s string) (logID, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return logID{}, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return logID{ms, seq}, err1 == nil && err2 == nil
}

func (a logID) after(b logID) bool { return a.ms > b.ms || a.ms == b.ms && a.seq > b.seq }

// heard records that the subscription delivered the entry id of the log
// of prefix.
func (h *nearHub) heard(prefix, id string) {
	if prefix == "" || id == "" {
		return
	}
	cur, known := h.seen[prefix]
	next, ok := parseLogID(id)
	if !ok {
		return
	}
	if known {
		if c, ok := parseLogID(cur); ok && !next.after(c) {
			return
		}
	}
	h.seen[prefix] = id
}

// prefixOf is the key prefix of an invalidation channel.
func prefixOf(channel string) string {
	p, _ := strings.CutPrefix(channel, InvalidationChannel+":")
	return p
}

// catchUp runs once a new subscription is confirmed, before the near
// caches serve again: for each prefix, it applies what the log holds
// after the last entry heard of. It reports false when what was missed
// cannot be known for some prefix (new to the subscription, its log lost
// or trimmed, or Redis failing): everything must be dropped then. It
// leaves each prefix with a position to read on from next time, when it
// can.
func (m *Manager) catchUp(ctx context.Context, d conn.Driver, prefixes []string) bool {
	if m.near.logOff.Load() {
		return false
	}
	complete := true
	for _, p := range prefixes {
		if !m.catchUpPrefix(ctx, d, p) {
			complete = false
			delete(m.near.seen, p)
			tctx, cancel := context.WithTimeout(ctx, pingWait)
			id, err := d.Eval(tctx, tailScript, []string{logKeyFor(p)}, strconv.FormatInt(nearLogTTL.Milliseconds(), 10))
			cancel()
			if s, ok := id.(string); err == nil && ok {
				m.near.seen[p] = s
			} else if m.near.logUnsupported(err) || m.near.logOff.Load() {
				return false
			} else if ctx.Err() == nil {
				if err == nil {
					err = fmt.Errorf("redcache: the invalidation log's tail is %T %v, not an ID", id, id)
				}
				m.report(ctx, &m.cfg, d, OpSubscribe, "", logKeyFor(p), err)
			}
		}
	}
	return complete
}

// catchUpPrefix applies the log of prefix after its last entry heard
// of, and reports whether it could.
func (m *Manager) catchUpPrefix(ctx context.Context, d conn.Driver, prefix string) bool {
	from, known := m.near.seen[prefix]
	if !known {
		return false
	}
	key := logKeyFor(prefix)
	for {
		rctx, cancel := context.WithTimeout(ctx, pingWait)
		v, err := d.Eval(rctx, sinceScript, []string{key}, from, strconv.Itoa(nearLogPage))
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				m.report(ctx, &m.cfg, d, OpSubscribe, "", key, err)
			}
			return false
		}
		r, _ := v.([]any)
		if len(r) < 2 {
			return false // the log no longer holds from: trimmed, expired or lost
		}
		for i := 2; i+1 < len(r); i += 2 { // r[0:2] is from itself
			id, _ := r[i].(string)
			msg, _ := r[i+1].(string)
			m.apply(msg)
			from = id
		}
		m.near.seen[prefix] = from
		if len(r) < 2*nearLogPage {
			return true
		}
	}
}

// apply acts on an announcement "<kind> <sender> <target>" of another
// process (read from the subscription or the log).
func (m *Manager) apply(msg string) {
	kind, rest, _ := strings.Cut(msg, " ")
	sender, target, ok := strings.Cut(rest, " ")
	if !ok {
		return
	}
	sender, _, _ = strings.Cut(sender, "/")
	if sender == m.near.id {
		return
	}
	switch kind {
	case "k":
		m.near.each(func(c invalidator) { c.dropKey(target) })
	case "g":
		for _, h := range m.holders(target) {
			h.generationChanged()
		}
	case "t":
		m.tagChanged(target)
	}
}
