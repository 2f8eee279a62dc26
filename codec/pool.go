package codec

import (
	"bytes"
	"sync"
)

// maxPooled is the largest buffer put back into a pool: a rare huge value
// should not keep its buffer alive for good.
const maxPooled = 256 << 10

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooled {
		return
	}
	b.Reset()
	bufPool.Put(b)
}

// readerPool saves the bytes.Reader a Decoder reads from; a bytes.Reader
// is an io.ByteReader, so gob wraps it in no bufio.Reader of its own.
var readerPool = sync.Pool{New: func() any { return new(bytes.Reader) }}
