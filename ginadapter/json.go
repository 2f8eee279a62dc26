package ginadapter

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/redcache/redcache/core"
)

// JSON returns a handler that answers with the JSON of a memoized
// function's value: arg reads the function's argument from the request
// (an error answers 400), and the value is got with the request's
// context, so that the request's Redis (see Connection) is used and a
// client that goes away stops waiting. Unlike the Cache middleware, what
// is cached is the payload, not the response: other handlers and
// programs share it, and the response is rendered anew each time.
//
// A loader's error answers with its status when it is a *StatusError,
// 500 otherwise, as {"error": "..."}.
func JSON[A, V any](m *core.Memo[A, V], arg func(c *gin.Context) (A, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		a, err := arg(c)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		v, err := m.Get(c.Request.Context(), a)
		if err != nil {
			abortWith(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	}
}

// JSON0 is JSON for a function without arguments.
func JSON0[V any](m *core.Memo0[V]) gin.HandlerFunc {
	return func(c *gin.Context) {
		v, err := m.Get(c.Request.Context())
		if err != nil {
			abortWith(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	}
}

// Param returns an arg function for JSON that reads the path parameter
// name as it is.
func Param(name string) func(c *gin.Context) (string, error) {
	return func(c *gin.Context) (string, error) { return c.Param(name), nil }
}

func abortWith(c *gin.Context, err error) {
	status := http.StatusInternalServerError
	var se *StatusError
	if errors.As(err, &se) && se.Status >= 400 {
		status = se.Status
	}
	_ = c.Error(err)
	c.AbortWithStatusJSON(status, gin.H{"error": err.Error()})
}
