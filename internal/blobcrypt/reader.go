package blobcrypt

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Reader gives the plaintext of an encrypted object, sequentially (Read,
// Seek, WriteTo) or at any offset (ReadAt), decrypting only the segments
// it needs. ReadAt may be called concurrently with any method; Read, Seek
// and WriteTo may not be called concurrently with one another.
type Reader struct {
	ra      io.ReaderAt
	aead    cipher.AEAD
	hdrLen  int64
	segSize int64
	segs    int64
	ctSize  int64
	size    int64 // plaintext

	off int64    // Read and Seek's position
	cur *segment // Read and WriteTo's segment
	// ReadAt's segments. A pool rather than one shared segment so that
	// concurrent ReadAts need no lock; a caller reading sequentially
	// through ReadAt usually gets its last segment back, still decrypted.
	pool sync.Pool
}

// segment holds one segment: its ciphertext, then its plaintext in place.
type segment struct {
	i     int64  // index of the segment in plain, or -1
	buf   []byte // segSize+tagSize bytes
	plain []byte // buf[:len], valid when i >= 0
	nonce [12]byte
}

// NewReader returns a Reader of the plaintext of the encrypted object of
// size bytes that ra reads. unwrap is given the object's header and must
// return its data key (by asking KMS to decrypt h.WrappedKey, say); an
// error from it is returned wrapped.
//
// NewReader reads and authenticates the last segment, so a wrong key, a
// modified header and a truncated or extended object are reported here,
// and Size can be trusted.
func NewReader(ra io.ReaderAt, size int64, unwrap func(Header) ([]byte, error)) (*Reader, error) {
	h, err := readHeader(io.NewSectionReader(ra, 0, size))
	if err != nil {
		return nil, err
	}
	r := &Reader{ra: ra, hdrLen: int64(len(h.raw)), segSize: int64(h.segSize), ctSize: size}
	r.size, r.segs, err = layout(r.hdrLen, r.segSize, size)
	if err != nil {
		return nil, err
	}
	key, err := unwrap(h.Header)
	if err != nil {
		return nil, fmt.Errorf("blobcrypt: unwrapping the data key of the object (key %q): %w", h.KeyARN, err)
	}
	if r.aead, err = segmentAEAD(key, h); err != nil {
		return nil, err
	}
	r.pool.New = func() any { return r.newSegment() }
	r.cur = r.newSegment()
	if err := r.load(r.cur, r.segs-1); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader) newSegment() *segment {
	return &segment{i: -1, buf: make([]byte, r.segSize+tagSize)}
}

// Size returns the plaintext size, authenticated by NewReader.
func (r *Reader) Size() int64 { return r.size }

// load makes s hold segment i, decrypted and authenticated.
func (r *Reader) load(s *segment, i int64) error {
	if s.i == i {
		return nil
	}
	s.i = -1
	off := r.hdrLen + i*(r.segSize+tagSize)
	n := r.segSize + tagSize
	last := i == r.segs-1
	if last {
		n = r.ctSize - off
	}
	ct := s.buf[:n]
	if k, err := r.ra.ReadAt(ct, off); k < len(ct) {
		if err == nil || err == io.EOF {
			return fmt.Errorf("%w: the object is shorter than the %d bytes it was opened with; pass its true size", ErrCorrupt, r.ctSize)
		}
		return fmt.Errorf("blobcrypt: reading segment %d: %w", i, err)
	}
	setNonce(&s.nonce, uint64(i), last)
	plain, err := r.aead.Open(ct[:0], s.nonce[:], ct, nil)
	if err != nil {
		// Open has zeroed ct: nothing unauthenticated is left behind.
		return fmt.Errorf("%w: segment %d of %d does not authenticate: the object was modified, truncated or extended, or the data key is not the one it was written with", ErrCorrupt, i, r.segs)
	}
	s.plain, s.i = plain, i
	return nil
}

// ReadAt reads len(p) bytes of plaintext at offset off, or fewer with
// io.EOF at the end of the plaintext. It reads and decrypts only the
// segments that hold them.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("blobcrypt: ReadAt at a negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	s := r.pool.Get().(*segment)
	defer r.pool.Put(s)
	n := 0
	for n < len(p) && off < r.size {
		i := off / r.segSize
		if err := r.load(s, i); err != nil {
			return n, err
		}
		k := copy(p[n:], s.plain[off-i*r.segSize:])
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Read reads plaintext from the current position, at most to the end of
// its segment.
func (r *Reader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	i := r.off / r.segSize
	if err := r.load(r.cur, i); err != nil {
		return 0, err
	}
	k := copy(p, r.cur.plain[r.off-i*r.segSize:])
	r.off += int64(k)
	return k, nil
}

// WriteTo writes the plaintext from the current position to w, a segment
// at a time without copying it (io.Copy uses it).
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.off < r.size {
		i := r.off / r.segSize
		if err := r.load(r.cur, i); err != nil {
			return total, err
		}
		k, err := w.Write(r.cur.plain[r.off-i*r.segSize:])
		r.off += int64(k)
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Seek sets the position of the next Read or WriteTo. Seeking past the
// end is allowed; reading there gives io.EOF.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, fmt.Errorf("blobcrypt: Seek with invalid whence %d", whence)
	}
	if offset < 0 {
		return 0, errors.New("blobcrypt: Seek to a negative position")
	}
	r.off = offset
	return offset, nil
}
