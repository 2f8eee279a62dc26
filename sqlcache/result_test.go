package sqlcache

import (
	"database/sql/driver"
	"errors"
	"math"
	"math/big"
	"testing"
	"time"
)

func TestResultRoundTrip(t *testing.T) {
	cfg := newConfig([]Option{WithValueCodec("big.Int",
		func(v *big.Int) ([]byte, error) { return v.MarshalText() },
		func(b []byte) (*big.Int, error) {
			v := new(big.Int)
			return v, v.UnmarshalText(b)
		})})
	rc := resultCodec{cfg}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	when := time.Date(2026, 3, 8, 1, 59, 59, 123456789, ny)
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	in := &result{
		cols: []column{
			{name: "a", dbType: "BIGINT", scanType: "int64", hasNullable: true, nullable: true},
			{name: "b", dbType: "NUMERIC", scanType: "", hasDecimal: true, precision: 10, scale: 2, hasLength: true, length: -1},
		},
		rows: [][]driver.Value{
			{int64(math.MinInt64), math.Inf(-1)},
			{nil, []byte(nil)},
			{[]byte{}, ""},
			{true, false},
			{when, when.UTC()},
			{time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 5*3600+1800)), time.Date(2026, 1, 1, 0, 0, 0, 0, time.Local)},
			{big1, "x"},
		},
	}
	b, err := rc.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out *result
	if err := rc.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.cols) != 2 || out.cols[0] != in.cols[0] || out.cols[1] != in.cols[1] {
		t.Fatalf("columns: %+v", out.cols)
	}
	for i, row := range in.rows {
		for j, v := range row {
			got := out.rows[i][j]
			switch v := v.(type) {
			case time.Time:
				g := got.(time.Time)
				gz, go_ := g.Zone()
				vz, vo := v.Zone()
				if !g.Equal(v) || g.Location().String() != v.Location().String() || gz != vz || go_ != vo {
					t.Errorf("row %d col %d: %v (%s), want %v (%s)", i, j, g, g.Location(), v, v.Location())
				}
			case []byte:
				g, ok := got.([]byte)
				if !ok || string(g) != string(v) || (g == nil) != (v == nil) {
					t.Errorf("row %d col %d: %#v, want %#v", i, j, got, v)
				}
			case *big.Int:
				if g, ok := got.(*big.Int); !ok || g.Cmp(v) != 0 {
					t.Errorf("row %d col %d: %#v, want %v", i, j, got, v)
				}
			default:
				if got != driver.Value(v) {
					t.Errorf("row %d col %d: %#v, want %#v", i, j, got, v)
				}
			}
		}
	}
	// A type without codec is refused, so the result goes uncached.
	if _, err := (resultCodec{newConfig(nil)}).Marshal(in); !errors.Is(err, ErrUnsupportedValue) {
		t.Fatalf("a value without codec: %v", err)
	}
	// Every truncation is an error, never a panic or a shorter result.
	for n := range len(b) {
		var r *result
		if err := rc.Unmarshal(b[:n], &r); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
}

// TestCachedRowsOwnBytes: a reader that changes the bytes it got (a
// sql.RawBytes) does not change the result another reader shares.
func TestCachedRowsOwnBytes(t *testing.T) {
	res := &result{cols: []column{{name: "b"}}, rows: [][]driver.Value{{[]byte("abc")}}}
	first := &cachedRows{res: res}
	dest := make([]driver.Value, 1)
	if err := first.Next(dest); err != nil {
		t.Fatal(err)
	}
	dest[0].([]byte)[0] = 'X'
	second := &cachedRows{res: res}
	if err := second.Next(dest); err != nil {
		t.Fatal(err)
	}
	if got := string(dest[0].([]byte)); got != "abc" {
		t.Fatalf("the second reader got %q", got)
	}
}
