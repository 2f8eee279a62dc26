package ginadapter

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
)

// capture is the gin.ResponseWriter a handler writes to while its
// response is being cached: the whole response (status, headers, body)
// is kept in memory and written once, to the client and to Redis, after
// the handler returned. A handler that streams (Flush), hijacks the
// connection or writes more than the maximum body size switches it to
// pass-through: what was buffered goes to the client, the rest goes
// straight on, and nothing is cached.
type capture struct {
	gin.ResponseWriter             // the client's writer
	header             http.Header // what the handler sees and sets
	before             http.Header // the client's headers when the handler started
	status             int
	size               int // -1 until something is written
	max                int
	passed             bool // pass-through: the response is the client's now
	onPass             func()
	buf                *bytes.Buffer
}

func newCapture(w gin.ResponseWriter, max int) *capture {
	before := w.Header().Clone()
	if before == nil {
		before = http.Header{}
	}
	return &capture{ResponseWriter: w, header: before.Clone(), before: before, status: http.StatusOK, size: -1, max: max}
}

// Header returns the headers of the response being built.
func (w *capture) Header() http.Header {
	if w.passed {
		return w.ResponseWriter.Header()
	}
	return w.header
}

// WriteHeader records the status.
func (w *capture) WriteHeader(code int) {
	if w.passed {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if code > 0 && w.size == -1 {
		w.status = code
	}
}

// WriteHeaderNow marks the response as written.
func (w *capture) WriteHeaderNow() {
	if w.passed {
		w.ResponseWriter.WriteHeaderNow()
		return
	}
	if w.size == -1 {
		w.size = 0
	}
}

// Write buffers b, or passes it on once the response is the client's.
func (w *capture) Write(b []byte) (int, error) {
	if !w.passed && w.n()+len(b) > w.max {
		w.pass()
	}
	if w.passed {
		return w.ResponseWriter.Write(b)
	}
	w.WriteHeaderNow()
	w.size += len(b)
	return w.body().Write(b)
}

// WriteString is Write of a string.
func (w *capture) WriteString(s string) (int, error) {
	if !w.passed && w.n()+len(s) > w.max {
		w.pass()
	}
	if w.passed {
		return w.ResponseWriter.WriteString(s)
	}
	w.WriteHeaderNow()
	w.size += len(s)
	return w.body().WriteString(s)
}

// n is how many body bytes were buffered.
func (w *capture) n() int { return max(w.size, 0) }

// Status returns the response's status.
func (w *capture) Status() int {
	if w.passed {
		return w.ResponseWriter.Status()
	}
	return w.status
}

// Size returns how many body bytes were written, -1 before anything was.
func (w *capture) Size() int {
	if w.passed {
		return w.ResponseWriter.Size()
	}
	return w.size
}

// Written reports whether the response was written.
func (w *capture) Written() bool { return w.Size() != -1 }

// Flush streams the response: it is passed through, uncached.
func (w *capture) Flush() {
	w.pass()
	w.ResponseWriter.Flush()
}

// Hijack hands the connection to the handler: nothing is cached.
func (w *capture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.passed {
		w.passed = true
		if w.onPass != nil {
			w.onPass()
		}
		applyHeader(w.ResponseWriter.Header(), w.before, w.header, false)
	}
	return w.ResponseWriter.Hijack()
}

var _ gin.ResponseWriter = (*capture)(nil)

// buf is kept apart from the struct so that a capture that is never
// written allocates no buffer.
func (w *capture) body() *bytes.Buffer {
	if w.buf == nil {
		w.buf = new(bytes.Buffer)
	}
	return w.buf
}

// pass hands the response to the client: the headers and what was
// buffered are written, and later writes go straight on.
func (w *capture) pass() {
	if w.passed {
		return
	}
	w.passed = true
	if w.onPass != nil {
		w.onPass()
	}
	applyHeader(w.ResponseWriter.Header(), w.before, w.header, false)
	w.ResponseWriter.WriteHeader(w.status)
	if w.size >= 0 {
		w.ResponseWriter.WriteHeaderNow()
	}
	if w.buf != nil && w.buf.Len() > 0 {
		_, _ = w.ResponseWriter.Write(w.buf.Bytes())
		w.buf = nil
	}
}

// changed returns the headers the handler set or changed (compared with
// before), and the names of those it deleted.
func changed(before, after http.Header) (set http.Header, deleted []string) {
	set = http.Header{}
	for k, v := range after {
		if !slices.Equal(before[k], v) {
			set[k] = slices.Clone(v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			deleted = append(deleted, k)
		}
	}
	return set, deleted
}

// applyHeader writes into dst what the handler changed between before and
// after; with replayable, only the headers a cached response may carry.
func applyHeader(dst, before, after http.Header, replayable bool) {
	set, deleted := changed(before, after)
	for _, k := range deleted {
		dst.Del(k)
	}
	for k, v := range set {
		if replayable && !replayableHeader(k) {
			continue
		}
		dst[k] = v
	}
}
