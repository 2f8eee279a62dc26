package radix_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/conntest"
	"github.com/redcache/redcache/conn/radix"
)

// faultStats is what a fault test measured, for the log.
type faultStats struct {
	calls, errs int
	maxLatency  time.Duration
	maxErr      error // the error of the slowest call
	errKinds    map[string]int
}

func (s *faultStats) add(took time.Duration, err error) {
	s.calls++
	if took > s.maxLatency {
		s.maxLatency, s.maxErr = took, err
	}
	if err != nil {
		s.errs++
		if s.errKinds == nil {
			s.errKinds = map[string]int{}
		}
		kind := "other"
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			kind = "deadline"
		case errors.Is(err, conn.ErrClosed):
			kind = "closed"
		case errors.Is(err, radix.ErrStalled):
			kind = "stalled"
		case errors.Is(err, syscall.ECONNREFUSED):
			kind = "refused"
		}
		s.errKinds[kind]++
	}
}

func (s *faultStats) String() string {
	kinds := make([]string, 0, len(s.errKinds))
	for k, n := range s.errKinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("calls=%d errors=%d (%s) max latency=%v", s.calls, s.errs, strings.Join(kinds, " "),
		s.maxLatency.Round(time.Millisecond))
}

// TestStalledServerDeadlines runs the stall cases every driver shares:
// SIGSTOP, CLIENT PAUSE, DEBUG SLEEP and a partition under two waves of
// 64 callers on the pool's shared connections, each call ending at its
// 500 ms deadline + 10%, whatever the stall (issue 9).
func TestStalledServerDeadlines(t *testing.T) {
	conntest.RunStall(t, func(t *testing.T, addr string) conn.Driver {
		return openT(t, "redis://"+addr)
	})
}

// TestCloseDuringStall runs the shared case: Close and the calls in
// flight return within 1 s while the server is stopped, each with
// ErrClosed, or ErrStalled for those on the connection of a call that
// outlived its deadline before Close; no goroutine outlives the driver.
func TestCloseDuringStall(t *testing.T) {
	conntest.RunCloseDuringStall(t, func(t *testing.T, addr string) conn.Driver {
		return openT(t, "redis://"+addr)
	}, conn.ErrClosed, radix.ErrStalled)
}

// TestRecoveryAfterRestart runs the restart case every driver shares:
// calls succeed within 1 s of a killed Redis answering again, after
// outages long enough for any redial backoff to grow (issue 9, item 5).
func TestRecoveryAfterRestart(t *testing.T) {
	conntest.RunRestart(t, func(t *testing.T, addr string) conn.Driver {
		return openT(t, "redis://"+addr)
	})
}

// TestPipelineFaults runs the pipelining fault cases every driver shares:
// a stall and a kill under 64 callers while their commands share
// batches (auto-pipelining, the default) or connections (radix's implicit
// pipelining, with auto-pipelining off).
func TestPipelineFaults(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(onOff(on), func(t *testing.T) {
			conntest.RunPipelineFaults(t, func(t *testing.T, addr string) conn.Driver {
				return openT(t, "redis://"+addr, radix.WithAutoPipeline(on))
			})
		})
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
