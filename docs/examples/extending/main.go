// Command extending is the program of the extending guide
// (docs/extending.md): a Store of its own (the load and save steps) and
// encoding hooks (before_save and after_load) that encrypt what goes to
// Redis.
//
//	go run ./docs/examples/extending    # REDIS_URL=redis://... to use your Redis
package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sync/atomic"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/core/format"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// HashStore keeps the entries of a Manager in one Redis hash, a field per
// key, instead of a string per key: one key to look at, to move, or to
// delete with everything in it.
//
// A hash field has no expiry of its own (before Redis 7.4's HPEXPIRE):
// the hash expires as a whole, MaxTTL after its last write, so an entry
// may outlive its own ttl. Use it for values that are refreshed or
// invalidated together.
type HashStore struct {
	Hash   string
	MaxTTL time.Duration // 0: the hash never expires
}

var _ core.Store = HashStore{}

// Load implements core.Store: HGET, with conn.ErrMiss for a missing field.
func (s HashStore) Load(ctx context.Context, d conn.Driver, key string) ([]byte, error) {
	v, err := d.Do(ctx, "HGET", s.Hash, key)
	if err != nil {
		return nil, err // conn.ErrMiss when the field is missing
	}
	str, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("HGET %s: unexpected reply %T", s.Hash, v)
	}
	return []byte(str), nil
}

// Save implements core.Store: HSET, and PEXPIRE on the hash, in one round
// trip.
func (s HashStore) Save(ctx context.Context, d conn.Driver, key string, entry []byte, ttl time.Duration) error {
	cmds := []*conn.Cmd{conn.NewCmd("HSET", s.Hash, key, entry)}
	if s.MaxTTL > 0 { // PEXPIRE 0 would delete the hash at once
		cmds = append(cmds, conn.NewCmd("PEXPIRE", s.Hash, s.MaxTTL))
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

// Delete implements core.Store: HDEL.
func (s HashStore) Delete(ctx context.Context, d conn.Driver, key string) error {
	_, err := d.Do(ctx, "HDEL", s.Hash, key)
	return err
}

// encrypted returns encoding steps that seal what c encodes with AES-GCM,
// so that what Redis holds is unreadable without the key. The cache key is
// authenticated with it: an entry copied under another key does not open.
func encrypted(aead cipher.AEAD, c codec.Codec) (core.BeforeSave, core.AfterLoad) {
	before := func(_ context.Context, key string, v any) ([]byte, error) {
		plain, err := c.Marshal(v)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		return aead.Seal(nonce, nonce, plain, []byte(key)), nil
	}
	after := func(_ context.Context, key string, payload []byte, ptr any) error {
		n := aead.NonceSize()
		if len(payload) < n {
			return errors.New("sealed payload too short")
		}
		plain, err := aead.Open(nil, payload[:n], payload[n:], []byte(key))
		if err != nil {
			return err // an error makes the entry a miss, reported as corrupt
		}
		return c.Unmarshal(plain, ptr)
	}
	return before, after
}

// Account is a value worth encrypting.
type Account struct {
	ID    int
	Email string
}

func loadAccount(_ context.Context, id int) (Account, error) {
	return Account{ID: id, Email: fmt.Sprintf("user%d@example.com", id)}, nil
}

func run(ctx context.Context, w io.Writer, redisURL string, secret []byte) error {
	d, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer d.Close()

	block, err := aes.NewCipher(secret) // 16, 24 or 32 bytes: AES-128, -192 or -256
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	seal, open := encrypted(aead, codec.Gob)

	var corrupt atomic.Int64 // the error handler must be safe for concurrent use
	countCorrupt := func(_ context.Context, err *core.Error) {
		if errors.Is(err, core.ErrCorruptEntry) {
			corrupt.Add(1)
		}
	}
	m := core.New(
		core.WithDriver(d),
		core.WithStore(HashStore{Hash: "accounts-cache", MaxTTL: time.Hour}), // load, save
		core.WithBeforeSave(seal), // before_save
		core.WithAfterLoad(open),  // after_load
		core.WithErrorHandler(countCorrupt),
	)
	defer m.Close()
	account := core.Memoize(m, "accounts.get", loadAccount)

	for id := 1; id <= 3; id++ {
		if _, err := account.Get(ctx, id); err != nil {
			return err
		}
	}
	n, err := d.Do(ctx, "HLEN", "accounts-cache")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "entries in the hash:", n)

	key, err := account.Key(1)
	if err != nil {
		return err
	}
	raw, err := HashStore{Hash: "accounts-cache"}.Load(ctx, d, key)
	if err != nil {
		return err
	}
	e, err := format.Parse(raw)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "field %s: codec ID %d, %d sealed bytes, no e-mail in clear: %v\n",
		key, e.Codec, len(e.Payload), !bytes.Contains(e.Payload, []byte("user1@example.com")))

	a, err := account.Get(ctx, 1)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "read back:", a.Email)

	// Another process with another secret cannot read the entries: each is
	// a miss, reported as corrupt, and overwritten with its own.
	other := make([]byte, len(secret))
	copy(other, secret)
	other[0] ^= 0xff
	block2, err := aes.NewCipher(other)
	if err != nil {
		return err
	}
	aead2, err := cipher.NewGCM(block2)
	if err != nil {
		return err
	}
	seal2, open2 := encrypted(aead2, codec.Gob)
	m2 := core.New(core.WithDriver(d), core.WithStore(HashStore{Hash: "accounts-cache", MaxTTL: time.Hour}),
		core.WithBeforeSave(seal2), core.WithAfterLoad(open2),
		core.WithErrorHandler(countCorrupt))
	defer m2.Close()
	if _, err := core.Memoize(m2, "accounts.get", loadAccount).Get(ctx, 2); err != nil {
		return err
	}
	fmt.Fprintln(w, "entries another secret could not open:", corrupt.Load())

	// Invalidation goes through the Store too: HDEL.
	if err := account.Invalidate(ctx, 3); err != nil {
		return err
	}
	n, err = d.Do(ctx, "HLEN", "accounts-cache")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "after Invalidate(3):", n)
	return nil
}

func main() {
	redisURL, stop, err := devredis.URL() // $REDIS_URL, or an embedded Redis
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	secret := make([]byte, 32) // in a real program: from your secret store
	if _, err := rand.Read(secret); err != nil {
		log.Fatal(err)
	}
	if err := run(context.Background(), os.Stdout, redisURL, secret); err != nil {
		log.Fatal(err)
	}
}
