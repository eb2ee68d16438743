package blobcrypt

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"io"
)

// Writer encrypts what is written to it. Its zero value is not usable;
// call NewWriter.
type Writer struct {
	w       io.Writer
	aead    cipher.AEAD
	segSize int
	// buf holds the plaintext of the segment being filled, buf[:n], with
	// room for the tag so that it is sealed in place. A full segment stays
	// here until more data arrives, because only then is it known not to
	// be the last.
	buf   []byte
	n     int
	spare []byte // ReadFrom's second buffer, allocated on first use
	seq   uint64 // number of segments written
	nonce [12]byte
	err   error // sticky: once the output has failed, it is unusable
	done  bool
}

var errClosed = errors.New("blobcrypt: write after Close")

// NewWriter writes h to w and returns a Writer that encrypts to w, under
// dataKey (DataKeySize bytes), what is written to it. Close must be
// called to write the last segment; without it the object will not open.
// Close does not close w.
func NewWriter(w io.Writer, h Header, dataKey []byte) (*Writer, error) {
	return newWriter(w, h, dataKey, SegmentSize)
}

// newWriter lets tests use small segments, so that multi-segment objects
// stay small enough to fuzz.
func newWriter(w io.Writer, h Header, dataKey []byte, segSize int) (*Writer, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	salt := make([]byte, saltSize)
	rand.Read(salt) // never fails (Go 1.24+)
	rh := rawHeader{Header: h, salt: salt, segSize: segSize}
	rh.raw = h.marshal(salt, segSize)
	aead, err := segmentAEAD(dataKey, rh)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(rh.raw); err != nil {
		return nil, err
	}
	return &Writer{
		w:       w,
		aead:    aead,
		segSize: segSize,
		buf:     make([]byte, segSize+tagSize),
	}, nil
}

// Write encrypts p. It does not allocate: p is buffered into, or sealed
// straight into, the Writer's own segment buffer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if w.n == w.segSize {
			// More data follows, so the buffered segment is not the last.
			if err := w.seal(w.buf[:w.n], false); err != nil {
				return written, err
			}
			w.n = 0
		}
		if w.n == 0 && len(p) > w.segSize {
			// A whole segment with more after it: seal it from p,
			// skipping the copy into buf.
			if err := w.seal(p[:w.segSize], false); err != nil {
				return written, err
			}
			p = p[w.segSize:]
			written += w.segSize
			continue
		}
		k := copy(w.buf[w.n:w.segSize], p)
		w.n += k
		p = p[k:]
		written += k
	}
	return written, nil
}

// ReadFrom encrypts what it reads from r until io.EOF, reading straight
// into the segment buffers (io.Copy uses it). It returns the number of
// bytes read from r.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	var total int64
	for {
		var k int
		var err error
		if w.n < w.segSize {
			k, err = r.Read(w.buf[w.n:w.segSize])
			w.n += k
		} else {
			// Read ahead into the spare buffer to learn whether the full
			// one is the last segment, then swap them.
			if w.spare == nil {
				w.spare = make([]byte, w.segSize+tagSize)
			}
			k, err = r.Read(w.spare[:w.segSize])
			if k > 0 {
				if serr := w.seal(w.buf[:w.n], false); serr != nil {
					return total, serr
				}
				w.buf, w.spare = w.spare, w.buf
				w.n = k
			}
		}
		total += int64(k)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Close encrypts and writes the last segment. The object is complete only
// once Close has returned nil. Calling Close again returns the same result.
func (w *Writer) Close() error {
	if w.done {
		if w.err == errClosed {
			return nil
		}
		return w.err
	}
	w.done = true
	if w.err != nil {
		return w.err
	}
	if err := w.seal(w.buf[:w.n], true); err != nil {
		return err
	}
	w.n = 0
	w.err = errClosed
	return nil
}

// seal encrypts plain, which is either buf[:n] or does not overlap buf,
// into buf, and writes the segment out.
func (w *Writer) seal(plain []byte, last bool) error {
	setNonce(&w.nonce, w.seq, last)
	out := w.aead.Seal(w.buf[:0], w.nonce[:], plain, nil)
	w.seq++
	if _, err := w.w.Write(out); err != nil {
		w.err = err
		return err
	}
	return nil
}
