package memory

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// Lists, hashes, sets and sorted sets.

func init() {
	register("rpush", -3, func(s *store, a []string) (any, error) { return push(s, a, false, false) })
	register("lpush", -3, func(s *store, a []string) (any, error) { return push(s, a, true, false) })
	register("rpushx", -3, func(s *store, a []string) (any, error) { return push(s, a, false, true) })
	register("lpushx", -3, func(s *store, a []string) (any, error) { return push(s, a, true, true) })
	register("lpop", -2, func(s *store, a []string) (any, error) { return popCmd(s, a, true) })
	register("rpop", -2, func(s *store, a []string) (any, error) { return popCmd(s, a, false) })
	register("llen", 2, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindList)
		if v == nil || err != nil {
			return int64(0), err
		}
		return int64(len(v.list)), nil
	})
	register("lrange", 4, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindList)
		if err != nil {
			return nil, err
		}
		out := []any{}
		if v == nil {
			return out, nil
		}
		lo, hi, err := indexRange(a[2], a[3], len(v.list))
		if err != nil {
			return nil, err
		}
		for _, e := range v.list[lo:hi] {
			out = append(out, e)
		}
		return out, nil
	})
	register("lindex", 3, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindList)
		if v == nil || err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(a[2])
		if err != nil {
			return nil, errNotInt
		}
		if i < 0 {
			i += len(v.list)
		}
		if i < 0 || i >= len(v.list) {
			return nil, nil
		}
		return v.list[i], nil
	})
	register("ltrim", 4, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindList)
		if v == nil || err != nil {
			return ok, err
		}
		lo, hi, err := indexRange(a[2], a[3], len(v.list))
		if err != nil {
			return nil, err
		}
		v.list = append([]string(nil), v.list[lo:hi]...)
		s.dropIfEmpty(a[1], v)
		return ok, nil
	})

	register("hset", -4, hset)
	register("hmset", -4, func(s *store, a []string) (any, error) {
		if _, err := hset(s, a); err != nil {
			return nil, err
		}
		return ok, nil
	})
	register("hsetnx", 4, func(s *store, a []string) (any, error) {
		v, err := s.create(a[1], kindHash)
		if err != nil {
			return nil, err
		}
		if _, has := v.hash[a[2]]; has {
			return int64(0), nil
		}
		v.hash[a[2]] = a[3]
		return int64(1), nil
	})
	register("hget", 3, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindHash)
		if v == nil || err != nil {
			return nil, err
		}
		if f, has := v.hash[a[2]]; has {
			return f, nil
		}
		return nil, nil
	})
	register("hmget", -3, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindHash)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(a)-2)
		for i, f := range a[2:] {
			if v != nil {
				if val, has := v.hash[f]; has {
					out[i] = val
				}
			}
		}
		return out, nil
	})
	register("hgetall", 2, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindHash)
		if err != nil {
			return nil, err
		}
		out := []any{}
		if v != nil {
			for _, f := range sortedKeys(v.hash) {
				out = append(out, f, v.hash[f])
			}
		}
		return out, nil
	})
	register("hkeys", 2, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindHash)
		out := []any{}
		if v != nil {
			for _, f := range sortedKeys(v.hash) {
				out = append(out, f)
			}
		}
		return out, err
	})
	register("hvals", 2, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindHash)
		out := []any{}
		if v != nil {
			for _, f := range sortedKeys(v.hash) {
				out = append(out, v.hash[f])
			}
		}
		return out, err
	})
	register("hdel", -3, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindHash)
		if v == nil || err != nil {
			return int64(0), err
		}
		var n int64
		for _, f := range a[2:] {
			if _, has := v.hash[f]; has {
				delete(v.hash, f)
				n++
			}
		}
		s.dropIfEmpty(a[1], v)
		return n, nil
	})
	register("hexists", 3, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindHash)
		if v == nil || err != nil {
			return int64(0), err
		}
		_, has := v.hash[a[2]]
		return boolInt(has), nil
	})
	register("hlen", 2, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindHash)
		if v == nil || err != nil {
			return int64(0), err
		}
		return int64(len(v.hash)), nil
	})
	register("hincrby", 4, func(s *store, a []string) (any, error) {
		by, err := strconv.ParseInt(a[3], 10, 64)
		if err != nil {
			return nil, errNotInt
		}
		v, err := s.create(a[1], kindHash)
		if err != nil {
			return nil, err
		}
		var cur int64
		if f, has := v.hash[a[2]]; has {
			if cur, err = strconv.ParseInt(f, 10, 64); err != nil {
				return nil, replyErr("ERR hash value is not an integer")
			}
		}
		if (by > 0 && cur > math.MaxInt64-by) || (by < 0 && cur < math.MinInt64-by) {
			return nil, replyErr("ERR increment or decrement would overflow")
		}
		cur += by
		v.hash[a[2]] = strconv.FormatInt(cur, 10)
		return cur, nil
	})

	register("sadd", -3, func(s *store, a []string) (any, error) {
		v, err := s.create(a[1], kindSet)
		if err != nil {
			return nil, err
		}
		var n int64
		for _, m := range a[2:] {
			if _, has := v.set[m]; !has {
				v.set[m] = struct{}{}
				n++
			}
		}
		return n, nil
	})
	register("srem", -3, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindSet)
		if v == nil || err != nil {
			return int64(0), err
		}
		var n int64
		for _, m := range a[2:] {
			if _, has := v.set[m]; has {
				delete(v.set, m)
				n++
			}
		}
		s.dropIfEmpty(a[1], v)
		return n, nil
	})
	register("smembers", 2, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindSet)
		out := []any{}
		if v != nil {
			for _, m := range sortedKeys(v.set) {
				out = append(out, m)
			}
		}
		return out, err
	})
	register("sismember", 3, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindSet)
		if v == nil || err != nil {
			return int64(0), err
		}
		_, has := v.set[a[2]]
		return boolInt(has), nil
	})
	register("scard", 2, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindSet)
		if v == nil || err != nil {
			return int64(0), err
		}
		return int64(len(v.set)), nil
	})

	register("zadd", -4, zadd)
	register("zincrby", 4, func(s *store, a []string) (any, error) {
		by, err := parseFloat(a[2])
		if err != nil {
			return nil, err
		}
		v, err := s.create(a[1], kindZSet)
		if err != nil {
			return nil, err
		}
		sc := v.zset[a[3]] + by
		if math.IsNaN(sc) {
			return nil, replyErr("ERR resulting score is not a number (NaN)")
		}
		v.zset[a[3]] = sc
		return formatFloat(sc), nil
	})
	register("zscore", 3, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindZSet)
		if v == nil || err != nil {
			return nil, err
		}
		if sc, has := v.zset[a[2]]; has {
			return formatFloat(sc), nil
		}
		return nil, nil
	})
	register("zcard", 2, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindZSet)
		if v == nil || err != nil {
			return int64(0), err
		}
		return int64(len(v.zset)), nil
	})
	register("zrem", -3, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindZSet)
		if v == nil || err != nil {
			return int64(0), err
		}
		var n int64
		for _, m := range a[2:] {
			if _, has := v.zset[m]; has {
				delete(v.zset, m)
				n++
			}
		}
		s.dropIfEmpty(a[1], v)
		return n, nil
	})
	register("zrank", 3, func(s *store, a []string) (any, error) { return zrank(s, a, false) })
	register("zrevrank", 3, func(s *store, a []string) (any, error) { return zrank(s, a, true) })
	register("zcount", 4, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindZSet)
		if v == nil || err != nil {
			return int64(0), err
		}
		lo, hi, err := scoreRange(a[2], a[3])
		if err != nil {
			return nil, err
		}
		var n int64
		for _, sc := range v.zset {
			if lo.below(sc) && hi.above(sc) {
				n++
			}
		}
		return n, nil
	})
	register("zrange", -4, zrange)
	register("zrevrange", -4, func(s *store, a []string) (any, error) {
		return zrange(s, append(append([]string{"zrange"}, a[1:4]...), append([]string{"rev"}, a[4:]...)...))
	})
	register("zrangebyscore", -4, func(s *store, a []string) (any, error) {
		return zrange(s, append(append([]string{"zrange"}, a[1:4]...), append([]string{"byscore"}, a[4:]...)...))
	})
	register("zrevrangebyscore", -4, func(s *store, a []string) (any, error) {
		return zrange(s, append(append([]string{"zrange"}, a[1:4]...), append([]string{"byscore", "rev"}, a[4:]...)...))
	})
	register("zremrangebyscore", 4, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindZSet)
		if v == nil || err != nil {
			return int64(0), err
		}
		lo, hi, err := scoreRange(a[2], a[3])
		if err != nil {
			return nil, err
		}
		var n int64
		for m, sc := range v.zset {
			if lo.below(sc) && hi.above(sc) {
				delete(v.zset, m)
				n++
			}
		}
		s.dropIfEmpty(a[1], v)
		return n, nil
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// indexRange turns Redis start and stop indexes (inclusive, negative from
// the end) into a Go slice range of a sequence of length n.
func indexRange(start, stop string, n int) (int, int, error) {
	lo, err1 := strconv.Atoi(start)
	hi, err2 := strconv.Atoi(stop)
	if err1 != nil || err2 != nil {
		return 0, 0, errNotInt
	}
	if lo < 0 {
		lo += n
	}
	if hi < 0 {
		hi += n
	}
	lo = max(lo, 0)
	hi = min(hi, n-1)
	if lo > hi {
		return 0, 0, nil
	}
	return lo, hi + 1, nil
}

