// Command codecs is the program of the codecs guide (docs/codecs.md):
// storing JSON instead of Gob, bytes as they are, and large values
// compressed.
//
//	go run ./docs/examples/codecs    # REDIS_URL=redis://... to use your Redis
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/redcache/redcache/codec"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/conn/goredis"
	"github.com/redcache/redcache/core"
	"github.com/redcache/redcache/core/format"
	"github.com/redcache/redcache/docs/internal/devredis"
)

// Product is what the functions below return.
type Product struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

func loadProduct(_ context.Context, id int) (Product, error) {
	return Product{ID: id, Name: fmt.Sprint("Widget ", id), Price: 9.5}, nil
}

// jsonManager stores JSON instead of Gob: readable in redis-cli and by
// programs in other languages.
var jsonManager = core.New(core.WithCodec(codec.JSON))

// The original's way: override the encoding steps, before_save and after_load.
// WithCodec(codec.JSON) does the same in one option; hooks are for what no
// codec does (encryption, a schema version, a foreign format).
var hooksManager = core.New(
	core.WithBeforeSave(func(_ context.Context, _ string, v any) ([]byte, error) {
		return json.Marshal(v)
	}),
	core.WithAfterLoad(func(_ context.Context, _ string, payload []byte, ptr any) error {
		return json.Unmarshal(payload, ptr)
	}),
)

var (
	productJSON  = core.Memoize(jsonManager, "codecs.product", loadProduct)
	productHooks = core.Memoize(hooksManager, "codecs.product-hooks", loadProduct)

	// One function of a Manager can have a codec of its own: Raw stores
	// bytes and strings as they are, such as a rendered page.
	page = core.Memoize(core.Default, "codecs.page", renderPage, core.WithCodec(codec.Raw))

	// Compress wraps any codec: values from 1 KiB on are DEFLATE-compressed.
	report = core.Memoize(core.Default, "codecs.report", buildReport,
		core.WithCodec(codec.Compress(codec.JSON)))
)

func renderPage(ctx context.Context, id int) ([]byte, error) {
	p, err := loadProduct(ctx, id)
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "<h1>%s</h1><p>%.2f</p>", p.Name, p.Price), nil
}

func buildReport(ctx context.Context, month string) ([]Product, error) {
	var rows []Product
	for id := 1; id <= 200; id++ {
		p, err := loadProduct(ctx, id)
		if err != nil {
			return nil, err
		}
		rows = append(rows, p)
	}
	return rows, nil
}

// stored returns what Redis holds under key: the entry's payload and its
// size in all.
func stored(ctx context.Context, d conn.Driver, key string) (payload []byte, size int, err error) {
	raw, err := d.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	e, err := format.Parse(raw)
	if err != nil {
		return nil, 0, err
	}
	return e.Payload, len(raw), nil
}

func run(ctx context.Context, w io.Writer, redisURL string) error {
	d, err := goredis.Open(ctx, redisURL)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx = conn.With(ctx, d)

	for _, memo := range []*core.Memo[int, Product]{productJSON, productHooks} {
		if _, err := memo.Get(ctx, 1); err != nil {
			return err
		}
		key, err := memo.Key(1)
		if err != nil {
			return err
		}
		payload, _, err := stored(ctx, d, key)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%-28s %s\n", memo.Name()+":", payload)
	}

	if _, err := page.Get(ctx, 1); err != nil {
		return err
	}
	key, err := page.Key(1)
	if err != nil {
		return err
	}
	payload, _, err := stored(ctx, d, key)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%-28s %s\n", page.Name()+":", payload)

	rows, err := report.Get(ctx, "2024-05")
	if err != nil {
		return err
	}
	plain, err := codec.JSON.Marshal(rows)
	if err != nil {
		return err
	}
	key, err = report.Key("2024-05")
	if err != nil {
		return err
	}
	_, size, err := stored(ctx, d, key)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%-28s %d rows, %d bytes of JSON, %d bytes in Redis\n", report.Name()+":", len(rows), len(plain), size)

	// Changing a function's codec is safe: an entry written with another
	// codec is a miss, reported, and overwritten with the new codec.
	var reported []*core.Error
	gobToo := core.New(core.WithErrorHandler(func(_ context.Context, err *core.Error) {
		reported = append(reported, err)
	}))
	same := core.Memoize(gobToo, "codecs.product", loadProduct) // Gob, where JSON was written
	if _, err := same.Get(ctx, 1); err != nil {
		return err
	}
	for _, ce := range reported {
		if errors.Is(ce, core.ErrCorruptEntry) {
			fmt.Fprintf(w, "reported: op %s, key %s: %v\n", ce.Op, ce.Key, ce.Err)
		}
	}
	if _, err := same.Get(ctx, 1); err != nil {
		return err
	}
	s := gobToo.Stats()
	fmt.Fprintf(w, "gob reader: %d miss, %d hit, %d corrupt\n", s.Misses, s.Hits, s.CorruptEntries)
	return nil
}

func main() {
	redisURL, stop, err := devredis.URL() // $REDIS_URL, or an embedded Redis
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	if err := run(context.Background(), os.Stdout, redisURL); err != nil {
		log.Fatal(err)
	}
}
