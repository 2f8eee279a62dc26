package radix_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

// A refused login is Redis's answer, so Open reports it as a
// *conn.ReplyError (WRONGPASS), as every other call does, and never shows
// the password it was given.
func TestOpenWrongPassword(t *testing.T) {
	srv := conntest.StartRedis(t)
	if _, err := srv.Do("CONFIG", "SET", "requirepass", "right-secret"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := radix.Open(ctx, "redis://default:wrong-secret@"+srv.Addr())
	if err == nil {
		d.Close()
		t.Fatal("Open with a wrong password succeeded")
	}
	if !conn.IsReplyError(err, "WRONGPASS") {
		t.Errorf("Open with a wrong password = %v; want a reply error WRONGPASS", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("the error shows the password: %v", err)
	}
	d, err = radix.Open(ctx, "redis://default:right-secret@"+srv.Addr())
	if err != nil {
		t.Fatalf("Open with the right password: %v", err)
	}
	d.Close()
}
