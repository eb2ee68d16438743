package blobcrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

const testARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// kms stands in for AWS KMS: data keys with opaque wrapped copies.
type kms struct {
	mu   sync.Mutex
	keys map[string][]byte // wrapped key -> data key
}

func newKMS() *kms { return &kms{keys: map[string][]byte{}} }

func (k *kms) generate() (Header, []byte) {
	dataKey, wrapped := make([]byte, DataKeySize), make([]byte, 184) // a KMS blob's usual size
	crand.Read(dataKey)
	crand.Read(wrapped)
	k.mu.Lock()
	k.keys[string(wrapped)] = dataKey
	k.mu.Unlock()
	return Header{KeyARN: testARN, WrappedKey: wrapped}, dataKey
}

var errUnknownWrappedKey = errors.New("kms: InvalidCiphertextException")

func (k *kms) unwrap(h Header) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.keys[string(h.WrappedKey)]; ok {
		return key, nil
	}
	return nil, errUnknownWrappedKey
}

// fixedKey ignores the header, so that tests show the header is
// authenticated by the format, not by KMS rejecting a changed wrapped key.
func fixedKey(key []byte) func(Header) ([]byte, error) {
	return func(Header) ([]byte, error) { return key, nil }
}

func randBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

func encrypt(t testing.TB, plain []byte, h Header, key []byte, segSize int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := newWriter(&buf, h, key, segSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(ct []byte, unwrap func(Header) ([]byte, error)) (*Reader, error) {
	return NewReader(bytes.NewReader(ct), int64(len(ct)), unwrap)
}

// chunkReader returns its data in chunks of the given sizes, cycling,
// and hides any WriterTo so that io.Copy uses the Writer's ReadFrom.
type chunkReader struct {
	data   []byte
	chunks []int
	i      int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(p)
	if len(c.chunks) > 0 {
		n = min(n, c.chunks[c.i%len(c.chunks)])
		c.i++
	}
	n = copy(p, c.data[:min(n, len(c.data))])
	c.data = c.data[n:]
	return n, nil
}

// writeChunked writes plain to w in chunks of the given sizes, cycling.
func writeChunked(w io.Writer, plain []byte, chunks []int) error {
	for i := 0; len(plain) > 0; i++ {
		n := min(len(plain), chunks[i%len(chunks)])
		if _, err := w.Write(plain[:n]); err != nil {
			return err
		}
		plain = plain[n:]
	}
	return nil
}

var sizes = []struct {
	name string
	n    int
}{
	{"empty", 0},
	{"1", 1},
	{"segment-1", SegmentSize - 1},
	{"segment", SegmentSize},
	{"segment+1", SegmentSize + 1},
	{"3segments+17", 3*SegmentSize + 17},
	{"5MiB", 5 << 20},
}

func TestRoundTrip(t *testing.T) {
	k := newKMS()
	writes := []struct {
		name  string
		write func(w *Writer, plain []byte) error
	}{
		{"one Write", func(w *Writer, p []byte) error { _, err := w.Write(p); return err }},
		{"Writes of 1000", func(w *Writer, p []byte) error { return writeChunked(w, p, []int{1000}) }},
		{"Writes of mixed sizes", func(w *Writer, p []byte) error {
			return writeChunked(w, p, []int{0, 1, SegmentSize, SegmentSize + 1, 3*SegmentSize + 5, 7})
		}},
		{"ReadFrom 32K", func(w *Writer, p []byte) error {
			_, err := io.Copy(w, &chunkReader{data: p})
			return err
		}},
		{"ReadFrom mixed", func(w *Writer, p []byte) error {
			n, err := w.ReadFrom(&chunkReader{data: p, chunks: []int{1, 5000, SegmentSize, 3}})
			if err == nil && n != int64(len(p)) {
				err = fmt.Errorf("ReadFrom = %d, want %d", n, len(p))
			}
			return err
		}},
	}
	for _, size := range sizes {
		plain := randBytes(size.n, uint64(size.n))
		for _, wr := range writes {
			t.Run(size.name+"/"+wr.name, func(t *testing.T) {
				h, key := k.generate()
				var buf bytes.Buffer
				w, err := NewWriter(&buf, h, key)
				if err != nil {
					t.Fatal(err)
				}
				if err := wr.write(w, plain); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				ct := buf.Bytes()

				if want := CiphertextSize(h.Len(), int64(size.n)); int64(len(ct)) != want {
					t.Fatalf("ciphertext has %d bytes, CiphertextSize says %d", len(ct), want)
				}
				if p, err := PlaintextSize(h.Len(), int64(len(ct))); err != nil || p != int64(size.n) {
					t.Fatalf("PlaintextSize = %d, %v; want %d", p, err, size.n)
				}
				got, err := ReadHeader(bytes.NewReader(ct))
				if err != nil || got.KeyARN != h.KeyARN || !bytes.Equal(got.WrappedKey, h.WrappedKey) {
					t.Fatalf("ReadHeader = %+v, %v", got, err)
				}

				r, err := open(ct, k.unwrap)
				if err != nil {
					t.Fatal(err)
				}
				if r.Size() != int64(size.n) {
					t.Fatalf("Size = %d, want %d", r.Size(), size.n)
				}
				// iotest.OneByteReader would be slow at 5 MiB; Read with
				// an odd buffer size exercises Read across segments.
				var out bytes.Buffer
				if _, err := io.CopyBuffer(&out, struct{ io.Reader }{r}, make([]byte, 3001)); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.Bytes(), plain) {
					t.Fatal("Read gives a different plaintext")
				}
				r.Seek(0, io.SeekStart)
				out.Reset()
				if n, err := io.Copy(&out, r); err != nil || n != int64(size.n) || !bytes.Equal(out.Bytes(), plain) {
					t.Fatalf("WriteTo = %d, %v; plaintext equal: %v", n, err, bytes.Equal(out.Bytes(), plain))
				}
			})
		}
	}
}

func TestReadAtSeek(t *testing.T) {
	k := newKMS()
	for _, size := range sizes {
		t.Run(size.name, func(t *testing.T) {
			plain := randBytes(size.n, 42)
			h, key := k.generate()
			r, err := open(encrypt(t, plain, h, key, SegmentSize), k.unwrap)
			if err != nil {
				t.Fatal(err)
			}
			n := int64(size.n)
			offsets := []int64{0, 1, n - 1, n, n + 1, n + 1000}
			for s := int64(SegmentSize); s <= n+SegmentSize; s += SegmentSize {
				offsets = append(offsets, s-1, s, s+1)
			}
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			for range 200 {
				offsets = append(offsets, rng.Int64N(n+2))
			}
			lengths := []int{0, 1, 2, 100, SegmentSize - 1, SegmentSize, 2*SegmentSize + 5}
			for _, off := range offsets {
				if off < 0 {
					continue
				}
				for _, l := range append(lengths, rng.IntN(3*SegmentSize)) {
					want := plain[min(off, n):min(off+int64(l), n)]
					p := make([]byte, l)

					got, err := r.ReadAt(p, off)
					if got != len(want) || !bytes.Equal(p[:got], want) {
						t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want %d bytes, equal: %v", l, off, got, err, len(want), bytes.Equal(p[:got], want))
					}
					// At the end, a full read may also report io.EOF.
					if short := len(want) < l; (short && err != io.EOF) || (!short && err != nil && (err != io.EOF || off+int64(l) < n)) {
						t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", l, off, got, err)
					}

					if pos, err := r.Seek(off, io.SeekStart); pos != off || err != nil {
						t.Fatalf("Seek(%d) = %d, %v", off, pos, err)
					}
					got, err = io.ReadFull(r, p)
					if got != len(want) || !bytes.Equal(p[:got], want) {
						t.Fatalf("Seek(%d)+ReadFull(%d bytes) = %d, %v; want %d bytes", off, l, got, err, len(want))
					}
				}
			}
			// Relative seeks.
			if n > 10 {
				r.Seek(-10, io.SeekEnd)
				r.Seek(3, io.SeekCurrent)
				b, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(b, plain[n-7:]) {
					t.Fatalf("after SeekEnd/SeekCurrent: %d bytes, %v", len(b), err)
				}
			}
			if _, err := r.Seek(-1, io.SeekStart); err == nil {
				t.Fatal("Seek to -1 succeeded")
			}
			if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
				t.Fatal("ReadAt at -1 succeeded")
			}
		})
	}
}

