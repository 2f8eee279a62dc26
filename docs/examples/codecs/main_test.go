package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "cache:codecs.*")
	var out bytes.Buffer
	if err := run(context.Background(), &out, url); err != nil {
		t.Fatal(err)
	}
	// The compressed size depends on compress/flate: check it apart.
	got := out.String()
	m := regexp.MustCompile(`8385 bytes of JSON, (\d+) bytes in Redis`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no report line in:\n%s", got)
	}
	if n, _ := strconv.Atoi(m[1]); n <= 0 || n > 8385/4 {
		t.Errorf("the report takes %s bytes in Redis; want it compressed at least 4 times", m[1])
	}
	got = strings.Replace(got, m[0], "8385 bytes of JSON, N bytes in Redis", 1)
	const want = `codecs.product:              {"id":1,"name":"Widget 1","price":9.5}
codecs.product-hooks:        {"id":1,"name":"Widget 1","price":9.5}
codecs.page:                 <h1>Widget 1</h1><p>9.50</p>
codecs.report:               200 rows, 8385 bytes of JSON, N bytes in Redis
reported: op decode, key cache:codecs.product:i1: redcache: corrupt or foreign cache entry: written with codec ID 0x02, read with 0x01
gob reader: 1 miss, 1 hit, 1 corrupt
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