func push(s *store, a []string, left, onlyExisting bool) (any, error) {
	var v *value
	var err error
	if onlyExisting {
		if v, err = s.typed(a[1], kindList); v == nil || err != nil {
			return int64(0), err
		}
	} else if v, err = s.create(a[1], kindList); err != nil {
		return nil, err
	}
	for _, e := range a[2:] {
		if left {
			v.list = append([]string{e}, v.list...)
		} else {
			v.list = append(v.list, e)
		}
	}
	s.wake()
	return int64(len(v.list)), nil
}

func popCmd(s *store, a []string, left bool) (any, error) {
	if len(a) > 3 {
		return nil, errSyntax
	}
	v, err := s.typed(a[1], kindList)
	if err != nil {
		return nil, err
	}
	if len(a) == 2 {
		if v == nil {
			return nil, nil
		}
		return s.pop(a[1], v, left), nil
	}
	n, err := strconv.Atoi(a[2])
	if err != nil || n < 0 {
		return nil, replyErr("ERR value is out of range, must be positive")
	}
	if v == nil {
		return nil, nil
	}
	out := []any{}
	for ; n > 0 && s.lookup(a[1]) != nil; n-- {
		out = append(out, s.pop(a[1], v, left))
	}
	return out, nil
}

func hset(s *store, a []string) (any, error) {
	if len(a)%2 != 0 {
		return nil, wrongArgs(strings.ToLower(a[0]))
	}
	v, err := s.create(a[1], kindHash)
	if err != nil {
		return nil, err
	}
	var n int64
	for i := 2; i < len(a); i += 2 {
		if _, has := v.hash[a[i]]; !has {
			n++
		}
		v.hash[a[i]] = a[i+1]
	}
	return n, nil
}

