// Package blobstore defines where blob bytes live. Blobs are stored once per
// digest, whatever repositories link them: which repository may read which
// blob is metadata, not the blob store's concern.
//
// A backend (the filesystem here; S3-compatible storage later) implements
// Store and passes the shared suite in blobstoretest.
package blobstore

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// ErrNotFound is returned (possibly wrapped) for a blob or upload that does
// not exist.
var ErrNotFound = errors.New("not found")

// ErrOffset is returned (possibly wrapped) when data is appended to an upload
// at an offset other than its current size.
var ErrOffset = errors.New("upload offset does not match")

// Store holds finished blobs, addressed by digest, and the uploads that
// become blobs.
//
// Uploads are identified by IDs the caller chooses. Bytes written to an
// upload are not durable until CommitUpload; a blob is visible to Stat and
// Open only once it is durable.
type Store interface {
	// Stat returns the size of a finished blob.
	Stat(ctx context.Context, d digest.Digest) (int64, error)
	// Open returns the blob for reading. The filesystem backend returns an
	// *os.File so that the HTTP layer can send it with sendfile.
	Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, error)
	// Delete removes a finished blob. Deleting a missing blob is not an error.
	Delete(ctx context.Context, d digest.Digest) error

	// CreateUpload starts an empty upload.
	CreateUpload(ctx context.Context, id string) error
	// AppendUpload writes r to the end of the upload, which must currently
	// hold exactly offset bytes (otherwise ErrOffset, and nothing is
	// written). It returns the upload's new size. Bytes beyond offset left by
	// an earlier, interrupted append are discarded first.
	AppendUpload(ctx context.Context, id string, offset int64, r io.Reader) (int64, error)
	// UploadSize returns how many bytes the upload holds.
	UploadSize(ctx context.Context, id string) (int64, error)
	// OpenUpload reads the upload's first size bytes (to recompute a hash).
	OpenUpload(ctx context.Context, id string, size int64) (io.ReadCloser, error)
	// CommitUpload makes the upload's first size bytes durable as blob d and
	// removes the upload. The caller has verified the digest. If blob d
	// already exists the upload is simply removed. An upload holding fewer
	// than size bytes is ErrOffset, and no blob is made.
	CommitUpload(ctx context.Context, id string, size int64, d digest.Digest) error
	// DeleteUpload removes an upload. Deleting a missing upload is not an error.
	DeleteUpload(ctx context.Context, id string) error
	// Uploads lists every upload with the time it last changed, so that
	// abandoned ones can be expired and a restart can remove what a crash
	// left behind.
	Uploads(ctx context.Context) ([]Upload, error)

	// Ready reports whether the store can serve requests.
	Ready(ctx context.Context) error
}

// Upload describes an upload in progress.
type Upload struct {
	ID       string
	Size     int64
	Modified time.Time
}
