package core_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/redcache/redcache/core"
)

func TestLogErrors(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	h := core.ThrottleErrors(core.LogErrors(logger), time.Hour, 1)
	ctx := context.Background()
	e := &core.Error{Op: core.OpSave, Name: "users.get", Key: "cache:users.get:i42", Node: "127.0.0.1:7001", Err: errFull}
	h(ctx, e)
	h(ctx, e) // dropped

	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("one JSON line expected, got %q: %v", buf.String(), err)
	}
	delete(got, "time")
	want := map[string]any{
		"level": "WARN",
		"msg":   "redcache: cache trouble",
		"op":    "save",
		"func":  "users.get",
		"key":   "cache:users.get:i42",
		"node":  "127.0.0.1:7001",
		"error": errFull.Error(),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("logged %v\nwant     %v", got, want)
	}

	buf.Reset()
	e.Suppressed = 41
	core.LogErrors(logger)(ctx, e)
	got = nil
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["suppressed"] != float64(41) {
		t.Errorf("suppressed = %v, want 41", got["suppressed"])
	}
}

func TestLogErrorsRespectsTheLevel(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}))
	core.LogErrors(logger)(context.Background(), &core.Error{Op: core.OpLoad, Err: errFull})
	if buf.Len() != 0 {
		t.Errorf("logged below the handler's level: %q", buf.String())
	}
}
