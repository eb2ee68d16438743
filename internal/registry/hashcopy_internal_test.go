package registry

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"time"
)

// chunky reads its data in pieces of random size, up to 3 MiB, so that
// a read fills a buffer, part of one, or one byte.
type chunky struct {
	data []byte
	rng  *rand.Rand
	err  error // returned once the data is read, instead of io.EOF
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.rng.IntN(3<<20))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// emptyReads answers every other Read with no bytes and no error, which
// io.Reader discourages but allows.
type emptyReads struct {
	r     io.Reader
	empty bool
}

func (e *emptyReads) Read(p []byte) (int, error) {
	e.empty = !e.empty
	if e.empty {
		return 0, nil
	}
	return e.r.Read(p)
}

// slowHash takes its time over each write, so that a buffer handed to
// it is overwritten first if hashCopy reads into it too early.
type slowHash struct{ hash.Hash }

func (s slowHash) Write(p []byte) (int, error) {
	time.Sleep(10 * time.Millisecond)
	return s.Hash.Write(p)
}

// failingWriter takes limit bytes, then fails.
type failingWriter struct {
	bytes.Buffer
	limit int
}

var errFull = errors.New("full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if room := f.limit - f.Len(); len(p) > room {
		f.Buffer.Write(p[:max(room, 0)])
		return max(room, 0), errFull
	}
	return f.Buffer.Write(p)
}

// TestHashCopy: the writer gets what was read, and the hash exactly the
// bytes read, in order, whatever the sizes of the reads; a failed write
// or read stops the copy with its error, the hash having taken every
// byte read (which the caller compares with what was stored).
func TestHashCopy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 1 << 20, 1<<20 + 1, 5<<20 + 12345, 17 << 20} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		var w bytes.Buffer
		h := sha256.New()
		n, err := hashCopy(&w, &chunky{data: data, rng: rng}, h)
		if err != nil || n != int64(size) || !bytes.Equal(w.Bytes(), data) {
			t.Fatalf("%d bytes: copied %d, %v, equal %v", size, n, err, bytes.Equal(w.Bytes(), data))
		}
		if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("%d bytes: the hash is not of what was read", size)
		}

		// One byte at a time, through the standard library's reader.
		if size <= 1<<20+1 {
			h.Reset()
			w.Reset()
			if _, err := hashCopy(&w, iotest.OneByteReader(bytes.NewReader(data)), h); err != nil || !bytes.Equal(w.Bytes(), data) {
				t.Fatalf("%d bytes one at a time: %v", size, err)
			}
			if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("%d bytes one at a time: wrong hash", size)
			}
		}
	}

	// Reads that bring nothing between reads that bring a buffer each:
	// the buffer h may still be hashing is not read into.
	data := make([]byte, 9<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	var ew bytes.Buffer
	h := sha256.New()
	if _, err := hashCopy(&ew, &emptyReads{r: bytes.NewReader(data)}, slowHash{h}); err != nil || !bytes.Equal(ew.Bytes(), data) {
		t.Fatalf("with empty reads: %v", err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("with empty reads: the hash is not of what was read")
	}

	data = bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	// The writer fails part of the way.
	fw := &failingWriter{limit: 3<<20 + 7}
	counted := &countingWriter{w: sha256.New()}
	n, err := hashCopy(fw, &chunky{data: data, rng: rng}, counted)
	if !errors.Is(err, errFull) || n != int64(fw.Len()) || n != 3<<20+7 {
		t.Errorf("a failing writer: %d written (it took %d), %v", n, fw.Len(), err)
	}
	if counted.n < n || counted.n > int64(len(data)) {
		t.Errorf("a failing writer: %d bytes hashed, %d written", counted.n, n)
	}
	// The reader fails after its data.
	bad := errors.New("connection reset")
	var w bytes.Buffer
	counted = &countingWriter{w: sha256.New()}
	n, err = hashCopy(&w, &chunky{data: data, rng: rng, err: bad}, counted)
	if !errors.Is(err, bad) || n != int64(len(data)) || counted.n != int64(len(data)) {
		t.Errorf("a failing reader: %d written, %d hashed, %v", n, counted.n, err)
	}
	// A read that brings bytes and an error: both count.
	w.Reset()
	h.Reset()
	n, err = hashCopy(&w, iotest.DataErrReader(bytes.NewReader(data[:1000])), h)
	if err != nil || n != 1000 || !bytes.Equal(w.Bytes(), data[:1000]) {
		t.Errorf("data with io.EOF: %d, %v", n, err)
	}
	if want := sha256.Sum256(data[:1000]); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("data with io.EOF: wrong hash")
	}
}
