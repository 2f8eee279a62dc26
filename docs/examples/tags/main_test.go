package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redcache/redcache/docs/internal/devredis"
)

func TestRun(t *testing.T) {
	url := devredis.TestURL(t, "blog:*")
	var out bytes.Buffer
	if err := run(context.Background(), &out, url); err != nil {
		t.Fatal(err)
	}
	const want = `first reads, misses:
  db: post 1
  post 1: Hello
  db: author page ann
  author: ann: writes | Hello
  render /blog/ann
  page: <html>/blog/ann</html>
second reads, hits:
  post 1: Hello
  author: ann: writes | Hello
  page: <html>/blog/ann</html>
a write to the posts table:
  db: post 1
  post 1: Hello, tags
  db: author page ann
  author: ann: writes | Hello, tags
  render /blog/ann
  page: <html>/blog/ann</html>
the authors table changes: only the author page reloads
  post 1: Hello, tags
  db: author page ann
  author: ann: writes a lot | Hello, tags
  page: <html>/blog/ann</html>
purge a section of the site:
  post 1: Hello, tags
  author: ann: writes a lot | Hello, tags
  render /blog/ann
  page: <html>/blog/ann</html>
stats: 7 hits, 8 misses
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
