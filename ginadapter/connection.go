package ginadapter

import (
	"fmt"
	"net/http"
	"reflect"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
)

// Connection returns middleware that puts d into the context of every
// request it handles, as the original's use_connection() did for a Flask
// app: every redcache call made with c.Request.Context() (and the Cache
// middleware after it) uses d. It panics when d is nil, as conn.With
// does: a nil driver would silently send the calls to another Redis.
func Connection(d conn.Driver) gin.HandlerFunc {
	if isNil(d) {
		panic(fmt.Errorf("redcache/ginadapter: Connection with a nil driver: %w", conn.ErrBadArg))
	}
	return func(c *gin.Context) {
		c.Request = c.Request.WithContext(conn.With(c.Request.Context(), d))
		c.Next()
	}
}

// ConnectionFunc returns middleware that chooses the connection of each
// request with choose (a tenant's Redis by host or header, say) and puts
// it into the request's context, so that each tenant's values and
// responses stay in its own Redis.
//
// When choose returns an error, the request goes no further: it is
// aborted with 400 Bad Request and the error is added to c.Errors, unless
// choose aborted it already with a status of its own. A nil driver
// without an error is refused the same way, with ErrNoDriver, whether it
// is an untyped nil or a nil pointer of a driver type (a nil
// *goredis.Driver returned as a conn.Driver).
func ConnectionFunc(choose func(c *gin.Context) (conn.Driver, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		d, err := choose(c)
		if err == nil && isNil(d) {
			err = ErrNoDriver
		}
		if err != nil {
			_ = c.Error(err)
			if !c.IsAborted() {
				c.AbortWithStatus(http.StatusBadRequest)
			}
			return
		}
		c.Request = c.Request.WithContext(conn.With(c.Request.Context(), d))
		c.Next()
	}
}

// isNil reports whether d is nil, or holds a nil pointer (or another nil
// value of a kind that can be nil): a chooser that returns a variable of
// a driver's pointer type gives a non-nil interface holding nil, which
// conn.With refuses with a panic.
func isNil(d conn.Driver) bool {
	if d == nil {
		return true
	}
	switch v := reflect.ValueOf(d); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}
