package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// drivers runs a test with each driver of the command.
var drivers = []string{"goredis", "radix"}

// A name with no keys under the prefix is refused (a typo would otherwise
// report success and create a generation key); --force bumps it anyway.
func TestInvalidateUnknownName(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			url := redisURL(t)
			d := openDriver(t, url)
			prefix := uniquePrefix(t, d)
			fill(t, d, prefix, "users.get", 2)
			env := map[string]string{"REDIS_URL": url}
			ctx := context.Background()
			gen := func(name string) bool {
				t.Helper()
				_, err := d.Get(ctx, prefix+":"+name+":~gen")
				if err != nil && !errors.Is(err, conn.ErrMiss) {
					t.Fatal(err)
				}
				return err == nil
			}

			r := runCmd(t, env, "invalidate", "--driver", driver, "--prefix", prefix, "no.such.fn")
			r.want(t, exitFailure, nil, []string{`"no.such.fn"`, "--force"})
			if gen("no.such.fn") {
				t.Errorf("a refused invalidate created %s:no.such.fn:~gen", prefix)
			}

			// One unknown name among known ones: nothing is bumped.
			before := readGeneration(ctx, d, prefix, "users.get")
			r = runCmd(t, env, "invalidate", "--driver", driver, "--prefix", prefix, "users.get", "no.such.fn")
			r.want(t, exitFailure, nil, []string{`"no.such.fn"`})
			if after := readGeneration(ctx, d, prefix, "users.get"); after != before {
				t.Errorf("users.get was bumped (%s -> %s) although the command was refused", before, after)
			}

			r = runCmd(t, env, "invalidate", "--driver", driver, "--prefix", prefix, "users.get")
			r.want(t, exitOK, []string{"invalidated 1 function(s)"}, nil)

			r = runCmd(t, env, "invalidate", "--driver", driver, "--prefix", prefix, "--force", "no.such.fn")
			r.want(t, exitOK, []string{"invalidated 1 function(s)", "no.such.fn"}, nil)
			if !gen("no.such.fn") {
				t.Errorf("--force did not bump no.such.fn")
			}
			// A function known by its generation key alone is known.
			r = runCmd(t, env, "invalidate", "--driver", driver, "--prefix", prefix, "no.such.fn")
			r.want(t, exitOK, nil, nil)
		})
	}
}

// stats counts as functions only names whose keys are redcache's: keys of
// another application under the same prefix are "other keys".
func TestStatsForeignKeys(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			url := redisURL(t)
			d := openDriver(t, url)
			prefix := uniquePrefix(t, d)
			fill(t, d, prefix, "users.get", 3)
			ctx := context.Background()
			for _, k := range []string{"session:abc", "session:def", "rate.limit:42", "counter"} {
				if err := d.Set(ctx, prefix+":"+k, []byte("not an entry"), time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			genKeys := len(withGen(t, d, prefix, "users.get", nil))
			r := runCmd(t, map[string]string{"REDIS_URL": url}, "stats", "--driver", driver, "--prefix", prefix)
			r.want(t, exitOK, []string{
				fmt.Sprintf("keys             %d\n", 7+genKeys),
				"entries          3\n",
				"functions        1\n",
				"other keys       4 ",
				"users.get  3",
			}, nil)
			for _, foreign := range []string{"session", "rate.limit"} {
				if regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(foreign) + ` `).MatchString(r.stdout) {
					t.Errorf("stats lists %q as a function:\n%s", foreign, r.stdout)
				}
			}
		})
	}
}

// The progress of a scan shows the total from DBSIZE and a rate.
func TestScanProgressTotalAndRate(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			url := redisURL(t)
			d := openDriver(t, url)
			prefix := uniquePrefix(t, d)
			fill(t, d, prefix, "users.get", 5)
			r := runCmd(t, map[string]string{"REDIS_URL": url}, "stats", "--driver", driver, "--prefix", prefix, "--progress")
			r.want(t, exitOK, nil, nil)
			matched := 5 + len(withGen(t, d, prefix, "users.get", nil))
			re := regexp.MustCompile(fmt.Sprintf(`scanned \d+ of \d+ keys \(DBSIZE\) on 1 node\(s\) in [^,]+, [\d.]+k? keys/s; %d matched`, matched))
			if !re.MatchString(r.stderr) {
				t.Errorf("the progress summary lacks a total and a rate; stderr:\n%s", r.stderr)
			}
		})
	}
}

// A flag is spelled the same in the help and in the errors.
func TestFlagSpelling(t *testing.T) {
	for _, args := range [][]string{
		{"keys", "--frob"},
		{"--frob", "keys"},
		{"keys", "--limit"},
		{"keys", "--limit", "x"},
	} {
		r := runCmd(t, nil, args...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, r.code, exitUsage)
		}
		if regexp.MustCompile(`(^|[\s:])-[a-z]`).MatchString(r.stderr) {
			t.Errorf("%v: the error spells a flag with one dash, the help with two:\n%s", args, r.stderr)
		}
		if !strings.Contains(r.stderr, "--") {
			t.Errorf("%v: stderr %q", args, r.stderr)
		}
	}
	help := runCmd(t, nil, "help", "keys")
	if !strings.Contains(help.stdout, "--limit") {
		t.Errorf("help keys lacks --limit:\n%s", help.stdout)
	}
}

// The running progress line, with a clock the test moves.
func TestProgressLine(t *testing.T) {
	var b strings.Builder
	now := time.Unix(0, 0)
	p := newProgress(&b, true, false, "keys")
	p.nowFun = func() time.Time { return now }
	p.start, p.last = now, now
	p.node(1000)
	now = now.Add(2 * time.Second)
	p.walked(0.5)
	p.add(3)
	if want := "scanned ~500 of 1000 keys (50%) on node 1 of 1, 250 keys/s; 3 matched"; !strings.Contains(b.String(), want) {
		t.Errorf("progress printed %q, want %q", b.String(), want)
	}
}
