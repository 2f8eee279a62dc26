package memory

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// The string commands and the commands on keys of any type.

func init() {
	register("get", 2, cmdGet)
	register("set", -3, cmdSet)
	register("setnx", 3, func(s *store, a []string) (any, error) {
		r, err := cmdSet(s, []string{"set", a[1], a[2], "nx"})
		return boolInt(err == nil && r != nil), err
	})
	register("setex", 4, func(s *store, a []string) (any, error) { return cmdSet(s, []string{"set", a[1], a[3], "ex", a[2]}) })
	register("psetex", 4, func(s *store, a []string) (any, error) { return cmdSet(s, []string{"set", a[1], a[3], "px", a[2]}) })
	register("getset", 3, func(s *store, a []string) (any, error) { return cmdSet(s, []string{"set", a[1], a[2], "get"}) })
	register("getdel", 2, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindString)
		if v == nil || err != nil {
			return nil, err
		}
		delete(s.db, a[1])
		return v.str, nil
	})
	register("mget", -2, func(s *store, a []string) (any, error) {
		out := make([]any, len(a)-1)
		for i, k := range a[1:] {
			if v := s.lookup(k); v != nil && v.kind == kindString {
				out[i] = v.str
			}
		}
		return out, nil
	})
	register("mset", -3, func(s *store, a []string) (any, error) {
		if len(a)%2 != 1 {
			return nil, wrongArgs("mset")
		}
		for i := 1; i < len(a); i += 2 {
			s.db[a[i]] = &value{kind: kindString, str: a[i+1]}
		}
		return ok, nil
	})
	register("append", 3, func(s *store, a []string) (any, error) {
		v, err := s.create(a[1], kindString)
		if err != nil {
			return nil, err
		}
		v.str += a[2]
		return int64(len(v.str)), nil
	})
	register("strlen", 2, func(s *store, a []string) (any, error) {
		v, err := s.typed(a[1], kindString)
		if v == nil || err != nil {
			return int64(0), err
		}
		return int64(len(v.str)), nil
	})
	register("incr", 2, func(s *store, a []string) (any, error) { return incrBy(s, a[1], 1) })
	register("decr", 2, func(s *store, a []string) (any, error) { return incrBy(s, a[1], -1) })
	register("incrby", 3, func(s *store, a []string) (any, error) {
		n, err := strconv.ParseInt(a[2], 10, 64)
		if err != nil {
			return nil, errNotInt
		}
		return incrBy(s, a[1], n)
	})
	register("decrby", 3, func(s *store, a []string) (any, error) {
		n, err := strconv.ParseInt(a[2], 10, 64)
		if err != nil || n == math.MinInt64 {
			return nil, errNotInt
		}
		return incrBy(s, a[1], -n)
	})
	register("incrbyfloat", 3, func(s *store, a []string) (any, error) {
		by, err := parseFloat(a[2])
		if err != nil {
			return nil, err
		}
		v, err := s.create(a[1], kindString)
		if err != nil {
			return nil, err
		}
		cur := 0.0
		if v.str != "" {
			if cur, err = parseFloat(v.str); err != nil {
				return nil, err
			}
		}
		v.str = formatFloat(cur + by)
		return v.str, nil
	})

	register("del", -2, cmdDel)
	register("unlink", -2, cmdDel)
	register("exists", -2, func(s *store, a []string) (any, error) {
		var n int64
		for _, k := range a[1:] {
			if s.lookup(k) != nil {
				n++
			}
		}
		return n, nil
	})
	register("type", 2, func(s *store, a []string) (any, error) {
		if v := s.lookup(a[1]); v != nil {
			return status(v.kind.String()), nil
		}
		return status("none"), nil
	})
	register("expire", -3, func(s *store, a []string) (any, error) { return expire(s, a, time.Second, false) })
	register("pexpire", -3, func(s *store, a []string) (any, error) { return expire(s, a, time.Millisecond, false) })
	register("expireat", -3, func(s *store, a []string) (any, error) { return expire(s, a, time.Second, true) })
	register("pexpireat", -3, func(s *store, a []string) (any, error) { return expire(s, a, time.Millisecond, true) })
	register("ttl", 2, func(s *store, a []string) (any, error) { return ttl(s, a[1], time.Second) })
	register("pttl", 2, func(s *store, a []string) (any, error) { return ttl(s, a[1], time.Millisecond) })
	register("persist", 2, func(s *store, a []string) (any, error) {
		v := s.lookup(a[1])
		if v == nil || v.expireAt.IsZero() {
			return int64(0), nil
		}
		v.expireAt = time.Time{}
		return int64(1), nil
	})
	register("rename", 3, func(s *store, a []string) (any, error) {
		v := s.lookup(a[1])
		if v == nil {
			return nil, replyErr("ERR no such key")
		}
		delete(s.db, a[1])
		s.db[a[2]] = v
		return ok, nil
	})
	register("keys", 2, func(s *store, a []string) (any, error) {
		out := []any{}
		for _, k := range s.liveKeys() {
			if match(a[1], k) {
				out = append(out, k)
			}
		}
		return out, nil
	})
	register("scan", -2, cmdScan)
	register("dbsize", 1, func(s *store, _ []string) (any, error) { return int64(len(s.liveKeys())), nil })
	register("flushdb", -1, cmdFlush)
	register("flushall", -1, cmdFlush)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func cmdGet(s *store, a []string) (any, error) {
	v, err := s.typed(a[1], kindString)
	if v == nil || err != nil {
		return nil, err
	}
	return v.str, nil
}

