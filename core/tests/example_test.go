package tests_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/core/format"
)

// exampleDriver connects to the Redis of the test runner, or to an
// in-process miniredis when there is none, so that the examples always
// run for real.
func exampleDriver() conn.Driver {
	addr := os.Getenv("REDCACHE_TEST_REDIS")
	if addr == "" {
		mr, err := miniredis.Run()
		if err != nil {
			panic(err)
		}
		addr = mr.Addr()
	}
	d, err := goredis.Open(context.Background(), "redis://"+addr)
	if err != nil {
		panic(err)
	}
	return d
}

type Product struct {
	ID    int
	Name  string
	Price float64
}

// The seed's quick start: a slow loader, cached for five seconds.
func Example() {
	d := exampleDriver()
	defer d.Close()
	conn.Use(d) // use_connection()
	defer conn.Pop()

	m := core.New(core.WithPrefix(fmt.Sprint("example-", time.Now().UnixNano())))
	loadProduct := core.Memoize(m, "products.get", func(ctx context.Context, id int) (Product, error) {
		fmt.Println("loading product", id) // the slow part: a database, an API
		return Product{ID: id, Name: fmt.Sprint("Widget ", id)}, nil
	}, core.WithTTL(5*time.Second)) // @default_cache.cache(ttl=5)

	ctx := context.Background()
	p, _ := loadProduct.Get(ctx, 7) // a miss: the loader runs
	fmt.Println(p.Name)
	p, _ = loadProduct.Get(ctx, 7) // a hit: served from Redis
	fmt.Println(p.Name)
	// Output:
	// loading product 7
	// Widget 7
	// Widget 7
}

// The seed's JSON example: override the encoding steps (before_save,
// after_load) to store JSON instead of Gob. WithCodec(codec.JSON) does
// the same in one option; the hooks are for anything else, such as
// encryption or a schema version.
func Example_withBeforeSave() {
	d := exampleDriver()
	defer d.Close()
	ctx := context.Background()
	m := core.New(core.WithDriver(d), core.WithPrefix(fmt.Sprint("example-", time.Now().UnixNano())),
		core.WithBeforeSave(func(_ context.Context, _ string, v any) ([]byte, error) { return json.Marshal(v) }),
		core.WithAfterLoad(func(_ context.Context, _ string, payload []byte, ptr any) error {
			return json.Unmarshal(payload, ptr)
		}))
	get := core.Memoize(m, "products.get", func(_ context.Context, id int) (Product, error) {
		return Product{ID: id, Name: fmt.Sprint("Widget ", id), Price: 9.5}, nil
	})
	get.Get(ctx, 1)

	key, _ := get.Key(1)
	raw, _ := d.Get(ctx, key)
	e, _ := format.Parse(raw)
	fmt.Println(string(e.Payload))
	// Output: {"ID":1,"Name":"Widget 1","Price":9.5}
}

// hashStore is a Store of its own: it keeps every entry of a function in
// one Redis hash, field per key (the original's load/save override).
type hashStore struct{ hash string }

func (s hashStore) Load(ctx context.Context, d conn.Driver, key string) ([]byte, error) {
	v, err := d.Do(ctx, "HGET", s.hash, key)
	if err != nil {
		return nil, err // conn.ErrMiss for a missing field
	}
	return []byte(v.(string)), nil
}

func (s hashStore) Save(ctx context.Context, d conn.Driver, key string, entry []byte, ttl time.Duration) error {
	// A hash field has no ttl of its own (before Redis 7.4): the hash
	// expires as a whole. A ttl of 0 keeps it.
	cmds := []*conn.Cmd{conn.NewCmd("HSET", s.hash, key, entry)}
	if ttl > 0 {
		cmds = append(cmds, conn.NewCmd("PEXPIRE", s.hash, ttl))
	}
	if err := d.Pipeline(ctx, cmds...); err != nil {
		return err
	}
	for _, c := range cmds {
		if c.Err != nil {
			return c.Err
		}
	}
	return nil
}

func (s hashStore) Delete(ctx context.Context, d conn.Driver, key string) error {
	_, err := d.Do(ctx, "HDEL", s.hash, key)
	return err
}

// Replacing the load and save steps: entries live in a hash.
func Example_withStore() {
	d := exampleDriver()
	defer d.Close()
	ctx := context.Background()
	hash := fmt.Sprint("example-hash-", time.Now().UnixNano())
	m := core.New(core.WithDriver(d), core.WithStore(hashStore{hash: hash}), core.WithTTL(time.Minute))
	square := core.Memoize(m, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	square.Get(ctx, 2)
	square.Get(ctx, 3)
	n, _ := d.Do(ctx, "HLEN", hash)
	fmt.Println("fields in the hash:", n)
	d.Del(ctx, hash)
	// Output: fields in the hash: 2
}

// A codec chosen by option: JSON instead of the default Gob.
func Example_withCodec() {
	m := core.New(core.WithCodec(codec.JSON), core.WithTTL(time.Minute))
	get := core.Memoize(m, "products.get", func(_ context.Context, id int) (Product, error) {
		return Product{ID: id}, nil
	})
	key, _ := get.Key(7)
	fmt.Println(key)
	// Output: cache:products.get:i7
}

// Negative caching: a "not found" is remembered for a short while, so a
// missing row is not looked up on every request, and it still matches
// its sentinel when it comes back from Redis.
func Example_withNegativeCaching() {
	d := exampleDriver()
	defer d.Close()
	ctx := context.Background()
	m := core.New(core.WithDriver(d), core.WithPrefix(fmt.Sprint("example-", time.Now().UnixNano())),
		core.WithNegativeCaching(30*time.Second, errNoProduct))
	get := core.Memoize(m, "products.get", func(_ context.Context, id int) (Product, error) {
		fmt.Println("lookup", id)
		return Product{}, errNoProduct
	})
	for i := 0; i < 2; i++ {
		_, err := get.Get(ctx, 404)
		fmt.Println(errors.Is(err, errNoProduct), errors.Is(err, core.ErrCached) == (i == 1))
	}
	// Output:
	// lookup 404
	// true true
	// true true
}

var errNoProduct = errors.New("no such product")

// Catalog shows a memoized method: the method value is the loader.
type Catalog struct {
	byID *core.Memo[int, Product]
}

func NewCatalog(m *core.Manager) *Catalog {
	c := &Catalog{}
	c.byID = core.Memoize(m, "catalog.byID", c.load)
	return c
}

func (c *Catalog) load(_ context.Context, id int) (Product, error) {
	return Product{ID: id, Name: fmt.Sprint("Widget ", id)}, nil
}

// Product returns a product, cached.
func (c *Catalog) Product(ctx context.Context, id int) (Product, error) { return c.byID.Get(ctx, id) }

func Example_methodValue() {
	c := NewCatalog(core.New(core.WithTTL(time.Minute)))
	key, _ := c.byID.Key(3)
	fmt.Println(key)
	// Output: cache:catalog.byID:i3
}
