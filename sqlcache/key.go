package sqlcache

import (
	"database/sql/driver"
	"math"
	"reflect"
	"strconv"
	"time"
)

// appendArgs appends the key encoding of a query's arguments, after
// conversion by the driver. Every element is self-delimiting (strings and
// bytes carry their length, numbers end at ';'), so that no two different
// argument lists share an encoding: 1 and "1", ("a,b") and ("a","b"), nil
// and "" and []byte{} are apart. A time keeps its location, as a database
// may read its wall clock (a timestamp without time zone). ok is false
// for a value that has neither a known type nor a codec: the query then
// runs uncached.
func (cfg *config) appendArgs(dst []byte, args []driver.NamedValue) ([]byte, bool) {
	dst = strconv.AppendInt(append(dst, '#'), int64(len(args)), 10)
	for _, a := range args {
		dst = append(dst, ';')
		if a.Name != "" {
			dst = appendLen(append(dst, '@'), a.Name)
		} else {
			dst = strconv.AppendInt(append(dst, '$'), int64(a.Ordinal), 10)
		}
		dst = append(dst, '=')
		var ok bool
		if dst, ok = cfg.appendArg(dst, a.Value); !ok {
			return dst, false
		}
	}
	return dst, true
}

func appendLen(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	return append(append(dst, ':'), s...)
}

func (cfg *config) appendArg(dst []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(dst, 'n'), true
	case int64:
		return append(strconv.AppendInt(append(dst, 'i'), v, 10), ';'), true
	case float64:
		return append(strconv.AppendUint(append(dst, 'f'), math.Float64bits(v), 16), ';'), true
	case bool:
		if v {
			return append(dst, 'T'), true
		}
		return append(dst, 'F'), true
	case []byte:
		if v == nil {
			return append(dst, 'N'), true
		}
		return appendLen(append(dst, 'b'), string(v)), true
	case string:
		return appendLen(append(dst, 's'), v), true
	case time.Time:
		dst = strconv.AppendInt(append(dst, 't'), v.Unix(), 10)
		dst = strconv.AppendInt(append(dst, '.'), int64(v.Nanosecond()), 10)
		zone, offset := v.Zone()
		dst = appendLen(append(dst, '/'), v.Location().String()+"/"+zone)
		return append(strconv.AppendInt(dst, int64(offset), 10), ';'), true
	}
	t := reflect.TypeOf(v)
	if vc := cfg.codecs[t]; vc != nil {
		data, err := vc.enc(v)
		if err != nil {
			return dst, false
		}
		dst = appendLen(append(dst, 'x'), vc.name)
		return appendLen(dst, string(data)), true
	}
	// A driver that takes other types (its NamedValueChecker let them
	// through) may send them as their driver.Value, but the type still
	// counts: it may choose the encoding.
	if vr, ok := v.(driver.Valuer); ok {
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return append(dst, 'n'), true
		}
		dv, err := vr.Value()
		if err != nil {
			return dst, false
		}
		if _, isValuer := dv.(driver.Valuer); isValuer {
			return dst, false
		}
		dst = appendLen(append(dst, 'v'), t.PkgPath()+"."+t.String())
		return cfg.appendArg(dst, dv)
	}
	// Go values a driver takes as they are (pgx takes int, *int,
	// []int64...): by kind, as the driver sends a value by its kind.
	return cfg.appendKind(dst, reflect.ValueOf(v))
}

func (cfg *config) appendKind(dst []byte, rv reflect.Value) ([]byte, bool) {
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return append(strconv.AppendInt(append(dst, 'i'), rv.Int(), 10), ';'), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return append(strconv.AppendUint(append(dst, 'u'), rv.Uint(), 10), ';'), true
	case reflect.Float32:
		return append(strconv.AppendUint(append(dst, 'g'), uint64(math.Float32bits(float32(rv.Float()))), 16), ';'), true
	case reflect.Float64:
		return append(strconv.AppendUint(append(dst, 'f'), math.Float64bits(rv.Float()), 16), ';'), true
	case reflect.Bool:
		if rv.Bool() {
			return append(dst, 'T'), true
		}
		return append(dst, 'F'), true
	case reflect.String:
		return appendLen(append(dst, 's'), rv.String()), true
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(dst, 'n'), true
		}
		return cfg.appendArg(append(dst, '*'), rv.Elem().Interface())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			if rv.IsNil() {
				return append(dst, 'N'), true
			}
			return appendLen(append(dst, 'b'), string(rv.Bytes())), true
		}
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return append(dst, 'n'), true
		}
		dst = strconv.AppendInt(append(dst, '['), int64(rv.Len()), 10)
		for i := range rv.Len() {
			var ok bool
			if dst, ok = cfg.appendArg(append(dst, ','), rv.Index(i).Interface()); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	}
	return dst, false
}
