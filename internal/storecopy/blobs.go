package storecopy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
)

// Progress is told of each blob as it is done: the space ("" for the
// plaintext store, else a namespace's name), the blob, and whether it was
// copied (false: the target had it).
type Progress func(space string, b blobstore.BlobInfo, copied bool)

// Counts say what a copy did.
type Counts struct {
	Copied, Skipped int
	Bytes           int64 // copied
}

// Blobs copies every blob of src, and of each of its namespaces, into
// dst (which must have namespaces if src has any).
func Blobs(ctx context.Context, src, dst blobstore.Store, progress Progress) (Counts, error) {
	var c Counts
	if err := copySpace(ctx, "", src, dst, progress, &c); err != nil {
		return c, err
	}
	sns, ok := src.(blobstore.Namespaced)
	if !ok {
		return c, nil
	}
	names, err := sns.Namespaces(ctx)
	if err != nil {
		return c, fmt.Errorf("listing the source's namespaces: %w", err)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return c, nil
	}
	dns, ok := dst.(blobstore.Namespaced)
	if !ok {
		return c, errors.New("the target blob store has no namespaces, which the source's encrypted blobs need")
	}
	for _, name := range names {
		from, err := sns.Namespace(ctx, name)
		if err != nil {
			return c, err
		}
		to, err := dns.Namespace(ctx, name)
		if err != nil {
			return c, err
		}
		if err := copySpace(ctx, name, from, to, progress, &c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// copySpace copies the blobs of one space. Its bytes are the blobs'
// (space ""), or else encrypted.
func copySpace(ctx context.Context, space string, src, dst blobstore.Store, progress Progress, c *Counts) error {
	return src.Walk(ctx, func(b blobstore.BlobInfo) error {
		if size, err := dst.Stat(ctx, b.Digest); err == nil && size == b.Size {
			c.Skipped++
			if progress != nil {
				progress(space, b, false)
			}
			return nil
		} else if err != nil && !errors.Is(err, blobstore.ErrNotFound) {
			return fmt.Errorf("blob %s: %w", b.Digest, err)
		}
		if err := copyBlob(ctx, space == "", src, dst, b); err != nil {
			return fmt.Errorf("copying blob %s%s: %w", b.Digest, inSpace(space), err)
		}
		c.Copied++
		c.Bytes += b.Size
		if progress != nil {
			progress(space, b, true)
		}
		return nil
	})
}

func inSpace(space string) string {
	if space == "" {
		return ""
	}
	return " of namespace " + space
}

// copyBlob streams one blob from src into an upload of dst, checks it,
// and commits it. plain says whether the bytes must hash to the digest.
func copyBlob(ctx context.Context, plain bool, src, dst blobstore.Store, b blobstore.BlobInfo) error {
	rc, err := src.Open(ctx, b.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	id := uploadID()
	w, err := dst.CreateUpload(ctx, id)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			w.Close()
			dst.DeleteUpload(context.WithoutCancel(ctx), id)
		}
	}()
	sum := sha256.New()
	var verifier digest.Verifier
	hashes := []io.Writer{w, sum}
	if plain {
		if err := b.Digest.Validate(); err != nil {
			return err
		}
		verifier = b.Digest.Verifier()
		hashes = append(hashes, verifier)
	}
	n, err := io.Copy(io.MultiWriter(hashes...), rc)
	if err != nil {
		return err
	}
	if n != b.Size {
		return fmt.Errorf("read %d bytes, but the source says it has %d", n, b.Size)
	}
	if verifier != nil && !verifier.Verified() {
		return errors.New("the source's bytes do not match their digest: the source is damaged; the blob is not copied")
	}
	committed = true
	if err := w.Commit(ctx, b.Digest); err != nil {
		return err
	}
	// Read the copy back: what the target serves is what was read.
	got, err := dst.Open(ctx, b.Digest)
	if err != nil {
		return err
	}
	defer got.Close()
	back := sha256.New()
	m, err := io.Copy(back, got)
	if err != nil {
		return fmt.Errorf("reading the copy back: %w", err)
	}
	if m != n || hex.EncodeToString(back.Sum(nil)) != hex.EncodeToString(sum.Sum(nil)) {
		return fmt.Errorf("the copy reads back as %d bytes with another SHA-256 than the %d read from the source", m, n)
	}
	return nil
}

// uploadID names an upload of the copy: random, so that copies run at
// once never share one.
func uploadID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "migrate-" + hex.EncodeToString(b)
}
