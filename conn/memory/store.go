package memory

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redcache/redcache/conn"
)

// kind is a value's Redis type.
type kind int

const (
	kindString kind = iota
	kindList
	kindHash
	kindSet
	kindZSet
)

func (k kind) String() string {
	return [...]string{"string", "list", "hash", "set", "zset"}[k]
}

// value is what a key holds.
type value struct {
	kind     kind
	str      string
	list     []string
	hash     map[string]string
	set      map[string]struct{}
	zset     map[string]float64
	expireAt time.Time // zero: no expiry
}

// status is a simple-string reply ("OK", "PONG"); Lua sees it as a table
// {ok=...}, Do as a string.
type status string

const ok = status("OK")

func replyErr(msg string) *conn.ReplyError { return &conn.ReplyError{Msg: msg} }

var (
	errWrongType = replyErr("WRONGTYPE Operation against a key holding the wrong kind of value")
	errNotInt    = replyErr("ERR value is not an integer or out of range")
	errNotFloat  = replyErr("ERR value is not a valid float")
	errSyntax    = replyErr("ERR syntax error")
)

func wrongArgs(name string) *conn.ReplyError {
	return replyErr(fmt.Sprintf("ERR wrong number of arguments for '%s' command", name))
}

func (s *store) now() time.Time { return s.cfg.clock() }

// lookup returns the live value at key, deleting it when it expired. Call
// with s.mu held.
func (s *store) lookup(key string) *value {
	v := s.db[key]
	if v == nil {
		return nil
	}
	if !v.expireAt.IsZero() && !s.now().Before(v.expireAt) {
		delete(s.db, key)
		return nil
	}
	return v
}

// typed returns the live value at key when it has kind k, nil when there
// is none, and WRONGTYPE when it has another kind.
func (s *store) typed(key string, k kind) (*value, error) {
	v := s.lookup(key)
	if v != nil && v.kind != k {
		return nil, errWrongType
	}
	return v, nil
}

// create returns the value at key of kind k, making an empty one when
// there is none.
func (s *store) create(key string, k kind) (*value, error) {
	v, err := s.typed(key, k)
	if err != nil || v != nil {
		return v, err
	}
	v = &value{kind: k}
	switch k {
	case kindHash:
		v.hash = map[string]string{}
	case kindSet:
		v.set = map[string]struct{}{}
	case kindZSet:
		v.zset = map[string]float64{}
	}
	s.db[key] = v
	return v, nil
}

// dropIfEmpty deletes a container that lost its last element, as Redis
// does.
func (s *store) dropIfEmpty(key string, v *value) {
	var n int
	switch v.kind {
	case kindList:
		n = len(v.list)
	case kindHash:
		n = len(v.hash)
	case kindSet:
		n = len(v.set)
	case kindZSet:
		n = len(v.zset)
	default:
		return
	}
	if n == 0 {
		delete(s.db, key)
	}
}

// pop removes the first (left) or last element of the list v at key.
func (s *store) pop(key string, v *value, left bool) string {
	var e string
	if left {
		e, v.list = v.list[0], v.list[1:]
	} else {
		e, v.list = v.list[len(v.list)-1], v.list[:len(v.list)-1]
	}
	s.dropIfEmpty(key, v)
	return e
}

// wake tells blocked pops that a list grew.
func (s *store) wake() {
	close(s.pushed)
	s.pushed = make(chan struct{})
}

// liveKeys returns the keys that have not expired, sorted.
func (s *store) liveKeys() []string {
	keys := make([]string, 0, len(s.db))
	for k := range s.db {
		if s.lookup(k) != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// exec runs one command with s.mu held and returns its reply: nil, status,
// string, int64, []any or an error (a *conn.ReplyError for what Redis
// would refuse).
func (s *store) exec(args []string) (any, error) {
	name := strings.ToLower(args[0])
	c, found := commands[name]
	if !found {
		return nil, unknownCommand(args)
	}
	n := len(args)
	if (c.arity > 0 && n != c.arity) || (c.arity < 0 && n < -c.arity) {
		return nil, wrongArgs(name)
	}
	return c.fn(s, args)
}

func unknownCommand(args []string) error {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() > 128 {
			break
		}
		fmt.Fprintf(&b, "'%s' ", a)
	}
	return replyErr(fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", args[0], b.String()))
}

// command is one entry of the command table. arity follows Redis: n > 0
// is exactly n words with the name, -n is at least n.
type command struct {
	arity int
	fn    func(s *store, args []string) (any, error)
}

// commands is filled by the files that implement them.
var commands = map[string]command{}

func register(name string, arity int, fn func(s *store, args []string) (any, error)) {
	commands[name] = command{arity: arity, fn: fn}
}
