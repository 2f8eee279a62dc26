package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// read_entry.py, the reader for other languages that codecs.md shows,
// reads what core writes: JSON, Raw and compressed JSON entries.
func TestPythonReadsEntries(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	url := devredis.TestURL(t, "cache:codecs.*")
	d, err := goredis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx := conn.With(context.Background(), d)

	read := func(key string) map[string]any {
		t.Helper()
		raw, err := d.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(python, "read_entry.py")
		cmd.Stdin = bytes.NewReader(raw)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("read_entry.py on %s: %v\n%s", key, err, stderr.String())
		}
		var e map[string]any
		if err := json.Unmarshal(out, &e); err != nil {
			t.Fatalf("read_entry.py printed %q: %v", out, err)
		}
		return e
	}

	p, err := productJSON.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := productJSON.Key(1)
	e := read(key)
	want := map[string]any{"id": float64(p.ID), "name": p.Name, "price": p.Price}
	if diff := cmp.Diff(want, e["value"]); diff != "" {
		t.Errorf("JSON entry %s (-want +got):\n%s\nentry: %v", key, diff, e)
	}
	if e["codec"] != float64(2) || e["negative"] != false {
		t.Errorf("JSON entry header: %v", e)
	}

	html, err := page.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	key, _ = page.Key(1)
	if e := read(key); e["value"] != string(html) {
		t.Errorf("Raw entry %s: value %v, want %q", key, e["value"], html)
	}

	rows, err := report.Get(ctx, "2024-05")
	if err != nil {
		t.Fatal(err)
	}
	key, _ = report.Key("2024-05")
	e = read(key)
	got, ok := e["value"].([]any)
	if !ok || len(got) != len(rows) || e["codec"] != float64(0x82) {
		t.Fatalf("compressed JSON entry %s: codec %v, %d rows of %d", key, e["codec"], len(got), len(rows))
	}
	if last := got[len(got)-1].(map[string]any); last["name"] != rows[len(rows)-1].Name {
		t.Errorf("compressed JSON entry: last row %v, want %+v", last, rows[len(rows)-1])
	}
}
