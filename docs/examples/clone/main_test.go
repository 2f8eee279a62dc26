package main

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"testing"

	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// TestRun runs the program as a user would, against the runner's Redis,
// and reads what it prints.
func TestRun(t *testing.T) {
	t.Setenv("REDIS_URL", devredis.TestURL(t, "cache:myapp.square:*"))

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	main()
	os.Stdout = stdout
	w.Close()
	var out bytes.Buffer
	if _, err := io.Copy(&out, r); err != nil {
		t.Fatal(err)
	}

	// Durations vary from run to run: only the values are compared.
	want := regexp.MustCompile(`^square\(12\) = 144 in [0-9.]+[µnm]?s\nsquare\(12\) = 144 in [0-9.]+[µnm]?s\n$`)
	if !want.Match(out.Bytes()) {
		t.Errorf("output:\n%s\nwant two lines matching square(12) = 144 in <duration>", out.String())
	}
	if stats := core.Default.Stats(); stats.Loads != 1 || stats.Hits != 1 {
		t.Errorf("stats %+v: want 1 load (the first call) and 1 hit (the second)", stats)
	}
}
