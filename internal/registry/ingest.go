package registry

import (
	"context"
	"errors"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry/blobspace"
	"github.com/ecrd/ecrd/internal/registry/gc"
)

// Content enters the registry one way, through ingest (see the package
// doc, "Upload durability"): record, make durable, link. The callers
// differ only in how the bytes become durable.

// ingestion is one blob entering a repository.
type ingestion struct {
	plan *pushPlan
	blob metadata.Blob
	// store makes the blob's bytes durable in the push's space; nil when
	// they are there already (a mount within one space).
	store func(ctx context.Context, sp blobspace.Space) error
	// also runs inside the link transaction (a finished upload's session
	// goes with it).
	also func(ctx context.Context, tx metadata.Tx) error
	// session is the upload session whose bytes store commits, if any:
	// marked as finishing, it lets the link go without waiting for the
	// disk (see ingest).
	session *metadata.Upload
}

// storeFailed wraps an error of ingestion.store, so that a caller can
// tell a failure to store the bytes from one to link them.
type storeFailed struct{ err error }

func (e storeFailed) Error() string { return e.err.Error() }
func (e storeFailed) Unwrap() error { return e.err }

// ingest records, stores and links a blob (see above). Once the bytes are
// durable the link is made even if the client has gone. It returns
// gc.ErrBlobGone if garbage collection took the blob meanwhile (a push
// slower than the grace period), and wraps failures of store in
// storeFailed.
//
// A finished upload session in the plaintext store, with a metadata store
// that can sync on demand (the embedded one), waits for the disk once
// instead of twice in a row: the transaction that records the blob also
// marks the session as finishing as its digest, the store's commit and a
// sync of the metadata store that makes that mark durable run side by
// side, and the link then commits without waiting for the disk. A crash
// may lose that link, never the mark that stands for it: Recover finds
// the session's bytes gone from the upload area and the blob stored, and
// links it. The link is still made only after the bytes are durable, as
// garbage collection's protocol needs.
func (r *Registry) ingest(ctx context.Context, in ingestion) error {
	update := r.meta.Update
	if in.store != nil {
		sp, err := r.blobSpace(ctx, in.plan)
		if err != nil {
			return err
		}
		var (
			syncer metadata.Syncer
			mark   func(metadata.Tx) error
		)
		if in.session != nil && !sp.Encrypted() {
			syncer = r.syncer
		}
		if syncer != nil {
			u := *in.session
			u.Finishing = in.blob.Digest
			mark = func(tx metadata.Tx) error {
				// A session deleted meanwhile (with its repository) is
				// not brought back.
				if _, err := tx.Upload(ctx, u.ID); err != nil {
					if errors.Is(err, metadata.ErrNotFound) {
						return uploadNotFound(in.plan.key, u.ID)
					}
					return err
				}
				return tx.PutUpload(ctx, u)
			}
		}
		if err := r.gc.Record(ctx, in.blob, mark); err != nil { // before the bytes are durable: see internal/registry/gc
			return gcError(err)
		}
		if syncer == nil {
			if err := in.store(ctx, sp); err != nil {
				return storeFailed{kmsError(err)}
			}
		} else {
			synced := make(chan error, 1)
			go func() { synced <- syncer.Sync(ctx) }()
			err := in.store(ctx, sp)
			serr := <-synced
			if err != nil {
				return storeFailed{kmsError(err)}
			}
			if serr != nil {
				return serr
			}
			update = r.meta.UpdateNoSync
		}
	} else if _, err := r.blobSpace(ctx, in.plan); err != nil {
		return err
	}
	wctx := context.WithoutCancel(ctx)
	now := r.now()
	_, err := r.updatePush(wctx, in.plan, now, update, func(tx metadata.Tx, repo metadata.Repository) error {
		if err := gc.Link(wctx, tx, repo.ID, in.blob, now); err != nil {
			return err
		}
		if in.also != nil {
			return in.also(wctx, tx)
		}
		return nil
	})
	return err
}

// isStoreFailure reports whether err came from storing an ingestion's
// bytes.
func isStoreFailure(err error) bool {
	var sf storeFailed
	return errors.As(err, &sf)
}