func TestConcurrentReadAt(t *testing.T) {
	plain := randBytes(20*SegmentSize+123, 7)
	key := randBytes(DataKeySize, 1)
	r, err := open(encrypt(t, plain, Header{KeyARN: testARN}, key, SegmentSize), fixedKey(key))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 0))
			p := make([]byte, 50000)
			for range 200 {
				off := rng.Int64N(int64(len(plain)))
				n, err := r.ReadAt(p, off)
				if (err != nil && err != io.EOF) || !bytes.Equal(p[:n], plain[off:off+int64(n)]) {
					t.Errorf("ReadAt(%d) = %d, %v or wrong plaintext", off, n, err)
					return
				}
			}
		})
	}
	// Read concurrently with the ReadAts.
	if b, err := io.ReadAll(r); err != nil || !bytes.Equal(b, plain) {
		t.Errorf("ReadAll = %d bytes, %v", len(b), err)
	}
	wg.Wait()
}

// mustFail checks that ct cannot be read in full: NewReader or a read
// fails with ErrCorrupt, and no plaintext other than want's is returned.
func mustFail(t *testing.T, what string, ct, want []byte, unwrap func(Header) ([]byte, error)) {
	t.Helper()
	r, err := open(ct, unwrap)
	if err == nil {
		var got []byte
		got, err = io.ReadAll(r)
		if !bytes.HasPrefix(want, got) {
			t.Fatalf("%s: read returned plaintext that was never written", what)
		}
		if err == nil {
			t.Fatalf("%s: the whole object was read without error", what)
		}
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%s: error %q does not wrap ErrCorrupt", what, err)
	}
}

