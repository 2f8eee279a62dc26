package conntest_test

import (
	"testing"

	"github.com/redcache/redcache/conn/conntest"
)

// Without a cluster, only the cluster subtest skips: the standalone one
// runs, and so does the rest of the parent test.
func TestEachServerSkipsPerSubtest(t *testing.T) {
	t.Setenv(conntest.EnvRedis, "127.0.0.1:1")
	t.Setenv(conntest.EnvCluster, "")
	t.Setenv(conntest.EnvRequire, "")
	var ran []string
	conntest.EachServer(t, func(t *testing.T, srv conntest.Server) {
		ran = append(ran, srv.Name)
		if srv.Name == "standalone" && (srv.Cluster || len(srv.Addrs) != 1 || srv.Addrs[0] != "127.0.0.1:1") {
			t.Errorf("standalone server = %+v", srv)
		}
	})
	if len(ran) != 1 || ran[0] != "standalone" {
		t.Fatalf("EachServer ran %v, want only standalone", ran)
	}
	if _, ok := conntest.LookupCluster(); ok {
		t.Fatal("LookupCluster found a cluster in an empty variable")
	}
	if addr, ok := conntest.LookupRedis(); !ok || addr != "127.0.0.1:1" {
		t.Fatalf("LookupRedis = %q, %v", addr, ok)
	}
}

func TestEachServerCluster(t *testing.T) {
	t.Setenv(conntest.EnvRedis, "")
	t.Setenv(conntest.EnvCluster, "127.0.0.1:1,127.0.0.1:2")
	t.Setenv(conntest.EnvRequire, "")
	var got []conntest.Server
	conntest.EachServer(t, func(t *testing.T, srv conntest.Server) { got = append(got, srv) })
	if len(got) != 1 || !got[0].Cluster || len(got[0].Addrs) != 2 {
		t.Fatalf("EachServer ran %+v, want only the cluster with two addresses", got)
	}
}
