package goredis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redis/go-redis/v9"
)

func TestFormatDouble(t *testing.T) {
	// What Redis 7.2+ prints for these in RESP2 (shortest digits, %.17g
	// layout).
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0"},
		{1.5, "1.5"},
		{-2.5, "-2.5"},
		{0.1, "0.1"},
		{100, "100"},
		{1000000, "1000000"},
		{1e16, "10000000000000000"},
		{1e17, "1e+17"},
		{1.2345678901234568e+17, "1.2345678901234568e+17"},
		{1e20, "1e+20"},
		{0.0001, "0.0001"},
		{1e-5, "1e-05"},
		{1.0000000000000001e-05, "1e-05"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	}
	for _, tt := range tests {
		if got := formatDouble(tt.f); got != tt.want {
			t.Errorf("formatDouble(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"int", int64(-3), int64(-3)},
		{"string", "x", "x"},
		{"true", true, int64(1)},
		{"false", false, int64(0)},
		{"double", 2.5, "2.5"},
		{"big number", new(big.Int).Lsh(big.NewInt(1), 70), "1180591620717411303424"},
		{"array", []any{"a", nil, int64(1), 0.5, []any{true}}, []any{"a", nil, int64(1), "0.5", []any{int64(1)}}},
		{"empty array", []any{}, []any{}},
		{"map ordered by key", map[any]any{"b": int64(2), "a": "1", "c": []any{1.5}},
			[]any{"a", "1", "b", int64(2), "c", []any{"1.5"}}},
		{"map with integer keys", map[any]any{"x": "s", int64(10): "ten", int64(2): "two"},
			[]any{int64(2), "two", int64(10), "ten", "x", "s"}},
		{"nested map", []any{map[any]any{"k": true}}, []any{[]any{"k", int64(1)}}},
		{"error element", []any{redis.ErrNoScript}, []any{&conn.ReplyError{Msg: redis.ErrNoScript.Error()}}},
	}
	for _, tt := range tests {
		if got := normalize(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: normalize = %#v, want %#v", tt.name, got, tt.want)
		}
	}
}

func TestPrepArgs(t *testing.T) {
	if _, err := prepArgs(nil); !errors.Is(err, conn.ErrBadArg) {
		t.Errorf("no args: %v, want conn.ErrBadArg", err)
	}
	for _, bad := range []any{struct{}{}, nil, time.Now(), new(int), []string{"a"}} {
		if _, err := prepArgs([]any{"SET", "k", bad}); !errors.Is(err, conn.ErrBadArg) {
			t.Errorf("argument %T: %v, want conn.ErrBadArg", bad, err)
		}
	}

	in := []any{"SET", "k", true, false, 1500 * time.Millisecond, 500 * time.Microsecond, -time.Millisecond, time.Duration(0)}
	orig := append([]any(nil), in...)
	got, err := prepArgs(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"SET", "k", int64(1), int64(0), int64(1500), int64(1), int64(-1), int64(0)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("prepArgs = %#v, want %#v", got, want)
	}
	if !reflect.DeepEqual(in, orig) {
		t.Errorf("prepArgs changed the caller's slice: %#v", in)
	}

	plain := []any{"SET", "k", []byte("v"), 1, int8(1), uint64(1), 1.5, float32(1)}
	allocs := testing.AllocsPerRun(100, func() {
		out, _ := prepArgs(plain)
		if &out[0] != &plain[0] {
			t.Fatal("prepArgs copied arguments that needed no rewrite")
		}
	})
	if allocs != 0 {
		t.Errorf("prepArgs allocates %v times for plain arguments", allocs)
	}
}

func TestConvErr(t *testing.T) {
	bg := context.Background()
	if err := convErr(bg, nil); err != nil {
		t.Errorf("nil: %v", err)
	}
	if err := convErr(bg, redis.Nil); err != conn.ErrMiss {
		t.Errorf("redis.Nil: %v, want ErrMiss", err)
	}
	err := convErr(bg, fmt.Errorf("wrapped: %w", redis.ErrCrossSlot))
	var re *conn.ReplyError
	if !errors.As(err, &re) || re.Prefix() != "CROSSSLOT" || re.Msg != redis.ErrCrossSlot.Error() {
		t.Errorf("reply error: %#v", err)
	}
	if err := convErr(bg, redis.ErrClosed); !errors.Is(err, conn.ErrClosed) || !errors.Is(err, redis.ErrClosed) {
		t.Errorf("closed client: %v, want ErrClosed wrapping redis.ErrClosed", err)
	}
	ctx, cancel := context.WithTimeout(bg, -time.Second)
	defer cancel()
	timeout := errors.New("read tcp: i/o timeout")
	if err := convErr(ctx, timeout); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, timeout) {
		t.Errorf("timeout after deadline: %v, want DeadlineExceeded wrapping the cause", err)
	}
	if err := convErr(ctx, context.DeadlineExceeded); !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("deadline: %v, want DeadlineExceeded with the driver's prefix", err)
	}
	if err := convErr(ctx, redis.Nil); err != conn.ErrMiss {
		t.Errorf("a miss stays a miss when ctx is done: %v", err)
	}
	other := errors.New("dial tcp: refused")
	if err := convErr(bg, other); !errors.Is(err, other) || err.Error() != prefix+other.Error() {
		t.Errorf("transport error: %v, want it wrapped with the driver's prefix", err)
	}
	mine := fmt.Errorf("%w: cause", errBadArg)
	if err := convErr(bg, mine); err != mine {
		t.Errorf("an error of the driver's own: %v, want it as it is (one prefix)", err)
	}
}