// cmdSet is SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL].
func cmdSet(s *store, a []string) (any, error) {
	key, val := a[1], a[2]
	var nx, xx, get, keep bool
	var expireAt time.Time
	expiries := 0
	for i := 3; i < len(a); i++ {
		switch opt := strings.ToLower(a[i]); opt {
		case "nx":
			nx = true
		case "xx":
			xx = true
		case "get":
			get = true
		case "keepttl":
			keep = true
			expiries++
		case "ex", "px", "exat", "pxat":
			if i+1 >= len(a) {
				return nil, errSyntax
			}
			i++
			n, err := strconv.ParseInt(a[i], 10, 64)
			if err != nil {
				return nil, errNotInt
			}
			unit := time.Millisecond
			if opt == "ex" || opt == "exat" {
				unit = time.Second
			}
			if n <= 0 || n > math.MaxInt64/int64(unit)/2 {
				return nil, replyErr("ERR invalid expire time in 'set' command")
			}
			switch opt {
			case "ex":
				expireAt = s.now().Add(time.Duration(n) * time.Second)
			case "px":
				expireAt = s.now().Add(time.Duration(n) * time.Millisecond)
			case "exat":
				expireAt = time.Unix(n, 0)
			case "pxat":
				expireAt = time.UnixMilli(n)
			}
			expiries++
		default:
			return nil, errSyntax
		}
	}
	if (nx && xx) || expiries > 1 {
		return nil, errSyntax
	}
	old := s.lookup(key)
	var prev any
	if get && old != nil {
		if old.kind != kindString {
			return nil, errWrongType
		}
		prev = old.str
	}
	if (nx && old != nil) || (xx && old == nil) {
		if get {
			return prev, nil
		}
		return nil, nil
	}
	nv := &value{kind: kindString, str: val, expireAt: expireAt}
	if keep && old != nil {
		nv.expireAt = old.expireAt
	}
	s.db[key] = nv
	if get {
		return prev, nil
	}
	return ok, nil
}

func incrBy(s *store, key string, by int64) (any, error) {
	v, err := s.typed(key, kindString)
	if err != nil {
		return nil, err
	}
	var cur int64
	if v != nil {
		if cur, err = strconv.ParseInt(v.str, 10, 64); err != nil {
			return nil, errNotInt
		}
	} else {
		v = &value{kind: kindString}
	}
	if (by > 0 && cur > math.MaxInt64-by) || (by < 0 && cur < math.MinInt64-by) {
		return nil, replyErr("ERR increment or decrement would overflow")
	}
	cur += by
	v.str = strconv.FormatInt(cur, 10)
	s.db[key] = v
	return cur, nil
}

func cmdDel(s *store, a []string) (any, error) {
	var n int64
	for _, k := range a[1:] {
		if s.lookup(k) != nil {
			delete(s.db, k)
			n++
		}
	}
	return n, nil
}

// expire is EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT, with NX, XX, GT and
// LT. A time in the past deletes the key.
func expire(s *store, a []string, unit time.Duration, at bool) (any, error) {
	n, err := strconv.ParseInt(a[2], 10, 64)
	if err != nil {
		return nil, errNotInt
	}
	if n > math.MaxInt64/int64(unit)/2 || n < math.MinInt64/int64(unit)/2 {
		return nil, replyErr("ERR invalid expire time in '" + strings.ToLower(a[0]) + "' command")
	}
	var when time.Time
	if at {
		when = time.Unix(0, 0).Add(time.Duration(n) * unit)
	} else {
		when = s.now().Add(time.Duration(n) * unit)
	}
	var nx, xx, gt, lt bool
	for _, opt := range a[3:] {
		switch strings.ToLower(opt) {
		case "nx":
			nx = true
		case "xx":
			xx = true
		case "gt":
			gt = true
		case "lt":
			lt = true
		default:
			return nil, replyErr("ERR Unsupported option " + opt)
		}
	}
	v := s.lookup(a[1])
	if v == nil {
		return int64(0), nil
	}
	has := !v.expireAt.IsZero()
	switch {
	case nx && has, xx && !has:
		return int64(0), nil
	case gt && (!has || !when.After(v.expireAt)):
		return int64(0), nil
	case lt && has && !when.Before(v.expireAt):
		return int64(0), nil
	}
	if !when.After(s.now()) {
		delete(s.db, a[1])
		return int64(1), nil
	}
	v.expireAt = when
	return int64(1), nil
}

