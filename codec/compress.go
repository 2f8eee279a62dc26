package codec

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Compress wraps c so that its larger outputs are compressed with DEFLATE
// ([compress/flate]); its Name is c's with "+flate" appended, such as
// "gob+flate". The options set the threshold from which a value is
// compressed ([WithThreshold], default [DefaultThreshold]) and the level
// ([WithLevel], default [DefaultLevel]); neither changes what can be read,
// so any Compress of c decodes what any other wrote. Nil options are
// ignored; Compress panics if c is nil or an option is invalid.
//
// Every payload starts with a 1-byte marker:
//
//	0x00 <c's bytes>                                  stored as is
//	0x01 <uvarint: length of c's bytes> <raw DEFLATE>   compressed
//
// Values below the threshold, and values that flate does not make smaller,
// are stored as is, so small values cost one byte and no time. Unmarshal
// checks the marker, that the compressed stream is complete, that it
// inflates to exactly the recorded length and that nothing follows it;
// anything else is an [ErrDecode]. The recorded length is also checked
// against the most DEFLATE can expand (1032 to 1) before any memory is
// allocated, so a corrupt payload cannot ask for more than 1032 times its
// size. DEFLATE has no checksum: a payload damaged in a way that still
// inflates to the right length is caught only by c's own decoder.
func Compress(c Codec, opts ...CompressOption) Codec {
	if c == nil {
		panic("codec: Compress of a nil Codec")
	}
	cfg := newCompressConfig(opts)
	return compressed{inner: c, threshold: cfg.threshold, level: cfg.level}
}

// compressed is comparable, so two Compress calls with the same codec and
// options give equal Codecs.
type compressed struct {
	inner     Codec
	threshold int
	level     int
}

// Payload markers.
const (
	markStored = 0x00
	markFlate  = 0x01
)

// maxRatio is the most DEFLATE expands: a 258-byte match coded in 2 bits.
const maxRatio = 1032

const maxInt = int(^uint(0) >> 1)

// writerPools keeps flate.Writers, one pool per level (a Writer is
// hundreds of KiB of tables, too much to allocate per value).
var writerPools [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool

var flateReaderPool sync.Pool

func (c compressed) Name() string { return c.inner.Name() + compressSuffix }

func (c compressed) Marshal(v any) (data []byte, err error) {
	defer c.recoverEncode(&err)
	p, err := c.inner.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(p) >= c.threshold {
		z, err := c.deflate(p)
		if err != nil || z != nil {
			return z, err
		}
	}
	data = make([]byte, 1+len(p))
	data[0] = markStored
	copy(data[1:], p)
	return data, nil
}

// deflate returns the compressed payload for p, or nil if it is no
// smaller than storing p.
func (c compressed) deflate(p []byte) ([]byte, error) {
	buf := getBuffer()
	defer putBuffer(buf)
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = markFlate
	n := 1 + binary.PutUvarint(hdr[1:], uint64(len(p)))
	buf.Write(hdr[:n])

	pool := &writerPools[c.level-flate.HuffmanOnly]
	w, _ := pool.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriter(buf, c.level); err != nil {
			return nil, wrap(ErrEncode, c.Name(), err)
		}
	} else {
		w.Reset(buf)
	}
	_, err := w.Write(p)
	if err == nil {
		err = w.Close()
	}
	// w keeps pointing at buf until its next Reset; it writes nothing
	// there before that. Resetting it here too would clear its tables
	// (hundreds of KiB for levels above BestSpeed) twice per value.
	pool.Put(w)
	if err != nil {
		return nil, wrap(ErrEncode, c.Name(), err)
	}
	if buf.Len() >= 1+len(p) {
		return nil, nil
	}
	return bytes.Clone(buf.Bytes()), nil
}

func (c compressed) Unmarshal(data []byte, v any) (err error) {
	defer c.recoverDecode(&err)
	if len(data) == 0 {
		return fmt.Errorf("%w: %s: empty payload (no marker)", ErrDecode, c.Name())
	}
	switch data[0] {
	case markStored:
		return c.inner.Unmarshal(data[1:], v)
	case markFlate:
		buf := getBuffer()
		defer putBuffer(buf)
		p, err := inflate(buf, data[1:])
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrDecode, c.Name(), err)
		}
		// The Codec contract says inner does not keep p, so buf can go
		// back to the pool.
		return c.inner.Unmarshal(p, v)
	}
	return fmt.Errorf("%w: %s: unknown marker %#02x", ErrDecode, c.Name(), data[0])
}

// recoverEncode is encodePanic with the name computed only when needed
// (recover works only when called by the deferred function itself).
func (c compressed) recoverEncode(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s: panic while encoding: %v", ErrEncode, c.Name(), r)
	}
}

// recoverDecode is decodePanic with the name computed only when needed.
func (c compressed) recoverDecode(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s: panic while decoding: %v", ErrDecode, c.Name(), r)
	}
}

// inflate decompresses a length-prefixed DEFLATE stream into buf's
// storage and returns the bytes.
func inflate(buf *bytes.Buffer, z []byte) ([]byte, error) {
	n, k := binary.Uvarint(z)
	if k <= 0 {
		return nil, errors.New("bad length prefix")
	}
	z = z[k:]
	if n > uint64(len(z))*maxRatio || n > uint64(maxInt) {
		return nil, fmt.Errorf("length %d impossible for %d compressed bytes", n, len(z))
	}
	buf.Grow(int(n))
	p := buf.AvailableBuffer()[:n]

	br := readerPool.Get().(*bytes.Reader)
	br.Reset(z)
	fr, _ := flateReaderPool.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(br)
	} else if err := fr.(flate.Resetter).Reset(br, nil); err != nil {
		return nil, err // never: Reset fails only for a bad dictionary
	}
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
		flateReaderPool.Put(fr)
	}()

	if _, err := io.ReadFull(fr, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("inflating %d bytes: %w", n, err)
	}
	var one [1]byte
	if m, err := fr.Read(one[:]); m != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("inflates to more than the %d bytes recorded", n)
		}
		return nil, err
	}
	if br.Len() != 0 {
		return nil, fmt.Errorf("%d bytes after the compressed stream", br.Len())
	}
	return p, nil
}
