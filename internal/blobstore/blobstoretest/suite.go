// Package blobstoretest is the conformance suite every blobstore.Store
// backend must pass. A backend's test calls Run with a constructor that
// returns a fresh, empty store.
package blobstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "crypto/sha512" // registers sha512 with go-digest
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

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
		{"ResumeAtWrongOffset", testResumeAtWrongOffset},
		{"UnacknowledgedBytesAreDiscarded", testInterruptedWrite},
		{"CommitExistingBlob", testCommitExisting},
		{"CommitResumedUpload", testCommitResumed},
		{"CommitDeletedUpload", testCommitDeleted},
		{"ReadUploadForRehash", testReadUpload},
		{"DeleteUploadAndList", testDeleteUploadAndList},
		{"DeleteBlob", testDeleteBlob},
		{"Walk", testWalk},
		{"HostileUploadIDs", testHostileUploadIDs},
		{"ConcurrentUploadsOfOneDigest", testConcurrentSameDigest},
		{"Ready", testReady},
		{"Namespaces", testNamespaces},
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
	w, err := s.CreateUpload(context.Background(), id)
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	if n, err := w.Write(content); err != nil || n != len(content) || w.Size() != int64(len(content)) {
		t.Fatalf("Write = %d, %v, Size %d; want %d", n, err, w.Size(), len(content))
	}
	d := digest.FromBytes(content)
	if err := w.Commit(context.Background(), d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return d
}

