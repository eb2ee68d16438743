package metadata

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
)

// Garbage collection keeps two records beside the links of repositories
// to blobs: when each link was last used by a push (Link.LinkedAt), and a
// record of every blob in the blob store (BlobRecord) with the last time a
// push wrote or linked it, and a mark set while a collection deletes its
// bytes. The rules that make collection safe beside pushes live in the
// registry (see the package doc of internal/registry/gc); what they need of a backend is
// that each method below is atomic and that write transactions are
// serializable, as Store.Update promises: a backend with row locks must
// make RecordBlob and MarkBlobDeleting of one digest conflict, and
// MarkBlobDeleting see every link committed before it.

// ErrBlobDeleting is returned (possibly wrapped) when a push records or
// links a blob whose bytes a collection is deleting.
var ErrBlobDeleting = errors.New("blob is being deleted by garbage collection")

// Link is a repository's link to a blob.
type Link struct {
	RepoID int64
	Blob
	// LinkedAt is when a push last created or used the link.
	LinkedAt time.Time
}

// BlobRecord is the record of a blob in the blob store.
type BlobRecord struct {
	Blob
	// TouchedAt is when a push last wrote or linked the blob.
	TouchedAt time.Time
	// Deleting is set while a collection deletes the blob's bytes.
	Deleting bool
}

// GCReader is the read side of the blob records.
type GCReader interface {
	// Link returns repository repoID's link to blob d, or ErrNotFound.
	Link(ctx context.Context, repoID int64, d digest.Digest) (Link, error)
	// UnreferencedLinks scans the limit links that follow after in
	// (repository, digest) order and returns those linked before the time
	// before that no image of their repository references. next is where
	// the following scan starts; it is the zero Link when the scan
	// reached the end.
	UnreferencedLinks(ctx context.Context, before time.Time, after Link, limit int) (links []Link, next Link, err error)
	// CollectableBlobs scans the limit blob records that follow the digest
	// after and returns those touched before the time before, not being
	// deleted, that no repository links. next is where the following scan
	// starts; it is "" when the scan reached the end.
	CollectableBlobs(ctx context.Context, before time.Time, after digest.Digest, limit int) (blobs []BlobRecord, next digest.Digest, err error)
	// DeletingBlobs lists up to limit records marked as being deleted, in
	// digest order after the digest after.
	DeletingBlobs(ctx context.Context, after digest.Digest, limit int) ([]BlobRecord, error)
	// BlobRecords returns the records of the digests ds that have one, in
	// digest order.
	BlobRecords(ctx context.Context, ds []digest.Digest) ([]BlobRecord, error)
}

// GCWriter is the write side of the blob records. Tx.LinkBlob also sets
// the link's LinkedAt to now (never lowering it) when the link exists.
type GCWriter interface {
	// RecordBlob creates blob b's record, or raises its touched time to
	// now (never lowering it). It returns ErrBlobDeleting, changing
	// nothing, if the blob is marked as being deleted.
	RecordBlob(ctx context.Context, b Blob, now time.Time) error
	// TouchLink raises the LinkedAt of repository repoID's link to blob d
	// to now (never lowering it), or returns ErrNotFound.
	TouchLink(ctx context.Context, repoID int64, d digest.Digest, now time.Time) error
	// RemoveStaleLinks removes those of the links that were linked
	// before the time before and that no image of their repository
	// references, and returns how many it removed.
	RemoveStaleLinks(ctx context.Context, links []Link, before time.Time) (int, error)
	// MarkBlobsDeleting marks as being deleted those of the blobs ds whose
	// records were touched before the time before and are not marked, and
	// that no repository links; it returns them.
	MarkBlobsDeleting(ctx context.Context, ds []digest.Digest, before time.Time) ([]digest.Digest, error)
	// MarkOrphansDeleting creates the records of those of the blobs that
	// have none and that no repository links (their bytes are orphans),
	// marked as being deleted and touched now; it returns them.
	MarkOrphansDeleting(ctx context.Context, blobs []Blob, now time.Time) ([]Blob, error)
	// UnmarkBlobs clears the marks of the blobs ds (their bytes could not
	// be deleted).
	UnmarkBlobs(ctx context.Context, ds []digest.Digest) error
	// ForgetBlobs removes the records of those of the blobs ds that are
	// marked as being deleted.
	ForgetBlobs(ctx context.Context, ds []digest.Digest) error
}
