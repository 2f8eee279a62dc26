package sqlcache

import (
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"time"
)

// column is what a result keeps of a column: its name and what the
// driver said of its type. The has* flags record which of the optional
// column interfaces the driver's rows implemented, so that a cached
// result answers ColumnTypes as the database did.
type column struct {
	name        string
	dbType      string
	scanType    string // the scan type's String(); "" when the driver said nil
	hasLength   bool
	length      int64
	hasNullable bool
	nullable    bool
	hasDecimal  bool
	precision   int64
	scale       int64
}

// result is a fully read result set: what a cache entry holds.
type result struct {
	cols []column
	rows [][]driver.Value
}

// readColumns reads the columns of rows.
func readColumns(rows driver.Rows) []column {
	names := rows.Columns()
	cols := make([]column, len(names))
	for i, n := range names {
		c := column{name: n}
		if r, ok := rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
			c.dbType = r.ColumnTypeDatabaseTypeName(i)
		}
		// database/sql's ScanType is the driver's (nil included), or any
		// when the driver does not say.
		c.scanType = "interface {}"
		if r, ok := rows.(driver.RowsColumnTypeScanType); ok {
			c.scanType = ""
			if t := r.ColumnTypeScanType(i); t != nil {
				c.scanType = t.String()
			}
		}
		if r, ok := rows.(driver.RowsColumnTypeLength); ok {
			c.length, c.hasLength = r.ColumnTypeLength(i)
		}
		if r, ok := rows.(driver.RowsColumnTypeNullable); ok {
			c.nullable, c.hasNullable = r.ColumnTypeNullable(i)
		}
		if r, ok := rows.(driver.RowsColumnTypePrecisionScale); ok {
			c.precision, c.scale, c.hasDecimal = r.ColumnTypePrecisionScale(i)
		}
		cols[i] = c
	}
	return cols
}

// valueSize is what a value counts towards WithMaxBytes.
func valueSize(v driver.Value) int {
	switch v := v.(type) {
	case []byte:
		return len(v) + 8
	case string:
		return len(v) + 8
	case time.Time:
		return 24
	default:
		return 8
	}
}

// ownValue copies what the driver may reuse once Next is called again.
func ownValue(v driver.Value) driver.Value {
	if b, ok := v.([]byte); ok && b != nil {
		return append(make([]byte, 0, len(b)), b...)
	}
	return v
}

// scanTypes are the scan types a cached result can name: those drivers
// report for database/sql's own values. Others read as any.
var scanTypes = map[string]reflect.Type{}

func init() {
	for _, t := range []reflect.Type{
		reflect.TypeFor[int64](), reflect.TypeFor[int32](), reflect.TypeFor[int16](), reflect.TypeFor[int8](),
		reflect.TypeFor[int](), reflect.TypeFor[uint64](), reflect.TypeFor[uint32](), reflect.TypeFor[uint16](),
		reflect.TypeFor[uint8](), reflect.TypeFor[uint](), reflect.TypeFor[float64](), reflect.TypeFor[float32](),
		reflect.TypeFor[bool](), reflect.TypeFor[[]byte](), reflect.TypeFor[string](), reflect.TypeFor[time.Time](),
		reflect.TypeFor[any](), reflect.TypeFor[sql.NullInt64](), reflect.TypeFor[sql.NullInt32](),
		reflect.TypeFor[sql.NullInt16](), reflect.TypeFor[sql.NullByte](), reflect.TypeFor[sql.NullFloat64](),
		reflect.TypeFor[sql.NullBool](), reflect.TypeFor[sql.NullString](), reflect.TypeFor[sql.NullTime](),
		reflect.TypeFor[sql.RawBytes](), reflect.TypeFor[map[string]any](), reflect.TypeFor[[]any](),
	} {
		scanTypes[t.String()] = t
	}
}

// The value tags of the encoding.
const (
	vNil byte = iota
	vInt
	vFloat
	vFalse
	vTrue
	vBytes
	vString
	vTime
	vCustom
	vNilBytes // a nil []byte, which database/sql scans unlike a nil
)

// resultFormat names the encoding in entries (core's codec name check).
const resultFormat = "sqlcache-result-v1"

