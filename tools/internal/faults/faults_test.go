//go:build unix

package faults

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// down is how long each fault lasts.
func down() time.Duration {
	if long() {
		return 3 * time.Second
	}
	return 1500 * time.Millisecond
}

// TestKillRestart: SIGKILL the server under load, restart it empty on the
// same port: no Get fails or passes its bound, and hits are back within
// 1 s of the server answering again.
func TestKillRestart(t *testing.T) {
	runFault(t, "sigkill+restart", nil, func(t *testing.T, s *Server) {
		if err := s.Kill(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(down())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Restart(ctx); err != nil {
			t.Fatal(err)
		}
	}, time.Second)
}

// TestClientPause: CLIENT PAUSE ALL holds every command; calls fall back
// to their loader within the bound, and hits come back within 1 s of the
// pause's end.
func TestClientPause(t *testing.T) {
	runFault(t, "client-pause", nil, func(t *testing.T, s *Server) {
		ms := down().Milliseconds()
		if _, err := Command(context.Background(), s.Addr, "CLIENT", "PAUSE", itoa(ms), "ALL"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(down())
	}, time.Second)
}

// TestDebugSleep: DEBUG SLEEP blocks the server's only thread.
func TestDebugSleep(t *testing.T) {
	runFault(t, "debug-sleep", nil, func(t *testing.T, s *Server) {
		ctx, cancel := context.WithTimeout(context.Background(), down()+5*time.Second)
		defer cancel()
		secs := float64(down()) / float64(time.Second)
		if _, err := Command(ctx, s.Addr, "DEBUG", "SLEEP", ftoa(secs)); err != nil {
			t.Fatal(err)
		}
	}, time.Second)
}

// TestSigstop: a SIGSTOPped server keeps its connections open and answers
// nothing: the case no refusal and no reset gives away.
func TestSigstop(t *testing.T) {
	runFault(t, "sigstop", nil, func(t *testing.T, s *Server) {
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(down())
		if err := s.Cont(); err != nil {
			t.Fatal(err)
		}
	}, time.Second)
}

// TestMaxmemoryNoeviction: a full Redis with maxmemory-policy noeviction
// refuses every write with OOM. Every Get still returns its loader's value,
// within the bound, and the refusals are reported, to the error handler as
// a Redis reply error with the OOM prefix and in Stats.
func TestMaxmemoryNoeviction(t *testing.T) {
	skipUnlessEnabled(t)
	for _, dk := range drivers {
		t.Run(dk.name, func(t *testing.T) {
			srv := startServer(t, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
			fill(t, srv.Addr)
			base := goroutineBaseline()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			d, err := dk.open(ctx, "redis://"+srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			l := newLoad(d, 40)
			begin := time.Now()
			l.start(16)
			time.Sleep(down())
			closeAll(t, l, d)
			s := l.sum(begin, time.Now(), nil)
			checkCalls(t, "oom", s)
			reported := l.errorsReported()
			oom := 0
			for _, err := range reported {
				if conn.IsReplyError(err, "OOM") {
					oom++
				}
			}
			st := l.m.Stats()
			t.Logf("loads=%d hits=%d redis_errors=%d reported=%d (OOM: %d)", st.Loads, st.Hits, st.RedisErrors, len(reported), oom)
			if oom == 0 {
				t.Errorf("no OOM reply error reached the error handler (%d errors did, e.g. %v)", len(reported), first(reported))
			}
			if st.RedisErrors == 0 {
				t.Errorf("Stats.RedisErrors = 0 after %d refused writes", oom)
			}
			result(t, "maxmemory-noeviction", dk.name, s, l.loads.Load(), len(reported), -1)
			checkGoroutines(t, base)
		})
	}
}

// fill writes values to the server at addr until it answers OOM, big ones
// first, then smaller ones, so that it is left with no room for an entry.
func fill(t *testing.T, addr string) {
	t.Helper()
	n := 0
	for _, size := range []int{256 << 10, 4 << 10, 64} {
		v := strings.Repeat("x", size)
		for ; ; n++ {
			if n > 100000 {
				t.Fatal("the server never answered OOM")
			}
			_, err := Command(context.Background(), addr, "SET", "junk:"+itoa(int64(n)), v)
			if err == nil {
				continue
			}
			if !strings.HasPrefix(err.Error(), "OOM") {
				t.Fatalf("filling the server: %v", err)
			}
			break
		}
	}
}

func first(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}
