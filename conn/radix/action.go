package radix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	rdx "github.com/mediocregopher/radix/v4"
	"github.com/mediocregopher/radix/v4/resp"
	"github.com/mediocregopher/radix/v4/resp/resp3"
	"github.com/redcache/redcache/conn"
)

// This file holds the radix Actions the driver sends. radix's own Cmd takes
// string arguments only (a SET would copy its value into a string) and its
// FlatCmd flattens through reflection; an action here writes its command
// straight into the connection's buffer and reads its reply with reply.go,
// in one allocation per call.

// op is the command an action sends.
type op uint8

const (
	opGet     op = iota + 1 // GET key
	opSet                   // SET key val [NX] [PX ms]
	opPExpire               // PEXPIRE key ms
	opKeys                  // name key... (MGET, DEL)
	opArgs                  // args[0] args[1:]...
	opEval                  // EVALSHA hash (or EVAL src) n keys... args...
)

// action is one command: an rdx.Action that is also its own
// resp.Marshaler and resp.Unmarshaler.
type action struct {
	op       op
	nx       bool // opSet: NX
	eval     bool // opEval: send EVAL with the source rather than EVALSHA
	blocking bool // may block on the server: needs a connection of its own
	routed   bool // route holds the key a cluster routes the action by
	route    [1]string
	ms       int64 // opSet: PX (0 for none); opPExpire: the ttl
	name     string
	val      []byte
	ownsVal  bool // val is a copy of the caller's (see detach)
	keys     []string
	args     []string
	script   *conn.Script

	reply reply
	// xerr is the transport error of the pipeline that carried the
	// action, if any.
	xerr error
}

var (
	_ rdx.Action     = (*action)(nil)
	_ resp.Marshaler = (*action)(nil)
)

// keyAction returns an action on one key.
func keyAction(o op, key string, k kind) *action {
	a := &action{op: o, routed: true}
	a.route[0] = key
	a.reply.kind = k
	return a
}

// Properties implements rdx.Action. Keys holds at most the routing key:
// radix's Cluster refuses actions whose keys span slots before Redis can
// say CROSSSLOT, and for a pipeline grouped per node any key of the node
// routes it right.
func (a *action) Properties() rdx.ActionProperties {
	p := rdx.ActionProperties{
		CanRetry:     true,
		CanPipeline:  a.op != opEval, // EVALSHA may need a second round trip
		CanShareConn: !a.blocking,
	}
	if a.routed {
		p.Keys = a.route[:]
	}
	return p
}

// Perform implements rdx.Action.
func (a *action) Perform(ctx context.Context, c rdx.Conn) error {
	err := c.EncodeDecode(ctx, a, a)
	if a.op == opEval && !a.eval && isNoScript(err) {
		a.eval = true
		err = c.EncodeDecode(ctx, a, a)
	}
	return err
}

func isNoScript(err error) bool {
	var se resp3.SimpleError
	return errors.As(err, &se) && strings.HasPrefix(se.S, "NOSCRIPT")
}

// MarshalRESP implements resp.Marshaler.
func (a *action) MarshalRESP(w io.Writer, o *resp.Opts) error {
	var e encoder
	e.open(w, o)
	a.encode(&e)
	return e.close(o)
}

// UnmarshalRESP implements resp.Unmarshaler.
func (a *action) UnmarshalRESP(br resp.BufferedReader, _ *resp.Opts) error {
	return a.reply.read(br)
}

// UnmarshalRESP implements resp.Unmarshaler.
func (r *reply) UnmarshalRESP(br resp.BufferedReader, _ *resp.Opts) error {
	return r.read(br)
}

