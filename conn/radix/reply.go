package radix

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/mediocregopher/radix/v4/resp"
	"github.com/mediocregopher/radix/v4/resp/resp3"
	"github.com/redcache/redcache/conn"
)

// This file reads replies straight off radix's buffered reader into the
// plain Go values of the conn contract. radix can decode into an
// interface{}, but it produces []byte for bulk strings, Go maps for RESP3
// maps (losing their order, and failing on keys a map cannot hold),
// map[interface{}]struct{} for sets and float64 for doubles, and it reaches
// them through reflection. Reading the protocol here is shorter than
// normalising all of that, allocates less, and reads RESP2 and RESP3 alike.

// errProtocol reports bytes on the wire that are not a RESP reply. The
// connection is then closed by radix (the error is not resp.ErrConnUsable).
var errProtocol = errors.New("redcache/radix: protocol error")

// kind tells a reply what shape its caller wants.
type kind uint8

const (
	// kindAny decodes into the plain values of conn.Driver.Do.
	kindAny kind = iota
	// kindBytes keeps a top-level bulk string as []byte (GET).
	kindBytes
	// kindBytesArray keeps a top-level array of bulk strings as [][]byte
	// (MGET), with nil for nil elements.
	kindBytesArray
)

// reply receives one reply. Error replies are recorded in err; in swallow
// mode read then returns nil so that the other replies of a pipeline are
// read normally, otherwise it also returns the error in the form radix
// understands (resp.ErrConnUsable around a resp3 error), which lets radix
// keep the connection, follow cluster redirections and fall back from
// EVALSHA to EVAL.
//
// read never returns a resp.ErrConnUsable that is not an error reply: radix
// would take it for a read cut short by a context and discard the next
// reply on the connection, which belongs to another call.
type reply struct {
	kind    kind
	swallow bool

	v    any
	b    []byte
	bs   [][]byte
	null bool
	err  *conn.ReplyError
}

// result returns the reply as conn.Driver.Do does.
func (r *reply) result() (any, error) {
	switch {
	case r.err != nil:
		return nil, r.err
	case r.null:
		return nil, conn.ErrMiss
	}
	return r.v, nil
}

func (r *reply) fail(msg string, e error) error {
	r.err = &conn.ReplyError{Msg: msg}
	if r.swallow {
		return nil
	}
	return resp.ErrConnUsable{Err: e}
}

// read reads one reply from br.
func (r *reply) read(br resp.BufferedReader) error {
	r.v, r.b, r.bs, r.null, r.err = nil, nil, nil, false, nil
	prefix, line, err := readHeader(br)
	if err != nil {
		return err
	}
	switch prefix {
	case '-':
		msg := string(line)
		return r.fail(msg, resp3.SimpleError{S: msg})
	case '!':
		n, err := parseInt(line)
		if err != nil {
			return err
		}
		b, err := readBulk(br, n)
		if err != nil {
			return err
		}
		return r.fail(string(b), resp3.BlobError{B: b})
	case '_':
		r.null = true
		return nil
	case '$':
		n, err := parseInt(line)
		if err != nil {
			return err
		}
		if n < 0 {
			r.null = true
			return nil
		}
		b, err := readBulk(br, n)
		if err != nil {
			return err
		}
		if r.kind == kindBytes {
			r.b = b
		} else {
			r.v = bytesString(b)
		}
		return nil
	case '*':
		n, err := parseInt(line)
		if err != nil {
			return err
		}
		if n < 0 {
			r.null = true
			return nil
		}
		if r.kind == kindBytesArray {
			r.bs, err = readBytesArray(br, n)
		} else {
			r.v, err = readArray(br, n)
		}
		return err
	}
	r.v, err = readValue(br, prefix, line)
	return err
}

// readHeader reads the first line of a value and returns its type byte and
// the rest of the line without CRLF. The line is only valid until the next
// read from br. Attributes (RESP3 '|') before the value are skipped.
func readHeader(br resp.BufferedReader) (byte, []byte, error) {
	for {
		line, err := readLine(br)
		if err != nil {
			return 0, nil, err
		}
		if line[0] != '|' {
			return line[0], line[1:], nil
		}
		n, err := parseInt(line[1:])
		if err != nil {
			return 0, nil, err
		}
		for i := int64(0); i < 2*n; i++ {
			if _, err := readElem(br); err != nil {
				return 0, nil, err
			}
		}
	}
}

// readLine reads one CRLF-terminated line and returns it without the CRLF.
// It holds at least one byte, the type.
func readLine(br resp.BufferedReader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// A line longer than the buffer (a long error message or big
		// number): gather it.
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: malformed line %q", errProtocol, line)
	}
	return line[:len(line)-2], nil
}

