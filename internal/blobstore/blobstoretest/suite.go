// Package blobstoretest is the conformance suite every blobstore.Store
// backend must pass. A backend's test calls Run with a constructor that
// returns a fresh, empty store.
package blobstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
)

// Run runs every test of the suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) blobstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blobstore.Store)
	}{
		{"MissingBlob", testMissingBlob},
		{"UploadCommitRead", testUploadCommitRead},
		{"EmptyBlob", testEmptyBlob},
		{"AppendInChunks", testAppendInChunks},
		{"AppendAtWrongOffset", testAppendAtWrongOffset},
		{"InterruptedAppendIsDiscarded", testInterruptedAppend},
		{"CommitExistingBlob", testCommitExisting},
		{"CommitTruncatesToSize", testCommitTruncates},
		{"OpenUploadForRehash", testOpenUpload},
		{"DeleteUploadAndList", testDeleteUploadAndList},
		{"DeleteBlob", testDeleteBlob},
		{"HostileUploadIDs", testHostileUploadIDs},
		{"ConcurrentUploadsOfOneDigest", testConcurrentSameDigest},
		{"Ready", testReady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// put stores content as a blob through one upload and returns its digest.
func put(t *testing.T, s blobstore.Store, id string, content []byte) digest.Digest {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateUpload(ctx, id); err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	n, err := s.AppendUpload(ctx, id, 0, bytes.NewReader(content))
	if err != nil || n != int64(len(content)) {
		t.Fatalf("AppendUpload = %d, %v; want %d, nil", n, err, len(content))
	}
	d := digest.FromBytes(content)
	if err := s.CommitUpload(ctx, id, n, d); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	return d
}

func readBlob(t *testing.T, s blobstore.Store, d digest.Digest) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatalf("Open(%s): %v", d, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", d, err)
	}
	return b
}

func testMissingBlob(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	d := digest.FromString("never stored")
	if _, err := s.Stat(ctx, d); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Stat of a missing blob = %v, want ErrNotFound", err)
	}
	if _, err := s.Open(ctx, d); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Open of a missing blob = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, d); err != nil {
		t.Errorf("Delete of a missing blob = %v, want nil", err)
	}
	if _, err := s.UploadSize(ctx, "nope"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("UploadSize of a missing upload = %v, want ErrNotFound", err)
	}
	if _, err := s.AppendUpload(ctx, "nope", 0, strings.NewReader("x")); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("AppendUpload to a missing upload = %v, want ErrNotFound", err)
	}
}

func testUploadCommitRead(t *testing.T, s blobstore.Store) {
	content := randomBytes(t, 3<<20+17)
	d := put(t, s, "u1", content)
	size, err := s.Stat(context.Background(), d)
	if err != nil || size != int64(len(content)) {
		t.Fatalf("Stat = %d, %v; want %d", size, err, len(content))
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, content) {
		t.Fatal("blob read back differs from what was written")
	}
	r, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 100)
	if _, err := io.ReadFull(r, part); err != nil || !bytes.Equal(part, content[1000:1100]) {
		t.Fatalf("reading after Seek: %v, bytes equal = %v", err, bytes.Equal(part, content[1000:1100]))
	}
	if _, err := s.UploadSize(context.Background(), "u1"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("upload still exists after commit: %v", err)
	}
}

func testEmptyBlob(t *testing.T, s blobstore.Store) {
	d := put(t, s, "empty", nil)
	if d != digest.FromBytes(nil) {
		t.Fatal("unexpected digest")
	}
	if got := readBlob(t, s, d); len(got) != 0 {
		t.Fatalf("empty blob read back %d bytes", len(got))
	}
}

func testAppendInChunks(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	content := randomBytes(t, 10000)
	if err := s.CreateUpload(ctx, "chunks"); err != nil {
		t.Fatal(err)
	}
	var off int64
	for _, end := range []int64{1, 4096, 4097, 9999, 10000} {
		n, err := s.AppendUpload(ctx, "chunks", off, bytes.NewReader(content[off:end]))
		if err != nil || n != end {
			t.Fatalf("AppendUpload at %d = %d, %v; want %d", off, n, err, end)
		}
		if size, err := s.UploadSize(ctx, "chunks"); err != nil || size != end {
			t.Fatalf("UploadSize = %d, %v; want %d", size, err, end)
		}
		off = end
	}
	d := digest.FromBytes(content)
	if err := s.CommitUpload(ctx, "chunks", off, d); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, content) {
		t.Fatal("chunked blob differs")
	}
}

func testAppendAtWrongOffset(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	if err := s.CreateUpload(ctx, "off"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "off", 0, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "off", 10, strings.NewReader("x")); !errors.Is(err, blobstore.ErrOffset) {
		t.Fatalf("append past the end = %v, want ErrOffset", err)
	}
	if size, _ := s.UploadSize(ctx, "off"); size != 5 {
		t.Fatalf("size after a refused append = %d, want 5", size)
	}
}