// ttl is TTL or PTTL: -2 for no key, -1 for no expiry, else the time
// left: in milliseconds rounded up (a live key never shows 0), in seconds
// rounded to the nearest, as Redis does.
func ttl(s *store, key string, unit time.Duration) (any, error) {
	v := s.lookup(key)
	switch {
	case v == nil:
		return int64(-2), nil
	case v.expireAt.IsZero():
		return int64(-1), nil
	}
	left := v.expireAt.Sub(s.now())
	if unit == time.Second {
		return int64((left + 500*time.Millisecond) / time.Second), nil
	}
	return int64((left + time.Millisecond - 1) / time.Millisecond), nil
}

// cmdScan is SCAN cursor [MATCH pattern] [COUNT n] [TYPE t], over the
// keys in sorted order; the cursor is the position to go on from.
func cmdScan(s *store, a []string) (any, error) {
	cursor, err := strconv.ParseUint(a[1], 10, 63)
	if err != nil {
		return nil, replyErr("ERR invalid cursor")
	}
	pattern, count, typ := "*", 10, ""
	for i := 2; i < len(a); i += 2 {
		if i+1 >= len(a) {
			return nil, errSyntax
		}
		switch strings.ToLower(a[i]) {
		case "match":
			pattern = a[i+1]
		case "count":
			n, err := strconv.Atoi(a[i+1])
			if err != nil {
				return nil, errNotInt
			}
			if n < 1 {
				return nil, errSyntax
			}
			count = n
		case "type":
			typ = strings.ToLower(a[i+1])
		default:
			return nil, errSyntax
		}
	}
	keys := s.liveKeys()
	start := int(min(cursor, uint64(len(keys))))
	end := min(start+count, len(keys))
	batch := []any{}
	for _, k := range keys[start:end] {
		if !match(pattern, k) {
			continue
		}
		if typ != "" && s.db[k].kind.String() != typ {
			continue
		}
		batch = append(batch, k)
	}
	next := "0"
	if end < len(keys) {
		next = strconv.Itoa(end)
	}
	return []any{next, batch}, nil
}

func cmdFlush(s *store, a []string) (any, error) {
	for _, opt := range a[1:] {
		if o := strings.ToLower(opt); o != "sync" && o != "async" {
			return nil, errSyntax
		}
	}
	clear(s.db)
	return ok, nil
}

func parseFloat(str string) (float64, error) {
	switch strings.ToLower(str) {
	case "inf", "+inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil || math.IsNaN(f) {
		return 0, errNotFloat
	}
	return f, nil
}

// formatFloat formats a score or a float as Redis replies it.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// match reports whether str matches the Redis glob pattern: * ? [set]
// [^set] [a-z] and \ to escape.
func match(pattern, str string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for len(pattern) > 1 && pattern[1] == '*' {
				pattern = pattern[1:]
			}
			if len(pattern) == 1 {
				return true
			}
			for i := 0; i <= len(str); i++ {
				if match(pattern[1:], str[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(str) == 0 {
				return false
			}
			str = str[1:]
			pattern = pattern[1:]
		case '[':
			if len(str) == 0 {
				return false
			}
			end := strings.IndexByte(pattern[1:], ']')
			if end < 0 {
				// No closing bracket: a literal '['.
				if str[0] != '[' {
					return false
				}
				str, pattern = str[1:], pattern[1:]
				continue
			}
			set := pattern[1 : end+1]
			pattern = pattern[end+2:]
			neg := strings.HasPrefix(set, "^")
			if neg {
				set = set[1:]
			}
			hit := false
			for i := 0; i < len(set); i++ {
				if set[i] == '\\' && i+1 < len(set) {
					i++
					hit = hit || set[i] == str[0]
				} else if i+2 < len(set) && set[i+1] == '-' {
					lo, hi := set[i], set[i+2]
					if lo > hi {
						lo, hi = hi, lo
					}
					hit = hit || (str[0] >= lo && str[0] <= hi)
					i += 2
				} else {
					hit = hit || set[i] == str[0]
				}
			}
			if hit == neg {
				return false
			}
			str = str[1:]
		case '\\':
			if len(pattern) > 1 {
				pattern = pattern[1:]
			}
			fallthrough
		default:
			if len(str) == 0 || str[0] != pattern[0] {
				return false
			}
			str, pattern = str[1:], pattern[1:]
		}
	}
	return len(str) == 0
}