// zadd is ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...].
func zadd(s *store, a []string) (any, error) {
	var nx, xx, gt, lt, ch, incr bool
	i := 2
opts:
	for ; i < len(a); i++ {
		switch strings.ToLower(a[i]) {
		case "nx":
			nx = true
		case "xx":
			xx = true
		case "gt":
			gt = true
		case "lt":
			lt = true
		case "ch":
			ch = true
		case "incr":
			incr = true
		default:
			break opts
		}
	}
	pairs := a[i:]
	if len(pairs) == 0 || len(pairs)%2 != 0 {
		return nil, errSyntax
	}
	if (nx && xx) || (gt && lt) || (nx && (gt || lt)) {
		return nil, replyErr("ERR XX and NX options at the same time are not compatible")
	}
	if incr && len(pairs) != 2 {
		return nil, replyErr("ERR INCR option supports a single increment-element pair")
	}
	scores := make([]float64, len(pairs)/2)
	for j := range scores {
		sc, err := parseFloat(pairs[2*j])
		if err != nil {
			return nil, err
		}
		scores[j] = sc
	}
	v, err := s.create(a[1], kindZSet)
	if err != nil {
		return nil, err
	}
	var added, changed int64
	for j, sc := range scores {
		m := pairs[2*j+1]
		cur, has := v.zset[m]
		if (nx && has) || (xx && !has) {
			if incr {
				s.dropIfEmpty(a[1], v)
				return nil, nil
			}
			continue
		}
		if incr {
			sc += cur
		}
		if has && ((gt && sc <= cur) || (lt && sc >= cur)) {
			if incr {
				return nil, nil
			}
			continue
		}
		v.zset[m] = sc
		switch {
		case !has:
			added++
		case cur != sc:
			changed++
		}
		if incr {
			return formatFloat(sc), nil
		}
	}
	s.dropIfEmpty(a[1], v)
	if ch {
		return added + changed, nil
	}
	return added, nil
}

