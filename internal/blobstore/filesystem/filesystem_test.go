package filesystem_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/blobstore/blobstoretest"
	"github.com/ecrd/ecrd/internal/blobstore/filesystem"
)

func TestConformance(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) blobstore.Store {
		s, err := filesystem.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestWalkSkipsStrayFiles checks that Walk reports only files named and
// placed as blobs: garbage collection deletes what Walk reports by digest.
func TestWalkSkipsStrayFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := filesystem.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	content := []byte("a blob")
	w, err := s.CreateUpload(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	d := digest.FromBytes(content)
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	hex := d.Encoded()
	for _, p := range []string{
		filepath.Join("blobs", "sha256", hex[:2], "notes.txt"),      // not a digest
		filepath.Join("blobs", "sha256", "ff", hex),                 // wrong fan-out
		filepath.Join("blobs", "md5", "ab", "ab"+hex[2:32]),         // unknown algorithm
		filepath.Join("blobs", "sha256", hex[:2], hex[:63]+"g"),     // not hex
		filepath.Join("blobs", "sha256", hex[:2], ".tmp-"+hex[:10]), // hidden
	} {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("stray"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	var got []digest.Digest
	if err := s.Walk(ctx, func(b blobstore.BlobInfo) error { got = append(got, b.Digest); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != d {
		t.Fatalf("Walk reported %v, want only %s", got, d)
	}
}

// TestCommitOfExistingBlobKeepsItsTime documents what garbage collection
// relies on not to need: committing a blob that exists does not touch the
// file, so its modification time says when its bytes were first written,
// not when a push last used them (the metadata records that).
func TestCommitOfExistingBlobKeepsItsTime(t *testing.T) {
	dir := t.TempDir()
	s, err := filesystem.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	content := []byte("twice")
	d := digest.FromBytes(content)
	var mod []time.Time
	for i := range 2 {
		w, err := s.CreateUpload(ctx, fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(content)
		if err := w.Commit(ctx, d); err != nil {
			t.Fatal(err)
		}
		s.Walk(ctx, func(b blobstore.BlobInfo) error { mod = append(mod, b.Modified); return nil })
		if i == 0 {
			// Backdated, so that a second commit that wrote or touched the
			// file would show, without waiting for the clock to move.
			old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			if err := os.Chtimes(filepath.Join(dir, "blobs", "sha256", d.Encoded()[:2], d.Encoded()), old, old); err != nil {
				t.Fatal(err)
			}
			mod[0] = old
		}
	}
	if len(mod) != 2 || !mod[0].Equal(mod[1]) {
		t.Fatalf("modification times %v, want one unchanged time", mod)
	}
}

// TestNamespacesLayout checks where namespaces live and that a reopened
// store finds them, with their blobs.
func TestNamespacesLayout(t *testing.T) {
	dir := t.TempDir()
	s, err := filesystem.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns, err := s.Namespace(ctx, "kms-x")
	if err != nil {
		t.Fatal(err)
	}
	w, err := ns.CreateUpload(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("ciphertext"))
	d := digest.FromBytes([]byte("plaintext"))
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "namespaces", "kms-x", "blobs", "sha256", d.Encoded()[:2], d.Encoded())); err != nil {
		t.Fatalf("the namespace's blob is not where the layout says: %v", err)
	}
	s.Close()

	s, err = filesystem.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names, err := s.Namespaces(ctx)
	if err != nil || len(names) != 1 || names[0] != "kms-x" {
		t.Fatalf("Namespaces after reopening = %v, %v", names, err)
	}
	ns, err = s.Namespace(ctx, "kms-x")
	if err != nil {
		t.Fatal(err)
	}
	if size, err := ns.Stat(ctx, d); err != nil || size != int64(len("ciphertext")) {
		t.Fatalf("Stat after reopening = %d, %v", size, err)
	}
}