type failingReader struct {
	data []byte
	done bool
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, errors.New("connection reset")
	}
	r.done = true
	return copy(p, r.data), nil
}

func testInterruptedAppend(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	if err := s.CreateUpload(ctx, "cut"); err != nil {
		t.Fatal(err)
	}
	n, err := s.AppendUpload(ctx, "cut", 0, &failingReader{data: []byte("partial")})
	if err == nil {
		t.Fatal("append from a failing reader succeeded")
	}
	if n != 7 {
		t.Fatalf("append reported size %d after writing 7 bytes", n)
	}
	// The caller did not acknowledge those bytes and resumes from 3.
	if n, err := s.AppendUpload(ctx, "cut", 3, strings.NewReader("XYZ")); err != nil || n != 6 {
		t.Fatalf("resume = %d, %v", n, err)
	}
	r, err := s.OpenUpload(ctx, "cut", 6)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, _ := io.ReadAll(r); string(b) != "parXYZ" {
		t.Fatalf("upload holds %q, want %q", b, "parXYZ")
	}
}

func testCommitExisting(t *testing.T, s blobstore.Store) {
	content := []byte("same bytes twice")
	d := put(t, s, "a", content)
	d2 := put(t, s, "b", content)
	if d != d2 {
		t.Fatal("digests differ")
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, content) {
		t.Fatal("content changed")
	}
	ups, err := s.Uploads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 0 {
		t.Fatalf("uploads left after commits: %v", ups)
	}
}

func testCommitTruncates(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	if err := s.CreateUpload(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "t", 0, strings.NewReader("keep+garbage")); err != nil {
		t.Fatal(err)
	}
	d := digest.FromString("keep")
	if err := s.CommitUpload(ctx, "t", 4, d); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, s, d); string(got) != "keep" {
		t.Fatalf("committed blob = %q, want %q", got, "keep")
	}
	// Committing more bytes than the upload holds must fail, never pad.
	if err := s.CreateUpload(ctx, "short"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "short", 0, strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	long := digest.FromString("abc\x00\x00")
	if err := s.CommitUpload(ctx, "short", 5, long); !errors.Is(err, blobstore.ErrOffset) {
		t.Fatalf("committing 5 bytes of a 3-byte upload = %v, want ErrOffset", err)
	}
	if _, err := s.Stat(ctx, long); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("a short upload became a blob: %v", err)
	}
}

func testOpenUpload(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	if err := s.CreateUpload(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "r", 0, strings.NewReader("0123456789")); err != nil {
		t.Fatal(err)
	}
	r, err := s.OpenUpload(ctx, "r", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, _ := io.ReadAll(r); string(b) != "0123" {
		t.Fatalf("OpenUpload(4) read %q", b)
	}
}

func testDeleteUploadAndList(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	for _, id := range []string{"x1", "x2"} {
		if err := s.CreateUpload(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AppendUpload(ctx, "x2", 0, strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	ups, err := s.Uploads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, u := range ups {
		if u.Modified.IsZero() {
			t.Errorf("upload %s has no modification time", u.ID)
		}
		got[u.ID] = u.Size
	}
	if len(got) != 2 || got["x2"] != 3 {
		t.Fatalf("Uploads = %v, want x1 (0 bytes) and x2 (3 bytes)", got)
	}
	if err := s.DeleteUpload(ctx, "x1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUpload(ctx, "x1"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if ups, _ := s.Uploads(ctx); len(ups) != 1 || ups[0].ID != "x2" {
		t.Fatalf("Uploads after delete = %v", ups)
	}
}

func testDeleteBlob(t *testing.T, s blobstore.Store) {
	d := put(t, s, "del", []byte("to be deleted"))
	if err := s.Delete(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(context.Background(), d); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat after Delete = %v", err)
	}
}

func testHostileUploadIDs(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	for _, id := range []string{"../escape", "a/b", "..", "", `a\b`} {
		if err := s.CreateUpload(ctx, id); err == nil {
			t.Errorf("CreateUpload(%q) succeeded", id)
		}
		if _, err := s.UploadSize(ctx, id); err == nil {
			t.Errorf("UploadSize(%q) succeeded", id)
		}
	}
}

func testConcurrentSameDigest(t *testing.T, s blobstore.Store) {
	content := randomBytes(t, 256<<10)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			id := "same" + string(rune('a'+i))
			if err := s.CreateUpload(ctx, id); err != nil {
				errs <- err
				return
			}
			n, err := s.AppendUpload(ctx, id, 0, bytes.NewReader(content))
			if err != nil {
				errs <- err
				return
			}
			errs <- s.CommitUpload(ctx, id, n, digest.FromBytes(content))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := readBlob(t, s, digest.FromBytes(content)); !bytes.Equal(got, content) {
		t.Fatal("blob differs after concurrent commits")
	}
}

func testReady(t *testing.T, s blobstore.Store) {
	if err := s.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}
