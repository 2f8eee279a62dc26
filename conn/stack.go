package conn

import (
	"context"
	"fmt"
	"reflect"
	"sync"
)

// Stack is a stack of drivers: the top one is the connection in use. It is
// safe for concurrent use, and its zero value is an empty stack ready to
// use. Most programs use the process-wide stack through the package
// functions [Use], [Push], [Pop], [Current] and [Scope]; a Stack of their
// own is for tests and for libraries that must not touch the global one.
//
// The original library kept one stack per thread. Go has no thread-local
// storage and goroutines are not threads, so the stack here is one per
// process, guarded by a mutex; a per-request or per-goroutine connection is
// carried by the [context.Context] instead ([With], [From]), and [Resolve]
// prefers it to the stack.
type Stack struct {
	mu      sync.RWMutex
	entries []entry
	pushes  uint64 // numbers the pushes, so Scope knows its own
}

// entry is one driver on the stack, with the number of the push that put
// it there. Scope checks that number rather than comparing drivers: a
// driver's dynamic type may not be comparable (a struct value holding a
// slice or a map), and the same driver may be pushed twice.
type entry struct {
	d    Driver
	push uint64
}

// Use makes d the only driver on the stack. It refuses with ErrStackInUse
// when the stack holds more than one driver, because that means a Push is
// still waiting for its Pop (the original asserts the same), and with
// [ErrBadArg] when d is nil (see [Stack.Push]).
func (s *Stack) Use(d Driver) error {
	if err := checkDriver("Use", d); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) > 1 {
		return ErrStackInUse
	}
	s.pushes++
	s.entries = append(s.entries[:0], entry{d: d, push: s.pushes})
	return nil
}

// Push puts d on top of the stack. A nil d, or a nil pointer of a driver
// type (a driver variable that was never opened), is refused with
// [ErrBadArg] and the stack is left as it was: on the stack it would hide
// the drivers below it and turn every later call into a nil dereference
// far from the mistake.
func (s *Stack) Push(d Driver) error {
	if err := checkDriver("Push", d); err != nil {
		return err
	}
	s.push(d)
	return nil
}

func (s *Stack) push(d Driver) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushes++
	s.entries = append(s.entries, entry{d: d, push: s.pushes})
	return s.pushes
}

// Pop removes and returns the top driver, or nil when the stack is empty.
func (s *Stack) Pop() Driver {
	e, _ := s.pop()
	return e.d
}

func (s *Stack) pop() (entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.entries)
	if n == 0 {
		return entry{}, false
	}
	e := s.entries[n-1]
	s.entries[n-1] = entry{}
	s.entries = s.entries[:n-1]
	return e, true
}

// Current returns the top driver without removing it, or nil when the
// stack is empty.
func (s *Stack) Current() Driver {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if n := len(s.entries); n > 0 {
		return s.entries[n-1].d
	}
	return nil
}

// Len returns the number of drivers on the stack.
func (s *Stack) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// Scope pushes d, runs fn and pops, like the original's `with
// Connection(...)` block. The pop happens even when fn panics. It returns
// fn's error, or ErrStackMismatch when the top of the stack is not the
// entry Scope pushed (fn left a Push without its Pop, even of d itself, or
// popped more than it pushed); the stack is then left as fn made it. Scope
// tells its entry by the push, never by comparing drivers, so any driver
// type works, comparable or not. A nil d is refused with [ErrBadArg]
// before fn runs (see [Stack.Push]).
func (s *Stack) Scope(d Driver, fn func() error) (err error) {
	if err := checkDriver("Scope", d); err != nil {
		return err
	}
	mine := s.push(d)
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		n := len(s.entries)
		if n > 0 && s.entries[n-1].push == mine {
			s.entries[n-1] = entry{}
			s.entries = s.entries[:n-1]
			return
		}
		if err == nil {
			err = ErrStackMismatch
		}
	}()
	return fn()
}

// global is the process-wide stack behind the package functions.
var global Stack

// Use makes d the only driver on the process-wide stack; see [Stack.Use].
// It is the counterpart of the original's use_connection().
func Use(d Driver) error { return global.Use(d) }

// Push puts d on top of the process-wide stack; see [Stack.Push].
func Push(d Driver) error { return global.Push(d) }

// Pop removes and returns the top of the process-wide stack, or nil.
func Pop() Driver { return global.Pop() }

// Current returns the top of the process-wide stack, or nil.
func Current() Driver { return global.Current() }

// Scope runs fn with d pushed on the process-wide stack; see [Stack.Scope].
func Scope(d Driver, fn func() error) error { return global.Scope(d, fn) }

type ctxKey struct{}

// checkDriver refuses a nil driver given to fn, untyped or a nil pointer
// (or other nil-able value) of a driver type.
func checkDriver(fn string, d Driver) error {
	if d == nil {
		return fmt.Errorf("%w: conn.%s given a nil Driver", ErrBadArg, fn)
	}
	switch v := reflect.ValueOf(d); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		if v.IsNil() {
			return fmt.Errorf("%w: conn.%s given a nil %T (was the driver opened?)", ErrBadArg, fn, d)
		}
	}
	return nil
}

// With returns a copy of ctx that carries d. Calls that resolve their
// connection from ctx ([Resolve]) use d, ahead of the stack.
//
// With panics when d is nil (or a nil pointer of a driver type), with an
// error wrapping [ErrBadArg]: it has no error to return, and a context
// carrying no driver would silently send the calls to the stack's
// driver instead, another Redis than the caller chose. The standard
// library's context.WithValue panics on a nil key for the same reason.
func With(ctx context.Context, d Driver) context.Context {
	if err := checkDriver("With", d); err != nil {
		panic(err)
	}
	return context.WithValue(ctx, ctxKey{}, d)
}

// From returns the driver carried by ctx, or nil.
func From(ctx context.Context) Driver {
	d, _ := ctx.Value(ctxKey{}).(Driver)
	return d
}

// Resolve picks the driver for a call: explicit when it is not nil, else
// the one carried by ctx, else the top of the process-wide stack. With
// none of them it returns ErrNoConnection.
func Resolve(ctx context.Context, explicit Driver) (Driver, error) {
	if explicit != nil {
		return explicit, nil
	}
	if d := From(ctx); d != nil {
		return d, nil
	}
	if d := global.Current(); d != nil {
		return d, nil
	}
	return nil, ErrNoConnection
}