func (a *action) encode(e *encoder) {
	switch a.op {
	case opGet:
		e.raw("*2\r\n$3\r\nGET\r\n")
		e.str(a.route[0])
	case opSet:
		n := 3
		if a.nx {
			n++
		}
		if a.ms > 0 {
			n += 2
		}
		e.header('*', n)
		e.raw("$3\r\nSET\r\n")
		e.str(a.route[0])
		e.bytes(a.val)
		if a.nx {
			e.raw("$2\r\nNX\r\n")
		}
		if a.ms > 0 {
			e.raw("$2\r\nPX\r\n")
			e.int(a.ms)
		}
	case opPExpire:
		e.raw("*3\r\n$7\r\nPEXPIRE\r\n")
		e.str(a.route[0])
		e.int(a.ms)
	case opKeys:
		e.header('*', 1+len(a.keys))
		e.str(a.name)
		for _, k := range a.keys {
			e.str(k)
		}
	case opArgs:
		e.header('*', len(a.args))
		for _, s := range a.args {
			e.str(s)
		}
	case opEval:
		e.header('*', 3+len(a.keys)+len(a.args))
		if a.eval {
			e.raw("$4\r\nEVAL\r\n")
			e.str(a.script.Source())
		} else {
			e.raw("$7\r\nEVALSHA\r\n")
			e.str(a.script.Hash())
		}
		e.int(int64(len(a.keys)))
		for _, k := range a.keys {
			e.str(k)
		}
		for _, s := range a.args {
			e.str(s)
		}
	}
}

// pipe is several actions written in one go and read back in order: one
// round trip.
type pipe struct {
	acts     []*action
	blocking bool
	routed   bool
	route    [1]string
}

// newPipe returns a pipe of acts. With swallow, an error reply is recorded
// in its action and the pipe goes on; without, the pipe returns the first
// error reply after reading every reply, so that radix's Cluster can follow
// a redirection of the pipe as a whole (for pipes on one key).
func newPipe(acts []*action, swallow bool) *pipe {
	p := &pipe{acts: acts}
	for _, a := range acts {
		a.reply.swallow = swallow
		p.blocking = p.blocking || a.blocking
		if !p.routed && a.routed {
			p.route, p.routed = a.route, true
		}
	}
	return p
}

// Properties implements rdx.Action.
func (p *pipe) Properties() rdx.ActionProperties {
	props := rdx.ActionProperties{CanRetry: true, CanPipeline: true, CanShareConn: !p.blocking}
	if p.routed {
		props.Keys = p.route[:]
	}
	return props
}

// Perform implements rdx.Action.
func (p *pipe) Perform(ctx context.Context, c rdx.Conn) error {
	return c.EncodeDecode(ctx, p, p)
}

// MarshalRESP implements resp.Marshaler.
func (p *pipe) MarshalRESP(w io.Writer, o *resp.Opts) error {
	var e encoder
	e.open(w, o)
	for _, a := range p.acts {
		a.encode(&e)
	}
	return e.close(o)
}