func TestTamper(t *testing.T) {
	for _, segSize := range []int{64, SegmentSize} {
		t.Run(fmt.Sprint("segment size ", segSize), func(t *testing.T) {
			testTamper(t, segSize)
		})
	}
}

func testTamper(t *testing.T, segSize int) {
	k := newKMS()
	h, key := k.generate()
	plain := randBytes(3*segSize+17, 3)
	ct := encrypt(t, plain, h, key, segSize)
	hl, full := h.Len(), segSize+tagSize
	segs := 4
	seg := func(i int) []byte { return ct[hl+i*full : min(hl+(i+1)*full, len(ct))] }
	if len(seg(segs-1)) != 17+tagSize {
		t.Fatalf("unexpected layout")
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	unwrap := fixedKey(key)

	// Flip a bit: every byte of the header and of every tag, and in each
	// segment's body its first, middle and last byte (all of them for
	// small segments).
	var positions []int
	for i := 0; i < hl; i++ {
		positions = append(positions, i)
	}
	for i := range segs {
		start, end := hl+i*full, min(hl+(i+1)*full, len(ct))
		body := end - tagSize
		if segSize <= 64 {
			for p := start; p < body; p++ {
				positions = append(positions, p)
			}
		} else {
			positions = append(positions, start, (start+body)/2, body-1)
		}
		for p := body; p < end; p++ {
			positions = append(positions, p)
		}
	}
	for _, p := range positions {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(ct)
			bad[p] ^= bit
			mustFail(t, fmt.Sprintf("bit flipped at %d", p), bad, plain, unwrap)
		}
	}
	// The segment with the flipped bit fails whichever way it is reached,
	// while the others still read.
	for i := range segs {
		bad := bytes.Clone(ct)
		bad[hl+i*full] ^= 1
		r, err := open(bad, unwrap)
		if i == segs-1 {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("last segment modified: NewReader error = %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadAt(make([]byte, 1), int64(i*segSize+segSize/2)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("segment %d modified: ReadAt error = %v", i, err)
		}
		other := (i + 1) % segs
		p := make([]byte, 10)
		if _, err := r.ReadAt(p, int64(other*segSize)); err != nil || !bytes.Equal(p, plain[other*segSize:][:10]) {
			t.Fatalf("segment %d modified: reading segment %d: %v", i, other, err)
		}
	}

	// Truncate at every segment boundary, and inside the header and each
	// segment. NewReader must refuse: a prefix must not pass for a blob.
	cuts := []int{0, 1, 8, 12, hl - 1}
	for i := range segs {
		start := hl + i*full
		cuts = append(cuts, start, start+1, start+tagSize-1, start+tagSize, start+tagSize+1, start+full/2, min(start+full-1, len(ct)-1))
	}
	for _, c := range cuts {
		_, err := open(ct[:c], unwrap)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: NewReader error = %v", c, len(ct), err)
		}
	}

	// Append: a copy of a segment, a bare tag, a byte; also extend the
	// short last segment into a full one.
	for name, extra := range map[string][]byte{
		"segment 0":     seg(0),
		"last segment":  seg(segs - 1),
		"tag":           make([]byte, tagSize),
		"byte":          {0},
		"filler":        make([]byte, full-len(seg(segs-1))),
		"filler+header": cat(make([]byte, full-len(seg(segs-1))), ct[:hl]),
	} {
		mustFail(t, "appended "+name, cat(ct, extra), plain, unwrap)
	}

	// Reorder: swap full segments, duplicate one over another, drop one.
	mustFail(t, "segments 0 and 1 swapped", cat(ct[:hl], seg(1), seg(0), seg(2), seg(3)), plain, unwrap)
	mustFail(t, "segments 0 and 2 swapped", cat(ct[:hl], seg(2), seg(1), seg(0), seg(3)), plain, unwrap)
	mustFail(t, "segment 1 replaced by 0", cat(ct[:hl], seg(0), seg(0), seg(2), seg(3)), plain, unwrap)
	mustFail(t, "segment 1 dropped", cat(ct[:hl], seg(0), seg(2), seg(3)), plain, unwrap)
	mustFail(t, "last segment dropped", cat(ct[:hl], seg(0), seg(1), seg(2)), plain, unwrap)

	// Header fields replaced, with the header re-encoded consistently, so
	// only the authentication can catch it.
	rh, err := readHeader(bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	reheader := func(h Header, salt []byte, segSize int) []byte {
		return cat(h.marshal(salt, segSize), ct[hl:])
	}
	if !bytes.Equal(reheader(h, rh.salt, segSize), ct) {
		t.Fatal("re-encoding the header changed it")
	}
	h2, key2 := k.generate()
	otherARN := strings.Replace(testARN, "1234abcd", "9999abcd", 1)
	for name, bad := range map[string][]byte{
		"ARN of the same length": reheader(Header{KeyARN: otherARN, WrappedKey: h.WrappedKey}, rh.salt, segSize),
		"longer ARN":             reheader(Header{KeyARN: testARN + "0", WrappedKey: h.WrappedKey}, rh.salt, segSize),
		"empty ARN":              reheader(Header{WrappedKey: h.WrappedKey}, rh.salt, segSize),
		"wrapped key changed":    reheader(Header{KeyARN: testARN, WrappedKey: append(bytes.Clone(h.WrappedKey), 1)}, rh.salt, segSize),
		"salt changed":           reheader(h, make([]byte, saltSize), segSize),
		"segment size changed":   reheader(h, rh.salt, segSize*2),
	} {
		mustFail(t, name, bad, plain, unwrap)
	}

	// Another object's wrapped key, which KMS unwraps fine: its data key
	// does not open these segments.
	other := encrypt(t, []byte("other"), h2, key2, segSize)
	mustFail(t, "header of another object", cat(other[:h2.Len()], ct[hl:]), plain, k.unwrap)
	mustFail(t, "wrapped key of another object", reheader(h2, rh.salt, segSize), plain, k.unwrap)
	mustFail(t, "segments of another object", cat(ct[:hl], other[h2.Len():]), plain, k.unwrap)

	// Wrong data key.
	mustFail(t, "wrong data key", ct, plain, fixedKey(key2))
	bad := bytes.Clone(key)
	bad[31] ^= 1
	mustFail(t, "data key with a bit flipped", ct, plain, fixedKey(bad))
}

func TestOpenErrors(t *testing.T) {
	key := randBytes(DataKeySize, 5)
	ct := encrypt(t, []byte("hello"), Header{KeyARN: testARN}, key, SegmentSize)

	if _, err := open(ct, func(Header) ([]byte, error) { return nil, errUnknownWrappedKey }); !errors.Is(err, errUnknownWrappedKey) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("unwrap failure: %v", err)
	}
	if _, err := open(ct, fixedKey(key[:16])); err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("16-byte data key: %v", err)
	}
	// The ReaderAt holds less than the size NewReader is given.
	if _, err := NewReader(bytes.NewReader(ct[:len(ct)-1]), int64(len(ct)), fixedKey(key)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short ReaderAt: %v", err)
	}
	// Not encrypted at all.
	for _, junk := range [][]byte{nil, []byte("ECRDENC"), []byte("{\"schemaVersion\": 2}"), bytes.Repeat([]byte{0}, 100)} {
		if _, err := open(junk, fixedKey(key)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open(%q): %v", junk, err)
		}
		if _, err := ReadHeader(bytes.NewReader(junk)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("ReadHeader(%q): %v", junk, err)
		}
	}
	// A reader error is passed on, not reported as corruption.
	errDisk := errors.New("disk on fire")
	if _, err := ReadHeader(io.MultiReader(bytes.NewReader(ct[:20]), errReader{errDisk})); !errors.Is(err, errDisk) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadHeader with a failing reader: %v", err)
	}
}

