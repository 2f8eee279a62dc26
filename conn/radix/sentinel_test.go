package radix_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/radix"
)

// startSentinel starts a Redis Sentinel on a free loopback port that
// watches r under the name master; it is killed when the test ends.
func startSentinel(t *testing.T, r *ownedRedis, master string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	must(t, ln.Close())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sentinel.conf")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
		"port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d 1\n",
		port, dir, master, r.port)), 0o600))
	cmd := exec.Command("redis-server", cfg, "--sentinel")
	must(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &ownedRedis{t: t, addr: addr}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.raw("SENTINEL", "GET-MASTER-ADDR-BY-NAME", master); err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis sentinel on %s did not start", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOpenSentinel opens a redis+sentinel:// URL: the driver finds the
// primary through the sentinel and works; a wrong master name fails.
func TestOpenSentinel(t *testing.T) {
	r := startRedis(t)
	s := startSentinel(t, r, "radixmaster")
	d := openT(t, "redis+sentinel://"+s+"/3?master_name=radixmaster")
	smoke(t, d)

	// The database of the URL is the primary's.
	ctx := ctxT(t)
	k := key(t, d, "sentinel")
	must(t, d.Set(ctx, k, []byte("v"), time.Minute))
	direct := openT(t, "redis://"+r.addr+"/3")
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