// member is a sorted set's member with its score.
type member struct {
	name  string
	score float64
}

// sortedMembers returns v's members by score, then by name, as Redis
// orders them.
func sortedMembers(v *value) []member {
	ms := make([]member, 0, len(v.zset))
	for m, sc := range v.zset {
		ms = append(ms, member{m, sc})
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].score != ms[j].score {
			return ms[i].score < ms[j].score
		}
		return ms[i].name < ms[j].name
	})
	return ms
}

func zrank(s *store, a []string, rev bool) (any, error) {
	v, err := s.typed(a[1], kindZSet)
	if v == nil || err != nil {
		return nil, err
	}
	ms := sortedMembers(v)
	for i, m := range ms {
		if m.name == a[2] {
			if rev {
				i = len(ms) - 1 - i
			}
			return int64(i), nil
		}
	}
	return nil, nil
}

// bound is one end of a score range: a value, and whether it is excluded.
type bound struct {
	v    float64
	open bool
}

func (b bound) below(sc float64) bool { return b.v < sc || (!b.open && b.v == sc) }
func (b bound) above(sc float64) bool { return b.v > sc || (!b.open && b.v == sc) }

func parseBound(str string) (bound, error) {
	b := bound{}
	if strings.HasPrefix(str, "(") {
		b.open, str = true, str[1:]
	}
	f, err := parseFloat(str)
	if err != nil {
		return bound{}, replyErr("ERR min or max is not a float")
	}
	b.v = f
	return b, nil
}

func scoreRange(min, max string) (bound, bound, error) {
	lo, err := parseBound(min)
	if err != nil {
		return bound{}, bound{}, err
	}
	hi, err := parseBound(max)
	return lo, hi, err
}

// zrange is ZRANGE key start stop [BYSCORE] [REV] [LIMIT offset count]
// [WITHSCORES]; BYLEX is not supported.
func zrange(s *store, a []string) (any, error) {
	var byScore, rev, withScores, limit bool
	offset, count := 0, -1
	for i := 4; i < len(a); i++ {
		switch strings.ToLower(a[i]) {
		case "byscore":
			byScore = true
		case "rev":
			rev = true
		case "withscores":
			withScores = true
		case "limit":
			if i+2 >= len(a) {
				return nil, errSyntax
			}
			o, err1 := strconv.Atoi(a[i+1])
			c, err2 := strconv.Atoi(a[i+2])
			if err1 != nil || err2 != nil {
				return nil, errNotInt
			}
			offset, count, limit = o, c, true
			i += 2
		default:
			return nil, errSyntax
		}
	}
	if limit && !byScore {
		return nil, replyErr("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
	}
	v, err := s.typed(a[1], kindZSet)
	if err != nil {
		return nil, err
	}
	out := []any{}
	if v == nil {
		return out, nil
	}
	ms := sortedMembers(v)
	if rev {
		for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
			ms[i], ms[j] = ms[j], ms[i]
		}
	}
	var sel []member
	if byScore {
		min, max := a[2], a[3]
		if rev {
			min, max = max, min
		}
		lo, hi, err := scoreRange(min, max)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if lo.below(m.score) && hi.above(m.score) {
				sel = append(sel, m)
			}
		}
		if offset < 0 {
			sel = nil
		} else if offset < len(sel) {
			sel = sel[offset:]
		} else {
			sel = nil
		}
		if count >= 0 && count < len(sel) {
			sel = sel[:count]
		}
	} else {
		lo, hi, err := indexRange(a[2], a[3], len(ms))
		if err != nil {
			return nil, err
		}
		sel = ms[lo:hi]
	}
	for _, m := range sel {
		out = append(out, m.name)
		if withScores {
			out = append(out, formatFloat(m.score))
		}
	}
	return out, nil
}