// resultCodec encodes results, with the Connector's value codecs. It is
// the memoized function's codec.Codec.
type resultCodec struct{ cfg *config }

// Name implements codec.Codec.
func (resultCodec) Name() string { return resultFormat }

// Marshal implements codec.Codec for a *result.
func (rc resultCodec) Marshal(v any) ([]byte, error) {
	r, ok := v.(*result)
	if !ok || r == nil {
		return nil, fmt.Errorf("sqlcache: cannot encode a %T", v)
	}
	b := make([]byte, 0, 256)
	b = binary.AppendUvarint(b, uint64(len(r.cols)))
	for _, c := range r.cols {
		b = appendString(b, c.name)
		b = appendString(b, c.dbType)
		b = appendString(b, c.scanType)
		var flags byte
		if c.hasLength {
			flags |= 1
		}
		if c.hasNullable {
			flags |= 2
		}
		if c.nullable {
			flags |= 4
		}
		if c.hasDecimal {
			flags |= 8
		}
		b = append(b, flags)
		b = binary.AppendVarint(b, c.length)
		b = binary.AppendVarint(b, c.precision)
		b = binary.AppendVarint(b, c.scale)
	}
	b = binary.AppendUvarint(b, uint64(len(r.rows)))
	for _, row := range r.rows {
		for _, v := range row {
			var err error
			if b, err = rc.appendValue(b, v); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (rc resultCodec) appendValue(b []byte, v driver.Value) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, vNil), nil
	case int64:
		return binary.AppendVarint(append(b, vInt), v), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, vFloat), math.Float64bits(v)), nil
	case bool:
		if v {
			return append(b, vTrue), nil
		}
		return append(b, vFalse), nil
	case []byte:
		if v == nil {
			return append(b, vNilBytes), nil
		}
		return appendString(append(b, vBytes), string(v)), nil
	case string:
		return appendString(append(b, vString), v), nil
	case time.Time:
		b = append(b, vTime)
		b = binary.AppendVarint(b, v.Unix())
		b = binary.AppendUvarint(b, uint64(v.Nanosecond()))
		name, offset := v.Zone()
		loc := v.Location().String()
		b = appendString(b, loc)
		b = appendString(b, name)
		return binary.AppendVarint(b, int64(offset)), nil
	}
	vc := rc.cfg.codecs[reflect.TypeOf(v)]
	if vc == nil {
		return nil, fmt.Errorf("%w: %T", ErrUnsupportedValue, v)
	}
	data, err := vc.enc(v)
	if err != nil {
		return nil, fmt.Errorf("sqlcache: codec %q: %w", vc.name, err)
	}
	b = appendString(append(b, vCustom), vc.name)
	return appendString(b, string(data)), nil
}

var errShort = errors.New("sqlcache: cached result is truncated")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.b = nil
}

// Unmarshal implements codec.Codec into a **result.
func (rc resultCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(**result)
	if !ok {
		return fmt.Errorf("sqlcache: cannot decode into a %T", v)
	}
	d := &decoder{b: data}
	ncols := d.uvarint()
	if ncols > uint64(len(data)) {
		return errShort
	}
	r := &result{cols: make([]column, ncols)}
	for i := range r.cols {
		c := &r.cols[i]
		c.name = string(d.bytes())
		c.dbType = string(d.bytes())
		c.scanType = string(d.bytes())
		flags := d.byte1()
		c.hasLength, c.hasNullable, c.nullable, c.hasDecimal = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
		c.length = d.varint()
		c.precision = d.varint()
		c.scale = d.varint()
	}
	nrows := d.uvarint()
	if d.err != nil || nrows > uint64(len(data)) {
		return errShort
	}
	r.rows = make([][]driver.Value, nrows)
	for i := range r.rows {
		row := make([]driver.Value, ncols)
		for j := range row {
			var err error
			if row[j], err = rc.value(d); err != nil {
				return err
			}
		}
		r.rows[i] = row
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return errors.New("sqlcache: cached result has trailing bytes")
	}
	*p = r
	return nil
}

