package conn_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// fake is a Driver that is only ever compared, never called: the stack
// does not talk to Redis.
type fake struct {
	conn.Driver
	name string
}

func newFake(name string) *fake { return &fake{name: name} }

func TestStackZeroValue(t *testing.T) {
	var s conn.Stack
	if s.Current() != nil || s.Pop() != nil || s.Len() != 0 {
		t.Fatal("a zero Stack must be empty")
	}
}

func TestStackPushPop(t *testing.T) {
	var s conn.Stack
	a, b := newFake("a"), newFake("b")
	s.Push(a)
	s.Push(b)
	if s.Current() != b {
		t.Fatal("Current is not the last pushed driver")
	}
	if got := s.Pop(); got != b {
		t.Fatalf("Pop = %v, want b", got)
	}
	if got := s.Pop(); got != a {
		t.Fatalf("Pop = %v, want a", got)
	}
	if got := s.Pop(); got != nil {
		t.Fatalf("Pop on empty = %v, want nil", got)
	}
}

func TestStackUse(t *testing.T) {
	var s conn.Stack
	a, b, c := newFake("a"), newFake("b"), newFake("c")
	if err := s.Use(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Use(b); err != nil { // depth 1: replaced
		t.Fatal(err)
	}
	if s.Len() != 1 || s.Current() != b {
		t.Fatal("Use did not replace the only driver")
	}
	s.Push(c)
	if err := s.Use(a); !errors.Is(err, conn.ErrStackInUse) {
		t.Fatalf("Use with depth 2 = %v, want ErrStackInUse", err)
	}
	if s.Current() != c || s.Len() != 2 {
		t.Fatal("a refused Use changed the stack")
	}
}

func TestStackScope(t *testing.T) {
	var s conn.Stack
	base, inner := newFake("base"), newFake("inner")
	s.Push(base)
	sentinel := errors.New("fn failed")

	tests := []struct {
		name    string
		fn      func() error
		wantErr error
		wantTop conn.Driver
		wantLen int
	}{
		{"balanced", func() error {
			if s.Current() != inner {
				t.Error("inside Scope, Current is not the scoped driver")
			}
			return nil
		}, nil, base, 1},
		{"fn error passes through", func() error { return sentinel }, sentinel, base, 1},
		{"nested balanced", func() error {
			return s.Scope(newFake("deeper"), func() error { return nil })
		}, nil, base, 1},
		{"left a push", func() error { s.Push(newFake("leak")); return nil }, conn.ErrStackMismatch, nil, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Scope(inner, tc.fn)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Scope = %v, want %v", err, tc.wantErr)
			}
			if s.Len() != tc.wantLen {
				t.Fatalf("stack depth after Scope = %d, want %d", s.Len(), tc.wantLen)
			}
			if tc.wantTop != nil && s.Current() != tc.wantTop {
				t.Fatal("Scope did not restore the top")
			}
		})
	}
}

func TestStackScopePopsOnPanic(t *testing.T) {
	var s conn.Stack
	d := newFake("d")
	func() {
		defer func() { _ = recover() }()
		_ = s.Scope(d, func() error { panic("boom") })
	}()
	if s.Len() != 0 {
		t.Fatalf("a panicking fn left %d drivers on the stack", s.Len())
	}
}

func TestStackScopeOverPopped(t *testing.T) {
	var s conn.Stack
	base, d := newFake("base"), newFake("d")
	s.Push(base)
	err := s.Scope(d, func() error { s.Pop(); return nil })
	if !errors.Is(err, conn.ErrStackMismatch) {
		t.Fatalf("Scope after fn popped its driver = %v, want ErrStackMismatch", err)
	}
	if s.Current() != base || s.Len() != 1 {
		t.Fatal("Scope must leave the stack as fn made it")
	}
}

func TestStackConcurrent(t *testing.T) {
	var s conn.Stack
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				d := newFake("x")
				s.Push(d)
				_ = s.Current()
				s.Pop()
			}
		}()
	}
	wg.Wait()
	if s.Len() != 0 {
		t.Fatalf("balanced concurrent push/pop left %d drivers", s.Len())
	}
}

