package radix

import (
	"bufio"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mediocregopher/radix/v4/resp"
	"github.com/redcache/redcache/conn"
)

// TestReplyRead feeds RESP2 and RESP3 replies to the reader and checks the
// plain values of the conn.Driver.Do table.
func TestReplyRead(t *testing.T) {
	re := func(msg string) *conn.ReplyError { return &conn.ReplyError{Msg: msg} }
	cases := []struct {
		name string
		wire string
		want any
		err  error // want this error (errors.Is), or a *conn.ReplyError with this text
	}{
		{"simple string", "+OK\r\n", "OK", nil},
		{"integer", ":-42\r\n", int64(-42), nil},
		{"bulk", "$5\r\nhello\r\n", "hello", nil},
		{"bulk binary", "$4\r\n\r\n\x00\xff\r\n", "\r\n\x00\xff", nil},
		{"empty bulk", "$0\r\n\r\n", "", nil},
		{"nil bulk", "$-1\r\n", nil, conn.ErrMiss},
		{"nil array", "*-1\r\n", nil, conn.ErrMiss},
		{"RESP3 null", "_\r\n", nil, conn.ErrMiss},
		{"array", "*3\r\n$1\r\na\r\n$-1\r\n:7\r\n", []any{"a", nil, int64(7)}, nil},
		{"empty array", "*0\r\n", []any{}, nil},
		{"nested", "*2\r\n*1\r\n+x\r\n*0\r\n", []any{[]any{"x"}, []any{}}, nil},
		{"error in array", "*2\r\n+OK\r\n-WRONGTYPE no\r\n", []any{"OK", re("WRONGTYPE no")}, nil},
		{"RESP3 map", "%2\r\n+a\r\n:1\r\n+b\r\n_\r\n", []any{"a", int64(1), "b", nil}, nil},
		{"RESP3 set", "~2\r\n+a\r\n+b\r\n", []any{"a", "b"}, nil},
		{"RESP3 push", ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\np\r\n", []any{"message", "ch", "p"}, nil},
		{"RESP3 double", ",1.5\r\n", "1.5", nil},
		{"RESP3 double inf", ",inf\r\n", "inf", nil},
		{"RESP3 true", "#t\r\n", int64(1), nil},
		{"RESP3 false", "#f\r\n", int64(0), nil},
		{"RESP3 big number", "(3492890328409238509324850943850943825024385\r\n", "3492890328409238509324850943850943825024385", nil},
		{"RESP3 verbatim", "=15\r\ntxt:Some string\r\n", "Some string", nil},
		{"RESP3 attribute", "|1\r\n+ttl\r\n:3600\r\n:5\r\n", int64(5), nil},
		{"RESP3 attribute in array", "*1\r\n|1\r\n+a\r\n+b\r\n+c\r\n", []any{"c"}, nil},
		{"error", "-ERR bad thing\r\n", nil, re("ERR bad thing")},
		{"RESP3 blob error", "!21\r\nSYNTAX invalid syntax\r\n", nil, re("SYNTAX invalid syntax")},
		{"long error", "-ERR " + strings.Repeat("x", 10000) + "\r\n", nil, re("ERR " + strings.Repeat("x", 10000))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, swallow := range []bool{false, true} {
				r := &reply{swallow: swallow}
				br := bufio.NewReader(strings.NewReader(c.wire + "+NEXT\r\n"))
				rerr := r.read(br)
				if swallow && rerr != nil {
					t.Fatalf("swallow: read = %v, want nil", rerr)
				}
				if !swallow && (rerr != nil) != (r.err != nil) {
					t.Fatalf("read = %v with a recorded error %v", rerr, r.err)
				}
				if rerr != nil && !isReplyErr(rerr) {
					t.Fatalf("read = %v, want an error reply radix recognises", rerr)
				}
				got, err := r.result()
				checkErr(t, err, c.err)
				if !reflect.DeepEqual(got, c.want) {
					t.Fatalf("value = %#v, want %#v", got, c.want)
				}
				// The reader consumed exactly one reply.
				next := &reply{}
				if err := next.read(br); err != nil || next.v != "NEXT" {
					t.Fatalf("the reply after it read as %#v, %v", next.v, err)
				}
			}
		})
	}
}

func checkErr(t *testing.T, got, want error) {
	t.Helper()
	var wantRE *conn.ReplyError
	switch {
	case errors.As(want, &wantRE):
		var re *conn.ReplyError
		if !errors.As(got, &re) || re.Msg != wantRE.Msg {
			t.Fatalf("error = %v, want reply error %q", got, wantRE.Msg)
		}
	case !errors.Is(got, want):
		t.Fatalf("error = %v, want %v", got, want)
	}
}

func TestReplyBytesKinds(t *testing.T) {
	r := &reply{kind: kindBytes}
	if err := r.read(bufio.NewReader(strings.NewReader("$0\r\n\r\n"))); err != nil {
		t.Fatal(err)
	}
	if r.b == nil || len(r.b) != 0 {
		t.Fatalf("empty bulk as bytes = %#v, want a non-nil empty slice", r.b)
	}
	r = &reply{kind: kindBytesArray}
	if err := r.read(bufio.NewReader(strings.NewReader("*4\r\n$1\r\na\r\n$-1\r\n$0\r\n\r\n_\r\n"))); err != nil {
		t.Fatal(err)
	}
	want := [][]byte{[]byte("a"), nil, {}, nil}
	if !reflect.DeepEqual(r.bs, want) || r.bs[2] == nil {
		t.Fatalf("MGET reply = %#v, want %#v", r.bs, want)
	}
}

// TestReplyProtocolErrors checks that garbage is a fatal error (radix then
// closes the connection), never one radix would take for a usable
// connection.
func TestReplyProtocolErrors(t *testing.T) {
	for _, wire := range []string{
		"?\r\n",
		":12a\r\n",
		"$3\r\nabcd\r\n",
		"+OK\n",
		"$?\r\n",
		"#x\r\n",
		"$5\r\nab", // cut short
	} {
		r := &reply{}
		err := r.read(bufio.NewReader(strings.NewReader(wire)))
		if err == nil {
			t.Errorf("read(%q) = nil, want an error", wire)
			continue
		}
		if errors.As(err, new(resp.ErrConnUsable)) {
			t.Errorf("read(%q) = %v, a usable-connection error", wire, err)
		}
	}
}
