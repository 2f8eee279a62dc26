package tests_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/paginate"
)

// soakLen is the length of the list that Replace number gen writes: the
// lengths differ, so that a page of one list with the total of another
// is caught too.
func soakLen(gen int) int { return 20 + gen%17 }

// TestReplaceNeverTearsAPage runs writers that Replace the list while
// readers page through it, for several seconds, and checks every page
// against the list it claims to come from: all its items from one
// Replace, at their positions, with that Replace's total. A mix of two
// lists, or an empty gap between them, fails it.
func TestReplaceNeverTearsAPage(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak of several seconds")
	}
	eachTarget(t, func(t *testing.T, d conn.Driver) {
		ctx := testCtx(t)
		prefix := uniquePrefix(t)
		l := newList(t, d, "soak", paginate.WithPrefix(prefix))
		if err := l.Replace(ctx, products(0, soakLen(0)), time.Minute); err != nil {
			t.Fatal(err)
		}
		var (
			written  sync.Map // gen -> true, stored before its Replace starts
			nextGen  atomic.Int64
			pages    atomic.Int64
			replaces atomic.Int64
			stop     = make(chan struct{})
			wg       sync.WaitGroup
			failOnce sync.Once
			failure  error
			fail     = func(err error) { failOnce.Do(func() { failure = err; close(stop) }) }
			stopped  = func() bool {
				select {
				case <-stop:
					return true
				default:
					return false
				}
			}
		)
		written.Store(0, true)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stopped() {
					gen := int(nextGen.Add(1))
					written.Store(gen, true)
					if err := l.Replace(ctx, products(gen, soakLen(gen)), time.Minute); err != nil {
						fail(err)
						return
					}
					replaces.Add(1)
				}
			}()
		}
		for r := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(r), 7))
				for !stopped() {
					size := 1 + rng.IntN(9)
					number := 1 + rng.IntN(40/size+1)
					p, err := l.Page(ctx, number, size)
					if err != nil {
						fail(err)
						return
					}
					pages.Add(1)
					if len(p.Items) == 0 {
						// Past the end of some list written: never an
						// empty list (every Replace writes 20 or more).
						if p.Total < soakLen(0) || (number-1)*size < p.Total {
							t.Errorf("page %d/%d: empty, with total %d", number, size, p.Total)
							fail(errors.New("an empty gap"))
							return
						}
						continue
					}
					gen := p.Items[0].Gen
					if _, ok := written.Load(gen); !ok {
						fail(errors.New("a page of a list that was never written"))
						return
					}
					if p.Total != soakLen(gen) {
						t.Errorf("page %d/%d: items of Replace %d (length %d) with total %d", number, size, gen, soakLen(gen), p.Total)
						fail(errors.New("torn"))
						return
					}
					want := min(size, p.Total-(number-1)*size)
					if len(p.Items) != want {
						t.Errorf("page %d/%d of Replace %d: %d items, want %d", number, size, gen, len(p.Items), want)
						fail(errors.New("torn"))
						return
					}
					for i, it := range p.Items {
						if it.Gen != gen || it.Pos != (number-1)*size+i || it.ID != itemID(gen, it.Pos) {
							t.Errorf("page %d/%d: item %d is %+v, in a page of Replace %d", number, size, i, it, gen)
							fail(errors.New("torn"))
							return
						}
					}
				}
			}()
		}
		select {
		case <-time.After(3 * time.Second):
			fail(nil)
		case <-stop:
		}
		wg.Wait()
		if failure != nil {
			t.Fatal(failure)
		}
		if pages.Load() == 0 || replaces.Load() == 0 {
			t.Fatalf("%d pages read across %d replaces: the soak did not run", pages.Load(), replaces.Load())
		}
		t.Logf("%d pages read across %d replaces, none torn", pages.Load(), replaces.Load())
		// Every old version was unlinked: the pointer and one version's
		// two keys are all that is left.
		if keys := keysUnder(ctx, t, d, prefix); len(keys) != 3 {
			t.Errorf("after the soak the list has %d keys, want 3: %v", len(keys), keys)
		}
	})
}
