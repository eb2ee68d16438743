package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// blob is content the tool can send more than once: open returns a fresh
// reader for bytes [off, end), so a body can be sent again after a 401 or
// a redirect, and a chunked upload can send one range at a time.
type blob struct {
	digest string
	size   int64
	open   func(off, end int64) io.Reader
}

// bytesBlob wraps small content held in memory (configs, manifests).
func bytesBlob(b []byte) blob {
	return blob{
		digest: digestOf(b),
		size:   int64(len(b)),
		open:   func(off, end int64) io.Reader { return bytes.NewReader(b[off:end]) },
	}
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// A blobSource hands out any number of distinct blobs of one size without
// holding them in memory and without hashing each one.
//
// Blob i is a shared body followed by a 16-byte tail: 8 bytes naming this
// source (random per run) and 8 bytes holding i. The body is a random
// period of at most 1 MiB repeated to length. SHA-256 reads its input
// front to back, so the hash state after the body is computed once and
// each blob's digest only costs hashing its tail. Every blob is therefore
// new to the registry (distinct digest, no dedupe), while the client
// spends almost nothing per operation: a 2 GB push streams from the 1 MiB
// period and memory stays constant in blob size.
type blobSource struct {
	size      int64
	bodyLen   int64
	period    []byte
	id        [8]byte
	afterBody hash.Cloner // SHA-256 state after the shared body
}

const (
	tailLen   = 16
	periodLen = 1 << 20
	minBlob   = tailLen
)

func newBlobSource(size int64) (*blobSource, error) {
	if size < minBlob {
		return nil, fmt.Errorf("blob size %d is below the minimum of %d bytes", size, minBlob)
	}
	s := &blobSource{size: size, bodyLen: size - tailLen}
	s.period = make([]byte, min(s.bodyLen, periodLen))
	rand.Read(s.period)
	rand.Read(s.id[:])

	h := sha256.New()
	if _, err := io.Copy(h, s.section(0, 0, s.bodyLen)); err != nil {
		return nil, err
	}
	s.afterBody = h.(hash.Cloner)
	return s, nil
}

// blob returns the i-th distinct blob of this source.
func (s *blobSource) blob(i int64) blob {
	return blob{
		digest: s.digest(i),
		size:   s.size,
		open:   func(off, end int64) io.Reader { return s.section(i, off, end) },
	}
}

func (s *blobSource) tail(i int64) [tailLen]byte {
	var t [tailLen]byte
	copy(t[:8], s.id[:])
	binary.BigEndian.PutUint64(t[8:], uint64(i))
	return t
}

func (s *blobSource) digest(i int64) string {
	h, err := s.afterBody.Clone()
	if err != nil {
		// The standard library's SHA-256 always clones; see hash.Cloner.
		panic(err)
	}
	t := s.tail(i)
	h.Write(t[:])
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// section returns a reader for bytes [off, end) of blob i.
func (s *blobSource) section(i, off, end int64) io.Reader {
	return &blobReader{src: s, tail: s.tail(i), off: off, end: end}
}

// blobReader produces a blob's bytes on the fly by copying from the
// period and then the tail.
type blobReader struct {
	src  *blobSource
	tail [tailLen]byte
	off  int64 // next byte to produce
	end  int64 // one past the last byte to produce
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	if want := r.end - r.off; int64(len(p)) > want {
		p = p[:want]
	}
	n := 0
	for n < len(p) && r.off < r.end {
		var m int
		if r.off < r.src.bodyLen {
			chunk := r.src.period[r.off%int64(len(r.src.period)):]
			if rest := r.src.bodyLen - r.off; int64(len(chunk)) > rest {
				chunk = chunk[:rest]
			}
			m = copy(p[n:], chunk)
		} else {
			m = copy(p[n:], r.tail[r.off-r.src.bodyLen:])
		}
		n += m
		r.off += int64(m)
	}
	return n, nil
}
