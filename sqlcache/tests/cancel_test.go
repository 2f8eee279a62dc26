package tests_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redcache/redcache/sqlcache"
)

// TestLeaderGivesUp: the caller whose connection runs a cached query's
// load gives up (its deadline passes) while another caller waits for the
// same query: the caller that gave up gets its context's error, the
// other gets the rows, and the connection is not used by two goroutines
// at once (-race).
func TestLeaderGivesUp(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			e := newEnv(t, databases()[1], tg.open(t))
			e.users(t, 1)
			ctx := sqlcache.Cache(testCtx(t), time.Minute)
			slow := "SELECT name FROM users, pg_sleep(0.5) WHERE id = $1"
			lctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
			defer cancel()
			var wg sync.WaitGroup
			var leaderErr, followerErr error
			var follower string
			wg.Add(2)
			go func() {
				defer wg.Done()
				var s string
				leaderErr = e.sql.QueryRowContext(lctx, slow, 1).Scan(&s)
			}()
			go func() {
				defer wg.Done()
				time.Sleep(50 * time.Millisecond)
				followerErr = e.sql.QueryRowContext(ctx, slow, 1).Scan(&follower)
			}()
			wg.Wait()
			if !errors.Is(leaderErr, context.DeadlineExceeded) && !errors.Is(lctx.Err(), context.DeadlineExceeded) {
				t.Errorf("the caller that gave up: %v", leaderErr)
			}
			if followerErr != nil || follower != "user1" {
				t.Fatalf("the caller that waited: %q, %v; want its rows", follower, followerErr)
			}
		})
	}
}