func (rc resultCodec) value(d *decoder) (driver.Value, error) {
	switch tag := d.byte1(); tag {
	case vNil:
		return nil, d.err
	case vInt:
		return d.varint(), d.err
	case vFloat:
		if len(d.b) < 8 {
			d.fail()
			return nil, d.err
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(d.b))
		d.b = d.b[8:]
		return f, nil
	case vNilBytes:
		return []byte(nil), d.err
	case vFalse:
		return false, d.err
	case vTrue:
		return true, d.err
	case vBytes:
		return append([]byte{}, d.bytes()...), d.err
	case vString:
		return string(d.bytes()), d.err
	case vTime:
		sec := d.varint()
		nsec := d.uvarint()
		loc := string(d.bytes())
		zone := string(d.bytes())
		offset := int(d.varint())
		if d.err != nil {
			return nil, d.err
		}
		return time.Unix(sec, int64(nsec)).In(location(loc, zone, offset, sec)), nil
	case vCustom:
		name := string(d.bytes())
		data := d.bytes()
		if d.err != nil {
			return nil, d.err
		}
		vc := rc.cfg.byName[name]
		if vc == nil {
			return nil, fmt.Errorf("%w: no codec %q to decode a cached value", ErrUnsupportedValue, name)
		}
		return vc.dec(data)
	default:
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("sqlcache: unknown value tag %d in a cached result", tag)
	}
}

// location returns the *time.Location a cached time had: UTC and Local
// as themselves, a named zone when this process knows it by that name and
// it gives the same offset at that instant, else a fixed zone of the
// recorded name and offset (what a driver's parsed "+02:00" is).
func location(name, zone string, offset int, sec int64) *time.Location {
	switch name {
	case "UTC":
		return time.UTC
	case "Local":
		if _, off := time.Unix(sec, 0).In(time.Local).Zone(); off == offset {
			return time.Local
		}
	case "":
	default:
		if loc, err := time.LoadLocation(name); err == nil {
			if z, off := time.Unix(sec, 0).In(loc).Zone(); off == offset && z == zone {
				return loc
			}
		}
	}
	return time.FixedZone(zone, offset)
}

// cachedRows reads a result: it is the driver.Rows of a cached query, and
// answers the column type questions as the database's rows did.
type cachedRows struct {
	res *result
	cfg *config
	pos int
}

var (
	_ driver.Rows                           = (*cachedRows)(nil)
	_ driver.RowsNextResultSet              = (*cachedRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*cachedRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*cachedRows)(nil)
	_ driver.RowsColumnTypeLength           = (*cachedRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*cachedRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*cachedRows)(nil)
)

func (r *cachedRows) Columns() []string {
	out := make([]string, len(r.res.cols))
	for i, c := range r.res.cols {
		out[i] = c.name
	}
	return out
}

func (r *cachedRows) Close() error { return nil }

func (r *cachedRows) Next(dest []driver.Value) error {
	if r.pos >= len(r.res.rows) {
		return io.EOF
	}
	// A result may be shared (callers of one load, a near cache): each
	// reader gets bytes of its own, which a sql.RawBytes may change.
	for i, v := range r.res.rows[r.pos] {
		if b, ok := v.([]byte); ok && b != nil {
			v = append(make([]byte, 0, len(b)), b...)
		}
		dest[i] = v
	}
	r.pos++
	return nil
}

// HasNextResultSet reports false: only single result sets are cached.
func (r *cachedRows) HasNextResultSet() bool { return false }

// NextResultSet reports io.EOF: only single result sets are cached.
func (r *cachedRows) NextResultSet() error { return io.EOF }

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string { return r.res.cols[i].dbType }

// ColumnTypeScanType returns the type the driver said, when it is one of
// database/sql's value types (or a value codec's); any for another.
func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	name := r.res.cols[i].scanType
	if name == "" {
		return nil
	}
	if t, ok := scanTypes[name]; ok {
		return t
	}
	for t := range r.cfg.codecs {
		if t.String() == name {
			return t
		}
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	c := r.res.cols[i]
	return c.length, c.hasLength
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	c := r.res.cols[i]
	return c.nullable, c.hasNullable
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	c := r.res.cols[i]
	return c.precision, c.scale, c.hasDecimal
}