// appendTo writes data to an upload that holds offset bytes, keeping it.
func appendTo(t *testing.T, s blobstore.Store, id string, offset int64, data string) {
	t.Helper()
	w, err := s.ResumeUpload(context.Background(), id, offset)
	if err != nil {
		t.Fatalf("ResumeUpload(%s, %d): %v", id, offset, err)
	}
	if _, err := io.WriteString(w, data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// uploadSize returns an upload's size from the listing, or -1.
func uploadSize(t *testing.T, s blobstore.Store, id string) int64 {
	t.Helper()
	ups, err := s.Uploads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ups {
		if u.ID == id {
			return u.Size
		}
	}
	return -1
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

func create(t *testing.T, s blobstore.Store, id string) {
	t.Helper()
	w, err := s.CreateUpload(context.Background(), id)
	if err != nil {
		t.Fatalf("CreateUpload(%s): %v", id, err)
	}
	w.Close()
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
	if _, err := s.ResumeUpload(ctx, "nope", 0); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("ResumeUpload of a missing upload = %v, want ErrNotFound", err)
	}
	if _, err := s.ReadUpload(ctx, "nope", 0, 0); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("ReadUpload of a missing upload = %v, want ErrNotFound", err)
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
	if n := uploadSize(t, s, "u1"); n != -1 {
		t.Errorf("upload still exists after commit (%d bytes)", n)
	}
}

// testCommitDeleted: an upload deleted while a writer holds it (its
// repository was deleted) cannot be committed: ErrNotFound, and no blob.
func testCommitDeleted(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	content := randomBytes(t, 4096)
	w, err := s.CreateUpload(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUpload(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(content)
	if err := w.Commit(ctx, d); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Commit of a deleted upload = %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(ctx, d); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Stat after the failed commit = %v, want ErrNotFound", err)
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
	create(t, s, "chunks")
	var off int64
	for _, end := range []int64{1, 4096, 4097, 9999} {
		appendTo(t, s, "chunks", off, string(content[off:end]))
		if size := uploadSize(t, s, "chunks"); size != end {
			t.Fatalf("upload size = %d, want %d", size, end)
		}
		off = end
	}
	w, err := s.ResumeUpload(ctx, "chunks", off)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content[off:])
	d := digest.FromBytes(content)
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, content) {
		t.Fatal("chunked blob differs")
	}
}

func testResumeAtWrongOffset(t *testing.T, s blobstore.Store) {
	create(t, s, "off")
	appendTo(t, s, "off", 0, "hello")
	if _, err := s.ResumeUpload(context.Background(), "off", 10); !errors.Is(err, blobstore.ErrOffset) {
		t.Fatalf("resuming past the end = %v, want ErrOffset", err)
	}
	if size := uploadSize(t, s, "off"); size != 5 {
		t.Fatalf("size after a refused resume = %d, want 5", size)
	}
}

func testInterruptedWrite(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	create(t, s, "cut")
	// Seven bytes were written but only three acknowledged: resume at 3.
	appendTo(t, s, "cut", 0, "partial")
	appendTo(t, s, "cut", 3, "XYZ")
	r, err := s.ReadUpload(ctx, "cut", 0, 6)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, _ := io.ReadAll(r); string(b) != "parXYZ" {
		t.Fatalf("upload holds %q, want %q", b, "parXYZ")
	}
	if size := uploadSize(t, s, "cut"); size != 6 {
		t.Fatalf("upload size = %d, want 6", size)
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

func testCommitResumed(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	create(t, s, "t")
	appendTo(t, s, "t", 0, "keep+garbage")
	// Commit what was acknowledged: the first four bytes.
	w, err := s.ResumeUpload(ctx, "t", 4)
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromString("keep")
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, s, d); string(got) != "keep" {
		t.Fatalf("committed blob = %q, want %q", got, "keep")
	}
}

func testReadUpload(t *testing.T, s blobstore.Store) {
	create(t, s, "r")
	appendTo(t, s, "r", 0, "0123456789")
	for _, c := range []struct {
		offset, size int64
		want         string
	}{{0, 4, "0123"}, {4, 10, "456789"}, {9, 10, "9"}, {3, 3, ""}} {
		r, err := s.ReadUpload(context.Background(), "r", c.offset, c.size)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(r); string(b) != c.want {
			t.Errorf("ReadUpload(%d, %d) read %q, want %q", c.offset, c.size, b, c.want)
		}
		r.Close()
	}
	// What an open writer has written reads back before it closes.
	w, err := s.ResumeUpload(context.Background(), "r", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	r, err := s.ReadUpload(context.Background(), "r", 8, 13)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, _ := io.ReadAll(r); string(b) != "89abc" {
		t.Errorf("ReadUpload beside an open writer read %q, want %q", b, "89abc")
	}
}

func testDeleteUploadAndList(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	create(t, s, "x1")
	create(t, s, "x2")
	appendTo(t, s, "x2", 0, "abc")
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
	if _, err := s.CreateUpload(ctx, "x2"); err == nil {
		t.Fatal("creating an upload that exists succeeded")
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

func testWalk(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	walk := func() map[digest.Digest]blobstore.BlobInfo {
		t.Helper()
		got := map[digest.Digest]blobstore.BlobInfo{}
		err := s.Walk(ctx, func(b blobstore.BlobInfo) error {
			if _, dup := got[b.Digest]; dup {
				t.Errorf("Walk reported %s twice", b.Digest)
			}
			got[b.Digest] = b
			return nil
		})
		if err != nil {
			t.Fatalf("Walk: %v", err)
		}
		return got
	}
	if got := walk(); len(got) != 0 {
		t.Fatalf("Walk of an empty store reported %v", got)
	}
	before := time.Now().Add(-time.Minute)
	want := map[digest.Digest]int64{}
	for i, content := range [][]byte{[]byte("one"), randomBytes(t, 70_000), {}} {
		want[put(t, s, fmt.Sprintf("walk%d", i), content)] = int64(len(content))
	}
	content512 := []byte("a sha512 blob")
	d512 := digest.SHA512.FromBytes(content512)
	w, err := s.CreateUpload(ctx, "walk512")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content512); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, d512); err != nil {
		t.Fatal(err)
	}
	want[d512] = int64(len(content512))
	create(t, s, "unfinished") // uploads are not blobs
	got := walk()
	if len(got) != len(want) {
		t.Fatalf("Walk reported %d blobs, want %d: %v", len(got), len(want), got)
	}
	for d, size := range want {
		b, ok := got[d]
		if !ok || b.Size != size {
			t.Errorf("Walk reported %s as %+v (found %v), want size %d", d, b, ok, size)
		}
		if b.Modified.Before(before) || b.Modified.After(time.Now().Add(time.Minute)) {
			t.Errorf("blob %s modified at %v, want about now", d, b.Modified)
		}
	}

	// fn may delete what it is given; its error ends the walk.
	stop := errors.New("stop")
	seen := 0
	err = s.Walk(ctx, func(b blobstore.BlobInfo) error {
		if err := s.Delete(ctx, b.Digest); err != nil {
			return err
		}
		if seen++; seen == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != 2 {
		t.Fatalf("Walk returned %v after %d blobs, want the callback's error after 2", err, seen)
	}
	if got := walk(); len(got) != len(want)-2 {
		t.Fatalf("after deleting 2 of %d blobs, Walk reports %d", len(want), len(got))
	}
}

func testHostileUploadIDs(t *testing.T, s blobstore.Store) {
	ctx := context.Background()
	for _, id := range []string{"../escape", "a/b", "..", "", `a\b`} {
		if _, err := s.CreateUpload(ctx, id); err == nil {
			t.Errorf("CreateUpload(%q) succeeded", id)
		}
		if _, err := s.ResumeUpload(ctx, id, 0); err == nil {
			t.Errorf("ResumeUpload(%q) succeeded", id)
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
			w, err := s.CreateUpload(ctx, fmt.Sprintf("same%d", i))
			if err != nil {
				errs <- err
				return
			}
			if _, err := w.Write(content); err != nil {
				errs <- err
				return
			}
			errs <- w.Commit(ctx, digest.FromBytes(content))
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

// testNamespaces checks, for a store that has them, that namespaces are
// stores of their own: a blob or upload in one is in no other, nor in the
// parent, and one digest can have different bytes in each.
func testNamespaces(t *testing.T, s blobstore.Store) {
	ns, ok := s.(blobstore.Namespaced)
	if !ok {
		t.Skip("the store has no namespaces")
	}
	ctx := context.Background()
	if names, err := ns.Namespaces(ctx); err != nil || len(names) != 0 {
		t.Fatalf("Namespaces of a new store = %v, %v; want none", names, err)
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", "-x", "a b", string(make([]byte, 129))} {
		if _, err := ns.Namespace(ctx, bad); err == nil {
			t.Errorf("Namespace(%q) succeeded", bad)
		}
	}
	a, err := ns.Namespace(ctx, "kms-a")
	if err != nil {
		t.Fatalf("Namespace: %v", err)
	}
	b, err := ns.Namespace(ctx, "kms-b.2_x")
	if err != nil {
		t.Fatalf("Namespace: %v", err)
	}
	again, err := ns.Namespace(ctx, "kms-a")
	if err != nil {
		t.Fatal(err)
	}

	// One digest, other bytes in each (as encryption under two keys makes).
	d := digest.FromBytes([]byte("plaintext"))
	for i, st := range []blobstore.Store{s, a, b} {
		w, err := st.CreateUpload(ctx, "same-id")
		if err != nil {
			t.Fatalf("store %d: CreateUpload: %v", i, err)
		}
		if _, err := fmt.Fprintf(w, "bytes of store %d", i); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx, d); err != nil {
			t.Fatalf("store %d: Commit: %v", i, err)
		}
	}
	for i, st := range []blobstore.Store{s, a, b} {
		if got, want := string(readBlob(t, st, d)), fmt.Sprintf("bytes of store %d", i); got != want {
			t.Errorf("store %d holds %q, want %q", i, got, want)
		}
	}
	if got := string(readBlob(t, again, d)); got != "bytes of store 1" {
		t.Errorf("the namespace opened again holds %q", got)
	}
	only := put(t, a, "only-a", []byte("only in a"))
	for i, st := range []blobstore.Store{s, b} {
		if _, err := st.Stat(ctx, only); !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("store %d: Stat of a blob of another namespace = %v, want ErrNotFound", i, err)
		}
		n := 0
		if err := st.Walk(ctx, func(blobstore.BlobInfo) error { n++; return nil }); err != nil || n != 1 {
			t.Errorf("store %d: Walk saw %d blobs (%v), want its own 1", i, n, err)
		}
	}
	create(t, a, "pending")
	if uploadSize(t, s, "pending") != -1 || uploadSize(t, b, "pending") != -1 || uploadSize(t, a, "pending") != 0 {
		t.Error("an upload of a namespace is listed outside it, or not in it")
	}
	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got := string(readBlob(t, a, d)); got != "bytes of store 1" {
		t.Errorf("deleting from the parent changed the namespace: %q", got)
	}
	names, err := ns.Namespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"kms-a", "kms-b.2_x"}) {
		t.Errorf("Namespaces = %v", names)
	}
}