// UnmarshalRESP implements resp.Unmarshaler.
func (p *pipe) UnmarshalRESP(br resp.BufferedReader, _ *resp.Opts) error {
	var first error
	for _, a := range p.acts {
		if err := a.reply.read(br); err != nil {
			if !isReplyErr(err) {
				return err
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

func isReplyErr(err error) bool {
	return errors.As(err, new(resp3.SimpleError)) || errors.As(err, new(resp3.BlobError))
}

// encoder writes RESP arrays of bulk strings. Small pieces gather in a
// scratch buffer from radix's pool; large values go to the connection's
// writer directly, so they are copied once.
type encoder struct {
	w       io.Writer
	scratch *[]byte
	buf     []byte
	err     error
}

// directWrite is the size above which a value bypasses the scratch buffer.
const directWrite = 256

func (e *encoder) open(w io.Writer, o *resp.Opts) {
	e.w, e.scratch = w, o.GetBytes()
	e.buf = (*e.scratch)[:0]
}

// close flushes and returns the scratch buffer to the pool.
func (e *encoder) close(o *resp.Opts) error {
	e.flush()
	*e.scratch = e.buf[:0]
	o.PutBytes(e.scratch)
	return e.err
}

func (e *encoder) flush() {
	if e.err == nil && len(e.buf) > 0 {
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

func (e *encoder) raw(s string) { e.buf = append(e.buf, s...) }

func (e *encoder) header(prefix byte, n int) {
	e.buf = append(e.buf, prefix)
	e.buf = strconv.AppendInt(e.buf, int64(n), 10)
	e.buf = append(e.buf, '\r', '\n')
}

func (e *encoder) str(s string) {
	e.header('$', len(s))
	if len(s) > directWrite {
		e.flush()
		if e.err == nil {
			_, e.err = io.WriteString(e.w, s)
		}
	} else {
		e.buf = append(e.buf, s...)
	}
	e.buf = append(e.buf, '\r', '\n')
}

func (e *encoder) bytes(b []byte) {
	e.header('$', len(b))
	if len(b) > directWrite {
		e.flush()
		if e.err == nil {
			_, e.err = e.w.Write(b)
		}
	} else {
		e.buf = append(e.buf, b...)
	}
	e.buf = append(e.buf, '\r', '\n')
}

func (e *encoder) int(n int64) {
	var tmp [20]byte
	d := strconv.AppendInt(tmp[:0], n, 10)
	e.header('$', len(d))
	e.buf = append(e.buf, d...)
	e.buf = append(e.buf, '\r', '\n')
}

// formatArgs converts command arguments to the strings sent to Redis.
func formatArgs(args []any) ([]string, error) {
	out := make([]string, len(args))
	for i, v := range args {
		s, err := formatArg(v)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// formatArg converts one argument as the Driver contract says
// (conn.FormatArg).
func formatArg(v any) (string, error) {
	if s, ok := conn.FormatArg(v); ok {
		return s, nil
	}
	if v == nil {
		return "", fmt.Errorf("%w: nil", errBadArg)
	}
	return "", fmt.Errorf("%w: %T", errBadArg, v)
}

// blockingCmds may block on the server. They get a connection of their
// own (radix shares the others between concurrent calls), which radix
// closes rather than reuses when their context ends first. radix's own
// list misses the newer ones.
var blockingCmds = map[string]bool{
	"BLPOP": true, "BRPOP": true, "BRPOPLPUSH": true, "BLMOVE": true, "BLMPOP": true,
	"BZPOPMIN": true, "BZPOPMAX": true, "BZMPOP": true,
	"XREAD": true, "XREADGROUP": true,
	"WAIT": true, "WAITAOF": true,
}

// statefulCmds change the state of the connection they run on for the
// commands after them, which on a shared connection are other callers'.
var statefulCmds = map[string]bool{
	"SELECT":    true,
	"SUBSCRIBE": true, "PSUBSCRIBE": true, "SSUBSCRIBE": true,
	"UNSUBSCRIBE": true, "PUNSUBSCRIBE": true, "SUNSUBSCRIBE": true,
	"MONITOR": true, "QUIT": true, "RESET": true, "SYNC": true, "PSYNC": true,
}

// argsAction returns the action for a command given as Do arguments.
// alone is true for Do, false for a command in a pipeline, where MULTI and
// WATCH are fine because the pipeline's commands go out together.
func argsAction(args []any, alone bool) (*action, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: no command", errBadArg)
	}
	strs, err := formatArgs(args)
	if err != nil {
		return nil, err
	}
	name := strings.ToUpper(strs[0])
	if statefulCmds[name] || (alone && (name == "MULTI" || name == "WATCH")) ||
		(name == "CLIENT" && len(strs) > 1 && (strings.EqualFold(strs[1], "REPLY") || strings.EqualFold(strs[1], "TRACKING"))) {
		return nil, fmt.Errorf("%w: %s", ErrStatefulCommand, name)
	}
	a := &action{op: opArgs, args: strs, blocking: blockingCmds[name]}
	if key, ok := routeKey(name, strs[1:]); ok {
		a.route[0], a.routed = key, true
	}
	return a, nil
}

// routeKey returns the key a cluster routes a command by: the first key of
// a script or function call, and otherwise the first key radix finds.
func routeKey(name string, args []string) (string, bool) {
	switch name {
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
		if len(args) > 2 {
			if n, err := strconv.Atoi(args[1]); err == nil && n > 0 {
				return args[2], true
			}
		}
		return "", false
	}
	if keys := rdx.DefaultActionProperties(name, args...).Keys; len(keys) > 0 {
		return keys[0], true
	}
	return "", false
}
