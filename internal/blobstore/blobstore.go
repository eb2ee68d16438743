// Package blobstore defines where blob bytes live. Blobs are stored once per
// digest, whatever repositories link them: which repository may read which
// blob is metadata, not the blob store's concern.
//
// A backend (the filesystem; S3-compatible object storage) implements
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

// ErrNoSpace is returned (possibly wrapped) when the storage has no room
// left for what is being written.
var ErrNoSpace = errors.New("no space left in blob storage")

// SpaceReporter is implemented by a store whose room is bounded (a
// filesystem; an object store has no such limit), so that the registry
// can refuse uploads before the storage fills.
type SpaceReporter interface {
	// FreeSpace returns the bytes the store can still write.
	FreeSpace(ctx context.Context) (int64, error)
}

// Presigner is implemented by a store that can give a short-lived URL
// from which a client reads a blob directly (an object store's presigned
// GET), so that a pull need not stream through the registry. The URL
// serves the bytes as stored: a namespace's (encrypted) blobs must not be
// handed out this way.
type Presigner interface {
	// PresignGet returns a URL that reads blob d for ttl. It does not
	// check that the blob exists.
	PresignGet(ctx context.Context, d digest.Digest, ttl time.Duration) (string, error)
}

// ErrOffset is returned (possibly wrapped) when data is appended to an upload
// at an offset other than its current size.
var ErrOffset = errors.New("upload offset does not match")

// Store holds finished blobs, addressed by digest, and the uploads that
// become blobs.
//
// Uploads are identified by IDs the caller chooses. Bytes written to an
// upload are not durable until Commit; a blob is visible to Stat and Open
// only once it is durable.
type Store interface {
	// Stat returns the size of a finished blob.
	Stat(ctx context.Context, d digest.Digest) (int64, error)
	// Open returns the blob for reading. The filesystem backend returns an
	// *os.File so that the HTTP layer can send it with sendfile.
	Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, error)
	// Delete removes a finished blob. Deleting a missing blob is not an error.
	Delete(ctx context.Context, d digest.Digest) error
	// Walk calls fn for every finished blob, in no particular order, and
	// stops at the first error fn returns, which Walk returns. A blob
	// committed or deleted during a walk may or may not be seen; fn may
	// delete the blob it is given. Garbage collection walks the store to
	// find blobs that no metadata records.
	Walk(ctx context.Context, fn func(BlobInfo) error) error

	// CreateUpload starts an empty upload and returns a writer to it.
	CreateUpload(ctx context.Context, id string) (UploadWriter, error)
	// ResumeUpload returns a writer that appends to an upload at offset. The
	// upload must hold at least offset bytes (otherwise ErrOffset); bytes
	// beyond offset, left by an interrupted write that nobody
	// acknowledged, are discarded.
	ResumeUpload(ctx context.Context, id string, offset int64) (UploadWriter, error)
	// ReadUpload reads the upload's bytes from offset up to size (to
	// finish a hash, or encrypt the upload), including what a writer of
	// this process has written to it and not yet closed.
	ReadUpload(ctx context.Context, id string, offset, size int64) (io.ReadCloser, error)
	// DeleteUpload removes an upload. Deleting a missing upload is not an error.
	DeleteUpload(ctx context.Context, id string) error
	// Uploads lists every upload with its size and the time it last
	// changed, so that abandoned ones can be expired and a restart can
	// remove what a crash left behind.
	Uploads(ctx context.Context) ([]Upload, error)

	// Ready reports whether the store can serve requests.
	Ready(ctx context.Context) error
	// Close releases what the store holds open.
	Close() error
}

// Namespaced is implemented by a store that can hold separate
// namespaces of blobs beside its own. A namespace is a Store of its own,
// content-addressed like its parent but apart from it and from the other
// namespaces: one digest may be stored in several, each with its own
// bytes, and each namespace has its own uploads. The registry keeps the
// blobs of each KMS key, encrypted, in a namespace of the key's, so that
// the same content in an unencrypted repository and in repositories
// under other keys never shares bytes with them. A backend stores them
// however suits it (the filesystem under a directory per namespace; an
// object store under a key prefix) and passes the suite's namespace
// tests.
type Namespaced interface {
	// Namespace returns the store of the named namespace, creating it on
	// first use. A name is 1 to 128 letters, digits, '.', '_' and '-',
	// starting with a letter or digit. The returned store lives as long
	// as its parent: closing the parent closes it.
	Namespace(ctx context.Context, name string) (Store, error)
	// Namespaces lists the names of the namespaces that exist, in no
	// particular order.
	Namespaces(ctx context.Context) ([]string, error)
}

// ValidNamespace reports whether name may name a namespace.
func ValidNamespace(name string) bool {
	if len(name) == 0 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// UploadWriter appends to an upload. One writer per upload at a time: the
// caller serializes writers of the same upload.
type UploadWriter interface {
	io.Writer
	// Size is how many bytes the upload holds, including those of a Write
	// that failed part way.
	Size() int64
	// Commit makes the upload durable as blob d and removes the upload;
	// the caller has verified the digest. If blob d already exists the
	// upload is simply removed. The writer is closed either way.
	Commit(ctx context.Context, d digest.Digest) error
	// Close releases the writer and keeps the upload. Once it returns
	// nil, what was written survives the process (not necessarily the
	// machine) and any process's ResumeUpload and ReadUpload see it: a
	// store that holds written bytes back (an object store's part below
	// the minimum size) stores them by then. The registry records an
	// upload's new size only after Close.
	Close() error
}

// BlobInfo describes a finished blob.
type BlobInfo struct {
	Digest digest.Digest
	Size   int64
	// Modified is when the blob's bytes were last written (for the
	// filesystem, the upload's last write: committing a blob that already
	// exists leaves it as it was).
	Modified time.Time
}

// Upload describes an upload in progress.
type Upload struct {
	ID       string
	Size     int64
	Modified time.Time
}