// parseInt parses a decimal integer without allocating.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: empty number", errProtocol)
	}
	neg := b[0] == '-'
	if neg || b[0] == '+' {
		b = b[1:]
		if len(b) == 0 {
			return 0, fmt.Errorf("%w: malformed number", errProtocol)
		}
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: malformed number %q", errProtocol, b)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// readBulk reads a bulk body of n bytes and its CRLF into a new slice
// (non-nil even when empty).
func readBulk(br resp.BufferedReader, n int64) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: negative length %d", errProtocol, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, err
	}
	crlf, err := br.Peek(2)
	if err != nil {
		return nil, err
	}
	if crlf[0] != '\r' || crlf[1] != '\n' {
		return nil, fmt.Errorf("%w: bulk string not ended by CRLF", errProtocol)
	}
	_, err = br.Discard(2)
	return b, err
}

// bytesString returns b as a string without copying. b must not be
// modified afterwards: the callers pass slices freshly read from the wire
// that nothing else holds.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// The common simple strings, boxed once: putting a string in an interface
// allocates, and SET's "OK" is on the hot path.
var (
	anyOK     any = "OK"
	anyPONG   any = "PONG"
	anyQUEUED any = "QUEUED"
)

// simpleString returns a simple string reply as a value.
func simpleString(b []byte) any {
	switch string(b) { // no allocation: the compiler compares in place
	case "OK":
		return anyOK
	case "PONG":
		return anyPONG
	case "QUEUED":
		return anyQUEUED
	}
	return string(b)
}

// readElem reads one complete value as an element of an aggregate.
func readElem(br resp.BufferedReader) (any, error) {
	prefix, line, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	return readValue(br, prefix, line)
}

// readValue reads the value whose header is prefix and line. Nested error
// replies become *conn.ReplyError values and nil replies nil.
func readValue(br resp.BufferedReader, prefix byte, line []byte) (any, error) {
	switch prefix {
	case '+':
		return simpleString(line), nil
	case '-':
		return &conn.ReplyError{Msg: string(line)}, nil
	case ':':
		return parseInt(line)
	case ',', '(':
		// Doubles as Redis formats them (RESP2 sends the same text as a
		// bulk string); big numbers as their decimal text.
		return string(line), nil
	case '#':
		switch string(line) {
		case "t":
			return int64(1), nil
		case "f":
			return int64(0), nil
		}
		return nil, fmt.Errorf("%w: malformed boolean %q", errProtocol, line)
	case '_':
		return nil, nil
	case '$', '=', '!':
		if len(line) == 1 && line[0] == '?' {
			return nil, fmt.Errorf("%w: streamed strings are not supported", errProtocol)
		}
		n, err := parseInt(line)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		b, err := readBulk(br, n)
		if err != nil {
			return nil, err
		}
		switch prefix {
		case '=': // verbatim string: "txt:" or "mkd:" then the text
			if len(b) < 4 {
				return nil, fmt.Errorf("%w: malformed verbatim string", errProtocol)
			}
			return bytesString(b[4:]), nil
		case '!':
			return &conn.ReplyError{Msg: string(b)}, nil
		}
		return bytesString(b), nil
	case '*', '~', '>', '%':
		if len(line) == 1 && line[0] == '?' {
			return nil, fmt.Errorf("%w: streamed aggregates are not supported", errProtocol)
		}
		n, err := parseInt(line)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		if prefix == '%' {
			n *= 2 // a map is its keys and values, alternating
		}
		return readArray(br, n)
	}
	return nil, fmt.Errorf("%w: unknown type %q", errProtocol, prefix)
}

// readArray reads n elements.
func readArray(br resp.BufferedReader, n int64) ([]any, error) {
	arr := make([]any, 0, capFor(n))
	for i := int64(0); i < n; i++ {
		v, err := readElem(br)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	return arr, nil
}

// capFor bounds the capacity allocated up front for n elements, so that a
// corrupt header cannot make a huge allocation before any element arrives.
func capFor(n int64) int64 {
	if n > 1<<16 {
		return 1 << 16
	}
	return n
}

// readBytesArray reads n elements as byte slices: the bytes of string
// replies, nil for nil replies and for anything MGET does not send.
func readBytesArray(br resp.BufferedReader, n int64) ([][]byte, error) {
	out := make([][]byte, 0, capFor(n))
	for i := int64(0); i < n; i++ {
		prefix, line, err := readHeader(br)
		if err != nil {
			return nil, err
		}
		if prefix == '$' {
			m, err := parseInt(line)
			if err != nil {
				return nil, err
			}
			var b []byte
			if m >= 0 {
				if b, err = readBulk(br, m); err != nil {
					return nil, err
				}
			}
			out = append(out, b)
			continue
		}
		v, err := readValue(br, prefix, line)
		if err != nil {
			return nil, err
		}
		var b []byte
		if s, ok := v.(string); ok {
			b = []byte(s)
		}
		out = append(out, b)
	}
	return out, nil
}
