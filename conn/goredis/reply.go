package goredis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redis/go-redis/v9"
)

// prepArgs checks a command's arguments against the types [conn.Driver.Do]
// takes and rewrites the two that go-redis would send differently: a bool
// becomes 1 or 0 and a time.Duration becomes milliseconds (go-redis sends
// nanoseconds). The caller's slice is copied only when an argument is
// rewritten, so the common case costs no allocation.
func prepArgs(args []any) ([]any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: no command", errBadArg)
	}
	out := args
	copied := false
	for i, a := range args {
		var r int64
		switch v := a.(type) {
		case string, []byte,
			int, int8, int16, int32, int64,
			uint, uint8, uint16, uint32, uint64,
			float32, float64:
			continue
		case bool:
			if v {
				r = 1
			}
		case time.Duration:
			r = durationArg(v)
		default:
			return nil, fmt.Errorf("%w: argument %d is a %T", errBadArg, i, a)
		}
		if !copied {
			out = slices.Clone(args)
			copied = true
		}
		out[i] = r
	}
	return out, nil
}

// durationArg converts a time.Duration argument to milliseconds. A positive
// remainder rounds up, as [conn.Milliseconds] does for TTLs, so that 500µs
// does not become 0 (which PEXPIRE reads as "expire now").
func durationArg(d time.Duration) int64 {
	if d > 0 {
		ms, _ := conn.Milliseconds(d)
		return ms
	}
	return d.Milliseconds()
}

// convErr turns a go-redis error into the errors of the conn contract:
// redis.Nil is [conn.ErrMiss], an error reply is a [*conn.ReplyError], a
// failure while ctx was ending wraps ctx.Err() (go-redis reports a context
// deadline as a network timeout), and a closed client wraps
// [conn.ErrClosed]. Other errors are transport errors and pass unchanged.
func convErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, redis.Nil) {
		return conn.ErrMiss
	}
	var re redis.Error
	if errors.As(err, &re) {
		return &conn.ReplyError{Msg: re.Error()}
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return prefixed(err)
		}
		return fmt.Errorf(prefix+"%w: %w", cerr, err)
	}
	// go-redis puts the context's deadline on the socket, so a read that
	// timed out at the deadline may return before the context's own timer
	// has marked it done.
	var ne net.Error
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) && errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf(prefix+"%w: %w", context.DeadlineExceeded, err)
	}
	if errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("%w: %w", conn.ErrClosed, err)
	}
	return prefixed(err)
}

// prefixed returns err with the package's prefix, which go-redis's own
// errors lack, so that a failure names the driver it came through.
func prefixed(err error) error {
	if strings.HasPrefix(err.Error(), prefix) {
		return err
	}
	return fmt.Errorf(prefix+"%w", err)
}

// isReplyErr reports whether err belongs to one command (a miss or an
// error reply) rather than to the connection.
func isReplyErr(err error) bool {
	var re *conn.ReplyError
	return errors.Is(err, conn.ErrMiss) || errors.As(err, &re)
}

// normalize converts a go-redis reply to the shapes [conn.Driver.Do]
// promises, in place where it can:
//
//	int64, string, nil         unchanged
//	[]any (array, set, push)   elements normalized
//	map[any]any (RESP3 map)    []any of alternating keys and values, ordered by key
//	float64 (RESP3 double)     string, see formatDouble
//	bool (RESP3 boolean)       int64 1 or 0
//	*big.Int (RESP3 big num)   string, as RESP2 sends it
//	error element              *conn.ReplyError
//
// RESP3 maps arrive as Go maps, so the server's order is lost; they are
// ordered by key to keep replies deterministic.
func normalize(v any) any {
	switch v := v.(type) {
	case nil, int64, string:
		return v
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
		return v
	case map[any]any:
		return flattenMap(v)
	case float64:
		return formatDouble(v)
	case bool:
		if v {
			return int64(1)
		}
		return int64(0)
	case *big.Int:
		return v.String()
	case redis.Error:
		return &conn.ReplyError{Msg: v.Error()}
	default:
		return v
	}
}

func flattenMap(m map[any]any) []any {
	type kv struct{ k, v any }
	pairs := make([]kv, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, kv{normalize(k), normalize(v)})
	}
	slices.SortFunc(pairs, func(a, b kv) int { return compareKeys(a.k, b.k) })
	out := make([]any, 0, 2*len(pairs))
	for _, p := range pairs {
		out = append(out, p.k, p.v)
	}
	return out
}

// compareKeys orders normalized map keys: integers by value before strings
// by bytes before anything else by its printed form.
func compareKeys(a, b any) int {
	rank := func(v any) int {
		switch v.(type) {
		case int64:
			return 0
		case string:
			return 1
		}
		return 2
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch a := a.(type) {
	case int64:
		return cmp.Compare(a, b.(int64))
	case string:
		return strings.Compare(a, b.(string))
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// formatDouble writes a RESP3 double the way Redis writes doubles in RESP2
// bulk strings: %.17g layout (plain digits for decimal exponents from -5 to
// 16, scientific notation outside, "inf", "-inf", "nan") with the shortest
// digits that read back as the same float64, as Redis 7.2 and later print
// them. (Redis 7.0 printed all 17 significant digits: 0.1 was
// "0.10000000000000001"; both read back as the same number.)
func formatDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(s[strings.IndexByte(s, 'e')+1:])
	if exp < -4 || exp >= 17 {
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
