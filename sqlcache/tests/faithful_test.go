package tests_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redcache/redcache/conn"
	"github.com/redcache/redcache/sqlcache"
)

// kind is a column type of the property test: its SQL type on each
// database, and a random value of it (nil for NULL).
type kind struct {
	sqlite, postgres string
	gen              func(r *rand.Rand) any
}

func randString(r *rand.Rand, n int) string {
	const chars = "abc xyz:{}\"'\\,é€\x00\n"
	var b strings.Builder
	for range r.IntN(n) {
		b.WriteString(string([]rune(chars)[r.IntN(len([]rune(chars)))]))
	}
	return strings.ToValidUTF8(strings.ReplaceAll(b.String(), "\x00", "0"), "?")
}

var kinds = []kind{
	{"INTEGER", "bigint", func(r *rand.Rand) any { return r.Int64() - math.MaxInt64/2 }},
	{"INTEGER", "integer", func(r *rand.Rand) any { return int64(r.Int32()) }},
	{"INTEGER", "smallint", func(r *rand.Rand) any { return int64(r.IntN(60000) - 30000) }},
	{"REAL", "double precision", func(r *rand.Rand) any { return r.NormFloat64() * 1e6 }},
	{"REAL", "real", func(r *rand.Rand) any { return float64(float32(r.Float64())) }},
	{"NUMERIC(10,2)", "numeric(10,2)", func(r *rand.Rand) any { return fmt.Sprintf("%d.%02d", r.IntN(1e6), r.IntN(100)) }},
	{"BOOLEAN", "boolean", func(r *rand.Rand) any { return r.IntN(2) == 1 }},
	{"TEXT", "text", func(r *rand.Rand) any { return randString(r, 40) }},
	{"VARCHAR(20)", "varchar(20)", func(r *rand.Rand) any { return randString(r, 20) }},
	{"BLOB", "bytea", func(r *rand.Rand) any {
		b := make([]byte, r.IntN(30))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	}},
	{"TIMESTAMP", "timestamptz", func(r *rand.Rand) any {
		return time.Unix(r.Int64N(4e9), r.Int64N(1e9)/1000*1000).In(time.FixedZone("", (r.IntN(48)-24)*1800))
	}},
	{"DATETIME", "timestamp", func(r *rand.Rand) any { return time.Unix(r.Int64N(4e9), r.Int64N(1e9)/1000*1000).UTC() }},
	{"DATE", "date", func(r *rand.Rand) any { return time.Unix(r.Int64N(4e9), 0).UTC().Truncate(24 * time.Hour) }},
}

// sameTime compares times by instant, location name and zone offset.
var sameTime = cmp.Comparer(func(a, b time.Time) bool {
	an, ao := a.Zone()
	bn, bo := b.Zone()
	return a.Equal(b) && a.Location().String() == b.Location().String() && an == bn && ao == bo
})

// columnType is what database/sql's *ColumnType says of a column.
type columnType struct {
	Name, DatabaseTypeName string
	ScanType               string
	Length                 int64
	HasLength              bool
	Nullable, HasNullable  bool
	Precision, Scale       int64
	HasDecimal             bool
}

func columnTypes(t *testing.T, rows *sql.Rows) []columnType {
	t.Helper()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]columnType, len(cts))
	for i, ct := range cts {
		c := columnType{Name: ct.Name(), DatabaseTypeName: ct.DatabaseTypeName()}
		if st := ct.ScanType(); st != nil {
			c.ScanType = st.String()
		}
		c.Length, c.HasLength = ct.Length()
		c.Nullable, c.HasNullable = ct.Nullable()
		c.Precision, c.Scale, c.HasDecimal = ct.DecimalSize()
		out[i] = c
	}
	return out
}

// readAll reads a query's column types and rows, each value scanned into
// an *any (the driver's value as it is) and into a typed destination.
func readAll(t *testing.T, ctx context.Context, db *sql.DB, query string) ([]columnType, [][]any) {
	t.Helper()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts := columnTypes(t, rows)
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cts))
		ptrs := make([]any, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cts, out
}

// TestFaithfulRows is a property test: random rows of every column type,
// read uncached and then twice cached (the load, then the hit), give the
// same column types and the same values, on both databases.
func TestFaithfulRows(t *testing.T) {
	each(t, func(t *testing.T, db database, d conn.Driver) {
		seed := uint64(time.Now().UnixNano())
		r := rand.New(rand.NewPCG(seed, 7))
		t.Logf("seed %d", seed)
		e := newEnv(t, db, d)
		var cols, marks []string
		for i, k := range kinds {
			typ := k.sqlite
			if db.name == "postgres" {
				typ = k.postgres
			}
			null := ""
			if i%3 == 0 {
				null = " NOT NULL"
			}
			cols = append(cols, fmt.Sprintf("c%d %s%s", i, typ, null))
			marks = append(marks, "?")
		}
		e.mustExec(t, e.raw, "CREATE TABLE props (id INTEGER PRIMARY KEY, "+strings.Join(cols, ", ")+")")
		for id := range 60 {
			args := []any{id}
			for i, k := range kinds {
				if i%3 != 0 && r.IntN(4) == 0 {
					args = append(args, nil)
					continue
				}
				args = append(args, k.gen(r))
			}
			e.mustExec(t, e.raw, "INSERT INTO props VALUES (?, "+strings.Join(marks, ", ")+")", args...)
		}
		ctx := testCtx(t)
		queries := []string{
			"SELECT * FROM props ORDER BY id",
			"SELECT c0, c7 AS renamed, c9, NULL AS n FROM props WHERE id < 0",
			"SELECT c1, c6, c10, c11 FROM props ORDER BY id DESC LIMIT 5",
		}
		for _, q := range queries {
			wantTypes, want := readAll(t, ctx, e.raw, q)
			for _, pass := range []string{"load", "hit"} {
				gotTypes, got := readAll(t, sqlcache.Cache(ctx, time.Minute), e.sql, q)
				if diff := cmp.Diff(wantTypes, gotTypes); diff != "" {
					t.Errorf("%s, %s: column types differ (-database +cache):\n%s", q, pass, diff)
				}
				if diff := cmp.Diff(want, got, sameTime); diff != "" {
					t.Errorf("%s, %s: rows differ (-database +cache):\n%s", q, pass, diff)
				}
			}
		}
		// Typed destinations read the same too.
		type typed struct {
			I  int64
			F  sql.NullFloat64
			B  sql.NullBool
			S  sql.NullString
			Y  []byte
			T  sql.NullTime   // PostgreSQL
			TS sql.NullString // SQLite, whose driver reads this column as text
			Ip *int64
		}
		scan := func(ctx context.Context, sdb *sql.DB) []typed {
			rows, err := sdb.QueryContext(ctx, "SELECT c0, c3, c6, c7, c9, c10, c1 FROM props ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []typed
			for rows.Next() {
				var v typed
				var ts any = &v.T
				if db.name == "sqlite" {
					ts = &v.TS
				}
				if err := rows.Scan(&v.I, &v.F, &v.B, &v.S, &v.Y, ts, &v.Ip); err != nil {
					t.Fatal(err)
				}
				out = append(out, v)
			}
			return out
		}
		want := scan(ctx, e.raw)
		for range 2 {
			if diff := cmp.Diff(want, scan(sqlcache.Cache(ctx, time.Minute), e.sql), sameTime); diff != "" {
				t.Errorf("typed scan differs (-database +cache):\n%s", diff)
			}
		}
	})
}
