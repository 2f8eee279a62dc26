package radix_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

// TestOpenSentinel opens a redis+sentinel:// URL: the driver finds the
// primary through the sentinel and works; a wrong master name fails.
func TestOpenSentinel(t *testing.T) {
	r := conntest.StartRedis(t)
	s := conntest.StartSentinel(t, r, "radixmaster").Addr()
	d := openT(t, "redis+sentinel://"+s+"/3?master_name=radixmaster")
	smoke(t, d)

	// The database of the URL is the primary's.
	ctx := ctxT(t)
	k := key(t, d, "sentinel")
	must(t, d.Set(ctx, k, []byte("v"), time.Minute))
	direct := openT(t, "redis://"+r.Addr()+"/3")
	got, err := direct.Get(ctx, k)
	must(t, err)
	if string(got) != "v" {
		t.Fatalf("Get on the primary = %q, want v", got)
	}

	tctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = radix.Open(tctx, "redis+sentinel://"+s+"?master_name=nosuchmaster")
	if err == nil || errors.Is(err, conn.ErrBadURL) {
		t.Fatalf("Open with an unknown master name = %v, want an error from the sentinel", err)
	}
}
