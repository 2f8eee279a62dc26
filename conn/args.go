package conn

import (
	"reflect"
	"strconv"
	"time"
)

// FormatArg turns an argument of [Driver.Do], [Driver.Pipeline] or
// [Driver.Eval] into the bulk string Redis receives, as every driver must:
// string and []byte as they are, integer and float types (and types
// defined on them) in decimal, bool as 1 or 0, and time.Duration in
// milliseconds (a positive duration below a millisecond is rounded up, as
// [Milliseconds] does). It reports false for any other type, nil
// included; the driver then returns its own error for a bad argument.
func FormatArg(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	case time.Duration:
		if x < 0 {
			return strconv.FormatInt(x.Milliseconds(), 10), true
		}
		ms, _ := Milliseconds(x)
		return strconv.FormatInt(ms, 10), true
	case nil:
		return "", false
	}
	// The other sizes, and types defined on the basic ones (type UserID
	// int64, and so on).
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), true
	case reflect.Float32:
		return strconv.FormatFloat(rv.Float(), 'f', -1, 32), true
	case reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'f', -1, 64), true
	case reflect.Bool:
		if rv.Bool() {
			return "1", true
		}
		return "0", true
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return string(rv.Bytes()), true
		}
	}
	return "", false
}
