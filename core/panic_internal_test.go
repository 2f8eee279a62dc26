package core

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redcache/redcache/conn"
)

// explodingFenced is a FencedStore whose conditional write panics.
type explodingFenced struct{ RedisStore }

func (explodingFenced) SaveIf(context.Context, conn.Driver, string, []byte, time.Duration, []byte) (bool, error) {
	panic("saveif exploded")
}

// Recovering a Store must not cost it its fence: the engine writes
// conditionally only to a RedisStore or a FencedStore.
func TestRecoveringStoreKeepsTheFence(t *testing.T) {
	var c config
	WithStore(RedisStore{}).apply(&c)
	if _, ok := c.store.(RedisStore); !ok {
		t.Fatalf("WithStore(RedisStore{}) stored a %T: the default store lost its fence", c.store)
	}
	WithStore(explodingFenced{}).apply(&c)
	fs, ok := c.store.(FencedStore)
	if !ok {
		t.Fatalf("WithStore of a FencedStore stored a %T, not a FencedStore", c.store)
	}
	_, err := fs.SaveIf(context.Background(), nil, "k", nil, 0, nil)
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Callback != "Store.SaveIf" {
		t.Fatalf("SaveIf = %v; want its panic as a *PanicError", err)
	}
	if wrapStore(c.store) != c.store {
		t.Fatal("a recovering store was wrapped twice")
	}
}
