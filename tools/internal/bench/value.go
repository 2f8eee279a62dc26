package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/redcache/redcache/codec"
	"github.com/vmihailenco/msgpack/v5"
)

// Product is the value every workload caches: a struct of about 1 KiB
// once encoded, with the mix of fields a real one has. Its description is
// text drawn from a fixed word list, so compression (which go-redis/cache
// always applies) gains what it would on real text, no more.
type Product struct {
	ID          int64
	SKU         string
	Name        string
	Price       float64
	Stock       int
	Tags        []string
	Description string
	UpdatedAt   time.Time
}

var words = strings.Fields(`cache redis value table index query latency
	widget gadget steel blue compact durable light frame carbon handle
	shipping warranty battery screen panel module sensor quiet fast
	garden kitchen office travel outdoor classic modern premium basic`)

// newProduct returns the product with the given id; the same id always
// gives the same product.
func newProduct(id int) Product {
	r := rand.New(rand.NewPCG(uint64(id), 0x9e3779b97f4a7c15))
	var b strings.Builder
	for b.Len() < 760 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return Product{
		ID:          int64(id),
		SKU:         fmt.Sprintf("SKU-%08d", id),
		Name:        words[r.IntN(len(words))] + " " + words[r.IntN(len(words))],
		Price:       float64(r.IntN(100000)) / 100,
		Stock:       r.IntN(1000),
		Tags:        []string{words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))]},
		Description: b.String(),
		UpdatedAt:   time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Minute),
	}
}

// Msgpack is a [codec.Codec] over github.com/vmihailenco/msgpack/v5, the
// encoding go-redis/cache and eko/gocache use, so that redcache and its
// peers encode the same value with the same encoder. It is not registered
// with codec.Register: entries written with it carry codec ID 0.
var Msgpack codec.Codec = msgpackCodec{}

type msgpackCodec struct{}

func (msgpackCodec) Marshal(v any) ([]byte, error) {
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: msgpack: %w", codec.ErrEncode, err)
	}
	return b, nil
}

func (msgpackCodec) Unmarshal(data []byte, v any) error {
	if err := msgpack.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: msgpack: %w", codec.ErrDecode, err)
	}
	return nil
}

func (msgpackCodec) Name() string { return "msgpack" }
