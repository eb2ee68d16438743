package filesystem

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestDirectWrites writes uploads in pieces of odd sizes, across the
// direct-I/O buffer's boundaries, closed and resumed at aligned and
// unaligned ends, and checks that the bytes went around the page cache
// where they could, that the file always ends up holding exactly what was
// written, and that Size says so.
func TestDirectWrites(t *testing.T) {
	ctx := context.Background()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	check := func(id string, want []byte) {
		t.Helper()
		r, err := s.ReadUpload(ctx, id, 0, int64(len(want)))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("upload %s holds %d bytes (%v), want the %d written", id, len(got), err, len(want))
		}
		if fi, err := os.Stat(s.uploads + "/" + id); err != nil || fi.Size() != int64(len(want)) {
			t.Fatalf("upload %s is %v bytes long (%v), want %d", id, fi.Size(), err, len(want))
		}
	}

	w, err := s.CreateUpload(ctx, "odd")
	if err != nil {
		t.Fatal(err)
	}
	uw := w.(*uploadWriter)
	if !uw.direct {
		t.Skip("the test's temporary folder is on a filesystem without direct I/O")
	}
	var want []byte
	for _, n := range []int{1, 4095, 1<<20 + 3, 70_000, 3 << 20} {
		p := random(n)
		want = append(want, p...)
		if m, err := w.Write(p); err != nil || m != n {
			t.Fatalf("Write of %d bytes: %d, %v", n, m, err)
		}
		if w.Size() != int64(len(want)) {
			t.Fatalf("Size %d after writing %d bytes", w.Size(), len(want))
		}
	}
	if !isDirect(uw.f) {
		t.Fatal("the upload file is not open for direct I/O")
	}
	if fi, _ := uw.f.Stat(); fi.Size() == 0 || fi.Size()%directAlign != 0 {
		t.Fatalf("before Close the file holds %d bytes: want whole aligned buffers, written directly", fi.Size())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	check("odd", want)

	// Its end is unaligned now: resumed, it goes through the page cache.
	w, err = s.ResumeUpload(ctx, "odd", int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	if w.(*uploadWriter).direct {
		t.Fatal("an upload resumed at an unaligned end writes directly")
	}
	p := random(2<<20 + 17)
	want = append(want, p...)
	w.Write(p)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	check("odd", want)

	// An upload of whole pages resumes with direct I/O, and commits.
	w, err = s.CreateUpload(ctx, "pages")
	if err != nil {
		t.Fatal(err)
	}
	want = random(2 << 20)
	w.Write(want)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	check("pages", want)
	w, err = s.ResumeUpload(ctx, "pages", int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	if !w.(*uploadWriter).direct {
		t.Fatal("an upload resumed at an aligned end does not write directly")
	}
	p = random(10)
	want = append(want, p...)
	w.Write(p)
	d := digest.FromBytes(want)
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := io.ReadAll(r); !bytes.Equal(got, want) {
		t.Fatalf("the blob holds %d bytes, not the %d written", len(got), len(want))
	}
}
