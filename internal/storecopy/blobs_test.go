package storecopy

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/blobstore/filesystem"
	"github.com/ecrd/ecrd/internal/blobstore/s3store"
	"github.com/ecrd/ecrd/internal/testutil/s3test"
)

var ctx = context.Background()

func put(t *testing.T, s blobstore.Store, d digest.Digest, b []byte) {
	t.Helper()
	w, err := s.CreateUpload(ctx, "u-"+d.Encoded()[:12])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, s blobstore.Store, d digest.Digest) []byte {
	t.Helper()
	rc, err := s.Open(ctx, d)
	if err != nil {
		t.Fatalf("reading %s: %v", d, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestBlobsIntoS3: a data folder's blobs, plain and in a namespace,
// reach an S3 bucket whole; a second run copies nothing; a damaged
// source blob is refused, and its copy never appears.
func TestBlobsIntoS3(t *testing.T) {
	dir := t.TempDir()
	src, err := filesystem.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s3 := s3test.Start(t)
	s3.Setenv(t)
	dst, err := s3store.Open(ctx, s3.URL(s3.NewBucket(t), "migrated"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()

	plain := map[digest.Digest][]byte{}
	for _, n := range []int{0, 1, 6<<20 + 5, 4096} {
		b := random(t, n)
		d := digest.FromBytes(b)
		plain[d] = b
		put(t, src, d, b)
	}
	ns, err := src.Namespace(ctx, "kms-key-1")
	if err != nil {
		t.Fatal(err)
	}
	// A namespace holds bytes that are not the digest's (encrypted).
	sealed := random(t, 300<<10)
	sealedDigest := digest.FromBytes([]byte("the plaintext"))
	put(t, ns, sealedDigest, sealed)

	var seen []string
	c, err := Blobs(ctx, src, dst, func(space string, b blobstore.BlobInfo, copied bool) {
		seen = append(seen, space+"/"+b.Digest.Encoded()[:6])
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Copied != 5 || c.Skipped != 0 || len(seen) != 5 {
		t.Fatalf("first copy: %+v, progress %v; want 5 copied", c, seen)
	}
	for d, b := range plain {
		if got := read(t, dst, d); !bytes.Equal(got, b) {
			t.Fatalf("blob %s reads %d bytes from the bucket, want %d", d, len(got), len(b))
		}
	}
	dns, err := dst.Namespace(ctx, "kms-key-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, dns, sealedDigest); !bytes.Equal(got, sealed) {
		t.Fatal("the namespace's blob did not reach the bucket's namespace as it was")
	}

	// Again: nothing to do.
	c, err = Blobs(ctx, src, dst, nil)
	if err != nil || c.Copied != 0 || c.Skipped != 5 {
		t.Fatalf("second copy: %+v, %v; want all 5 skipped", c, err)
	}

	// A source file whose bytes no longer match its name.
	bad := random(t, 1000)
	badDigest := digest.FromBytes(bad)
	put(t, src, badDigest, bad)
	path := filepath.Join(dir, "blobs", "sha256", badDigest.Encoded()[:2], badDigest.Encoded())
	if err := os.WriteFile(path, random(t, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Blobs(ctx, src, dst, nil)
	if err == nil || !strings.Contains(err.Error(), "do not match their digest") {
		t.Fatalf("copying a damaged blob: %v", err)
	}
	if _, err := dst.Stat(ctx, badDigest); err == nil {
		t.Fatal("a damaged blob was copied")
	}
	if ups, err := dst.Uploads(ctx); err != nil || len(ups) != 0 {
		t.Fatalf("the refused copy left uploads: %v %v", ups, err)
	}
}
