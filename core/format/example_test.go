package format_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/redcache/redcache/core/format"
)

// A module that keeps many values under one Redis key, such as a list
// stored item by item, writes each item as an entry into one buffer, and
// reads them back without a Manager.
func Example_perItem() {
	items := []string{`{"id":1}`, `{"id":2}`}
	expiry := time.UnixMilli(1_900_000_000_000)

	var buf []byte
	var ends []int
	for _, it := range items {
		buf = format.Entry{Codec: 2, Generation: 7, Expiry: expiry, Payload: []byte(it)}.Append(buf)
		ends = append(ends, len(buf))
	}

	start := 0
	for _, end := range ends {
		ent, err := format.Parse(buf[start:end])
		switch {
		case errors.Is(err, format.ErrNewerEntry):
			fmt.Println("written by a newer release: a miss, left in place")
		case err != nil:
			fmt.Println("corrupt: a miss, to overwrite:", err)
		default:
			fmt.Printf("generation %d, codec %d, expires %d: %s\n",
				ent.Generation, ent.Codec, ent.Expiry.UnixMilli(), ent.Payload)
		}
		start = end
	}
	// Output:
	// generation 7, codec 2, expires 1900000000000: {"id":1}
	// generation 7, codec 2, expires 1900000000000: {"id":2}
}

// Any bytes that are not an entry are an error, never a value.
func ExampleParse() {
	_, err := format.Parse([]byte(`{"id":1}`))
	fmt.Println(errors.Is(err, format.ErrCorruptEntry))
	// Output: true
}