func TestReadHeaderStopsAtSegments(t *testing.T) {
	h := Header{KeyARN: testARN, WrappedKey: []byte("wrapped")}
	key := randBytes(DataKeySize, 6)
	ct := encrypt(t, []byte("hello"), h, key, SegmentSize)
	r := bytes.NewReader(ct)
	if _, err := ReadHeader(r); err != nil {
		t.Fatal(err)
	}
	if rest := r.Len(); rest != len(ct)-h.Len() {
		t.Fatalf("ReadHeader left %d bytes, want %d", rest, len(ct)-h.Len())
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type errWriter struct {
	n   int // bytes accepted before failing
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if len(p) > e.n {
		return 0, e.err
	}
	e.n -= len(p)
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	key := randBytes(DataKeySize, 8)
	if _, err := NewWriter(io.Discard, Header{}, key[:31]); err == nil {
		t.Fatal("31-byte data key accepted")
	}
	if _, err := NewWriter(io.Discard, Header{KeyARN: strings.Repeat("a", MaxKeyARNLen+1)}, key); err == nil {
		t.Fatal("over-long ARN accepted")
	}
	if _, err := NewWriter(io.Discard, Header{WrappedKey: make([]byte, MaxWrappedKeyLen+1)}, key); err == nil {
		t.Fatal("over-long wrapped key accepted")
	}
	if _, err := NewWriter(io.Discard, Header{KeyARN: strings.Repeat("a", MaxKeyARNLen), WrappedKey: make([]byte, MaxWrappedKeyLen)}, key); err != nil {
		t.Fatalf("longest header refused: %v", err)
	}

	w, _ := NewWriter(io.Discard, Header{}, key)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if _, err := w.ReadFrom(strings.NewReader("x")); err == nil {
		t.Fatal("ReadFrom after Close succeeded")
	}

	// A failing destination stops the writer for good.
	errFull := errors.New("disk full")
	ew := &errWriter{n: Header{}.Len() + SegmentSize + tagSize, err: errFull}
	w, err := NewWriter(ew, Header{}, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 3*SegmentSize)); !errors.Is(err, errFull) {
		t.Fatalf("Write to a full disk: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, errFull) {
		t.Fatalf("Write after failure: %v", err)
	}
	if err := w.Close(); !errors.Is(err, errFull) {
		t.Fatalf("Close after failure: %v", err)
	}
	if _, err := NewWriter(&errWriter{err: errFull}, Header{}, key); !errors.Is(err, errFull) {
		t.Fatalf("NewWriter to a full disk: %v", err)
	}

	// A source error is returned, and leaves the writer usable.
	var buf bytes.Buffer
	w, _ = NewWriter(&buf, Header{}, key)
	errNet := errors.New("connection reset")
	if n, err := w.ReadFrom(io.MultiReader(strings.NewReader("abc"), errReader{errNet})); n != 3 || !errors.Is(err, errNet) {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	w.Write([]byte("def"))
	w.Close()
	r, err := open(buf.Bytes(), fixedKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); string(b) != "abcdef" {
		t.Fatalf("got %q", b)
	}
}

func TestWriterDoesNotAllocate(t *testing.T) {
	key := randBytes(DataKeySize, 9)
	for _, n := range []int{1, 1000, 32 << 10, SegmentSize, 3*SegmentSize + 1} {
		w, err := NewWriter(io.Discard, Header{KeyARN: testARN}, key)
		if err != nil {
			t.Fatal(err)
		}
		p := make([]byte, n)
		if a := testing.AllocsPerRun(100, func() { w.Write(p) }); a != 0 {
			t.Errorf("Write of %d bytes: %v allocations", n, a)
		}
		src := &chunkReader{}
		if a := testing.AllocsPerRun(100, func() {
			src.data = p
			w.ReadFrom(src)
		}); a != 0 {
			t.Errorf("ReadFrom of %d bytes: %v allocations", n, a)
		}
	}
}

func TestNoPlaintextInCiphertext(t *testing.T) {
	const marker = "ECRD-PLAINTEXT-MARKER/layer.tar:"
	plain := []byte(strings.Repeat(marker, (3<<20)/len(marker)))
	key := randBytes(DataKeySize, 10)
	h := Header{KeyARN: testARN, WrappedKey: []byte("w")}
	ct := encrypt(t, plain, h, key, SegmentSize)
	body := ct[h.Len():]
	// No 6-byte run of the text, at any alignment, survives. One turns up
	// by chance in 3 MiB of random bytes with probability ~1e-8, so a
	// match means some stretch was left unencrypted.
	for i := 0; i+6 <= len(marker); i++ {
		if j := bytes.Index(body, []byte(marker[i:i+6])); j >= 0 {
			t.Fatalf("ciphertext holds plaintext %q at %d", marker[i:i+6], h.Len()+j)
		}
	}
	// The same plaintext under the same key encrypts differently (salt),
	// so equal blobs are not recognisable as equal at rest.
	ct2 := encrypt(t, plain, h, key, SegmentSize)
	if bytes.Equal(ct[h.Len():h.Len()+100], ct2[h.Len():h.Len()+100]) {
		t.Fatal("two encryptions of the same blob begin alike")
	}
}

func TestLayout(t *testing.T) {
	// Every plaintext size maps to one ciphertext size and back; every
	// other ciphertext size is rejected.
	const hdr, seg = 40, 16
	valid := map[int64]int64{}
	for p := int64(0); p < 10*seg; p++ {
		c := ciphertextSize(hdr, seg, p)
		if _, dup := valid[c]; dup {
			t.Fatalf("two plaintext sizes encrypt to %d bytes", c)
		}
		valid[c] = p
	}
	for c := int64(0); c < ciphertextSize(hdr, seg, 10*seg); c++ {
		p, _, err := layout(hdr, seg, c)
		if want, ok := valid[c]; ok {
			if err != nil || p != want {
				t.Fatalf("layout(%d) = %d, %v; want %d", c, p, err, want)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("layout(%d) = %d, %v; want ErrCorrupt", c, p, err)
		}
	}
	if p, err := PlaintextSize(100, CiphertextSize(100, 10<<30)); err != nil || p != 10<<30 {
		t.Fatalf("10 GiB: %d, %v", p, err)
	}
	if _, err := PlaintextSize(100, 1<<62); err != nil {
		t.Fatalf("huge size: %v", err)
	}
}

// pattern is the only plaintext the fuzzers' key ever encrypts, so any
// other byte a Reader returns for a fuzzed object is a forgery.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131) ^ byte(i>>7)
	}
	return b
}

var fuzzKey = bytes.Repeat([]byte{0x5a}, DataKeySize)

func FuzzReader(f *testing.F) {
	h := Header{KeyARN: "arn:k", WrappedKey: []byte{1, 2, 3}}
	for _, n := range []int{0, 1, 15, 16, 17, 33, 100} {
		for _, seg := range []int{16, 64} {
			f.Add(encrypt(f, pattern(n), h, fuzzKey, seg))
		}
	}
	f.Add(encrypt(f, pattern(100), Header{}, fuzzKey, SegmentSize))
	f.Add([]byte("ECRDENC1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ct []byte) {
		ReadHeader(bytes.NewReader(ct))
		r, err := open(ct, fixedKey(fuzzKey))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("NewReader error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		if r.Size() < 0 || r.Size() > int64(len(ct)) {
			t.Fatalf("Size %d for a %d-byte object", r.Size(), len(ct))
		}
		want := pattern(int(r.Size()))
		check := func(how string, got []byte, off int64, err error) {
			if !bytes.Equal(got, want[off:off+int64(len(got))]) {
				t.Fatalf("%s at %d returned plaintext that was never encrypted", how, off)
			}
			if err != nil && err != io.EOF && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s at %d: error does not wrap ErrCorrupt: %v", how, off, err)
			}
		}
		var off int64
		p := make([]byte, 7)
		for {
			n, err := r.Read(p)
			check("Read", p[:n], off, err)
			off += int64(n)
			if err == io.EOF && off != r.Size() {
				t.Fatalf("Read stopped at %d of %d without an error", off, r.Size())
			}
			if err != nil {
				break
			}
		}
		for _, o := range []int64{0, r.Size() / 2, r.Size() - 1} {
			if o < 0 {
				continue
			}
			n, err := r.ReadAt(p, o)
			check("ReadAt", p[:n], o, err)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(""), []byte{}, uint8(0), false)
	f.Add([]byte("hello, world"), []byte{1, 2, 3}, uint8(0), true)
	f.Add(pattern(100), []byte{16, 0, 17}, uint8(1), false)
	f.Add(pattern(1000), []byte{255, 3}, uint8(48), true)
	segSizes := []int{16, 17, 32, 100, 1000, SegmentSize}
	f.Fuzz(func(t *testing.T, plain, chunking []byte, segSel uint8, readFrom bool) {
		segSize := segSizes[int(segSel)%len(segSizes)]
		// Chunk sizes for writing and for reading back; all zeros would
		// never progress.
		chunks := []int{len(plain) + 1}
		if slices.ContainsFunc(chunking, func(c byte) bool { return c != 0 }) {
			chunks = chunks[:0]
			for _, c := range chunking {
				chunks = append(chunks, int(c))
			}
		}
		var buf bytes.Buffer
		w, err := newWriter(&buf, Header{KeyARN: "k"}, fuzzKey, segSize)
		if err != nil {
			t.Fatal(err)
		}
		if readFrom {
			_, err = w.ReadFrom(&chunkReader{data: plain, chunks: chunks})
		} else {
			err = writeChunked(w, plain, chunks)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		ct := buf.Bytes()
		hl := Header{KeyARN: "k"}.Len()
		if want := ciphertextSize(int64(hl), int64(segSize), int64(len(plain))); int64(len(ct)) != want {
			t.Fatalf("ciphertext has %d bytes, want %d", len(ct), want)
		}
		r, err := open(ct, fixedKey(fuzzKey))
		if err != nil {
			t.Fatal(err)
		}
		if r.Size() != int64(len(plain)) {
			t.Fatalf("Size = %d, want %d", r.Size(), len(plain))
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("ReadAll = %d bytes, %v; equal: %v", len(got), err, bytes.Equal(got, plain))
		}
		for _, c := range chunks {
			off := int64(c) * int64(len(plain)) / 256
			p := make([]byte, c)
			n, err := r.ReadAt(p, off)
			if off >= int64(len(plain)) {
				off = int64(len(plain))
			}
			if !bytes.Equal(p[:n], plain[off:off+int64(n)]) || (n < c && err != io.EOF) || (n == c && c > 0 && err != nil) {
				t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", c, off, n, err)
			}
		}
	})
}

const benchSize = 64 << 20

// readOnly hides a Reader's WriterTo so that io.Copy reads through
// Read, as http.ServeContent does.
type readOnly struct{ io.Reader }

func BenchmarkWriter(b *testing.B) {
	plain := randBytes(benchSize, 11)
	key := randBytes(DataKeySize, 12)
	h := Header{KeyARN: testARN, WrappedKey: make([]byte, 184)}
	b.Run("Write64MiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			w, _ := NewWriter(io.Discard, h, key)
			w.Write(plain)
			w.Close()
		}
	})
	b.Run("Copy32KiB", func(b *testing.B) { // io.Copy of a request body: ReadFrom
		b.SetBytes(benchSize)
		for b.Loop() {
			w, _ := NewWriter(io.Discard, h, key)
			io.Copy(w, &chunkReader{data: plain, chunks: []int{32 << 10}})
			w.Close()
		}
	})
	b.Run("Write32KiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			w, _ := NewWriter(io.Discard, h, key)
			writeChunked(w, plain, []int{32 << 10})
			w.Close()
		}
	})
}