func TestResolveOrder(t *testing.T) {
	explicit, fromCtx, top := newFake("explicit"), newFake("ctx"), newFake("top")
	ctx := context.Background()

	// The process-wide stack is shared; leave it as it was found.
	for conn.Current() != nil {
		d := conn.Pop()
		t.Cleanup(func() { conn.Push(d) })
	}

	if _, err := conn.Resolve(ctx, nil); !errors.Is(err, conn.ErrNoConnection) {
		t.Fatalf("Resolve with nothing = %v, want ErrNoConnection", err)
	}
	conn.Push(top)
	t.Cleanup(func() { conn.Pop() })
	cctx := conn.With(ctx, fromCtx)

	tests := []struct {
		name     string
		ctx      context.Context
		explicit conn.Driver
		want     conn.Driver
	}{
		{"explicit beats all", cctx, explicit, explicit},
		{"context beats stack", cctx, nil, fromCtx},
		{"stack last", ctx, nil, top},
	}
	for _, tc := range tests {
		got, err := conn.Resolve(tc.ctx, tc.explicit)
		if err != nil || got != tc.want {
			t.Errorf("%s: Resolve = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if conn.From(ctx) != nil {
		t.Fatal("From on a bare context must be nil")
	}
}

func TestMilliseconds(t *testing.T) {
	tests := []struct {
		ttl  time.Duration
		want int64
		err  error
	}{
		{0, 0, nil},
		{time.Nanosecond, 1, nil},
		{time.Millisecond, 1, nil},
		{1500 * time.Microsecond, 2, nil},
		{5 * time.Second, 5000, nil},
		{-time.Nanosecond, 0, conn.ErrInvalidTTL},
	}
	for _, tc := range tests {
		got, err := conn.Milliseconds(tc.ttl)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("Milliseconds(%v) = %d, %v; want %d, %v", tc.ttl, got, err, tc.want, tc.err)
		}
	}
}

func TestReplyError(t *testing.T) {
	err := error(&conn.ReplyError{Msg: "WRONGTYPE Operation against a key holding the wrong kind of value"})
	wrapped := errors.Join(errors.New("context"), err)
	if !conn.IsReplyError(wrapped, "WRONGTYPE") || !conn.IsReplyError(wrapped, "") || conn.IsReplyError(wrapped, "ERR") {
		t.Fatal("IsReplyError does not match prefixes through wrapping")
	}
	if conn.IsReplyError(errors.New("x"), "") {
		t.Fatal("IsReplyError matched a plain error")
	}
	if got := (&conn.ReplyError{Msg: "NOSCRIPT"}).Prefix(); got != "NOSCRIPT" {
		t.Fatalf("Prefix of a one-word error = %q", got)
	}
}

func TestScriptHash(t *testing.T) {
	// The digest Redis prints for SCRIPT LOAD "return 1".
	if got := conn.NewScript("return 1").Hash(); got != "e0e1f9fabfc9d4800c877a703b823ac0578ff8db" {
		t.Fatalf("Hash = %s", got)
	}
}

// valueDriver is a Driver whose dynamic type is not comparable: a struct
// value holding a slice. Comparing two such interface values panics.
type valueDriver struct {
	conn.Driver
	tags []string
}

func TestStackScopeNotComparable(t *testing.T) {
	var s conn.Stack
	d := valueDriver{tags: []string{"tenant-a"}}
	tests := []struct {
		name    string
		fn      func() error
		wantErr error
		wantLen int
	}{
		{"balanced", func() error { return nil }, nil, 0},
		{"nested", func() error {
			return s.Scope(valueDriver{tags: []string{"b"}}, func() error { return nil })
		}, nil, 0},
		{"left a push", func() error { s.Push(valueDriver{tags: []string{"leak"}}); return nil }, conn.ErrStackMismatch, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for s.Len() > 0 {
				s.Pop()
			}
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Scope panicked on a driver type that is not comparable: %v", r)
					}
				}()
				err = s.Scope(d, tc.fn)
			}()
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Scope = %v, want %v", err, tc.wantErr)
			}
			if s.Len() != tc.wantLen {
				t.Fatalf("stack depth after Scope = %d, want %d", s.Len(), tc.wantLen)
			}
		})
	}
}

// A Push of the very driver Scope pushed, left without its Pop, is still a
// Push left behind.
func TestStackScopeSameDriverPushedAgain(t *testing.T) {
	var s conn.Stack
	d := newFake("d")
	err := s.Scope(d, func() error { s.Push(d); return nil })
	if !errors.Is(err, conn.ErrStackMismatch) {
		t.Fatalf("Scope after fn pushed its driver again = %v, want ErrStackMismatch", err)
	}
	if s.Len() != 2 || s.Current() != d {
		t.Fatalf("Scope must leave the stack as fn made it (two drivers): depth %d", s.Len())
	}
}

// A nil driver, untyped or a nil pointer of a driver type, is refused
// with ErrBadArg by every way onto a stack, which is left as it was; a
// context is never given one.
func TestNilDriverRefused(t *testing.T) {
	var typedNil *fake
	nils := []struct {
		name string
		d    conn.Driver
	}{
		{"untyped", nil},
		{"nil pointer", typedNil},
	}
	for _, n := range nils {
		t.Run(n.name, func(t *testing.T) {
			var s conn.Stack
			base := newFake("base")
			if err := s.Use(base); err != nil {
				t.Fatal(err)
			}
			if err := s.Use(n.d); !errors.Is(err, conn.ErrBadArg) {
				t.Errorf("Use(nil) = %v, want ErrBadArg", err)
			}
			if err := s.Push(n.d); !errors.Is(err, conn.ErrBadArg) {
				t.Errorf("Push(nil) = %v, want ErrBadArg", err)
			}
			ran := false
			if err := s.Scope(n.d, func() error { ran = true; return nil }); !errors.Is(err, conn.ErrBadArg) {
				t.Errorf("Scope(nil) = %v, want ErrBadArg", err)
			}
			if ran {
				t.Error("Scope(nil) ran its function")
			}
			if s.Len() != 1 || s.Current() != conn.Driver(base) {
				t.Errorf("stack after the refusals: len %d, top %v; want only base", s.Len(), s.Current())
			}

			// The process-wide functions refuse the same way.
			if err := conn.Use(n.d); !errors.Is(err, conn.ErrBadArg) {
				t.Errorf("conn.Use(nil) = %v, want ErrBadArg", err)
			}
			if err := conn.Push(n.d); !errors.Is(err, conn.ErrBadArg) {
				t.Errorf("conn.Push(nil) = %v, want ErrBadArg", err)
			}
			if err := conn.Scope(n.d, func() error { return nil }); !errors.Is(err, conn.ErrBadArg) {
				t.Errorf("conn.Scope(nil) = %v, want ErrBadArg", err)
			}
			if conn.Current() != nil {
				t.Errorf("the process-wide stack holds %v", conn.Current())
			}

			// With has no error to return: it panics, naming the mistake.
			func() {
				defer func() {
					r := recover()
					if r == nil {
						t.Fatal("With(ctx, nil) did not panic")
					}
					err, ok := r.(error)
					if !ok || !errors.Is(err, conn.ErrBadArg) {
						t.Errorf("With(ctx, nil) panicked with %v, want an error wrapping ErrBadArg", r)
					}
				}()
				conn.With(context.Background(), n.d)
			}()
		})
	}
}
