package ginadapter

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/conn"
)

// Connection returns middleware that puts d into the context of every
// request it handles, as the original's use_connection() did for a Flask
// app: every redcache call made with c.Request.Context() (and the Cache
// middleware after it) uses d. It panics when d is nil, as conn.With
// does: a nil driver would silently send the calls to another Redis.
func Connection(d conn.Driver) gin.HandlerFunc {
	if d == nil {
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
// without an error is refused the same way.
func ConnectionFunc(choose func(c *gin.Context) (conn.Driver, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		d, err := choose(c)
		if err == nil && d == nil {
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