func BenchmarkReader(b *testing.B) {
	plain := randBytes(benchSize, 11)
	key := randBytes(DataKeySize, 12)
	ct := encrypt(b, plain, Header{KeyARN: testARN, WrappedKey: make([]byte, 184)}, key, SegmentSize)
	b.Run("WriteTo", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			r, err := open(ct, fixedKey(key))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, r)
		}
	})
	b.Run("Read32KiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		buf := make([]byte, 32<<10)
		for b.Loop() {
			r, err := open(ct, fixedKey(key))
			if err != nil {
				b.Fatal(err)
			}
			io.CopyBuffer(io.Discard, readOnly{r}, buf)
		}
	})
	b.Run("ReadAt1MiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		buf := make([]byte, 1<<20)
		for b.Loop() {
			r, err := open(ct, fixedKey(key))
			if err != nil {
				b.Fatal(err)
			}
			for off := int64(0); off < benchSize; off += int64(len(buf)) {
				r.ReadAt(buf, off)
			}
		}
	})
}

// BenchmarkAESGCMRaw is the ceiling: AES-256-GCM alone sealing and
// opening 64 MiB in 64 KiB segments, from a 64 MiB buffer into a reused
// segment buffer, as the Writer and Reader do, with no format around it.
func BenchmarkAESGCMRaw(b *testing.B) {
	block, _ := aes.NewCipher(randBytes(32, 13))
	aead, _ := cipher.NewGCM(block)
	plain := randBytes(benchSize, 11)
	dst := make([]byte, SegmentSize+tagSize)
	nonce := make([]byte, 12)
	b.Run("Seal", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			for i := 0; i < benchSize; i += SegmentSize {
				aead.Seal(dst[:0], nonce, plain[i:i+SegmentSize], nil)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		const full = SegmentSize + tagSize
		sealed := make([]byte, 0, benchSize/SegmentSize*full)
		for i := 0; i < benchSize; i += SegmentSize {
			sealed = aead.Seal(sealed, nonce, plain[i:i+SegmentSize], nil)
		}
		b.SetBytes(benchSize)
		for b.Loop() {
			for i := 0; i < len(sealed); i += full {
				if _, err := aead.Open(dst[:0], nonce, sealed[i:i+full], nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
