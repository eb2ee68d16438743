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
func (r *Registry) ingest(ctx context.Context, in ingestion) error {
	if in.store != nil {
		sp, err := r.blobSpace(ctx, in.plan)
		if err != nil {
			return err
		}
		if err := r.gc.Record(ctx, in.blob); err != nil { // before the bytes are durable: see internal/registry/gc
			return gcError(err)
		}
		if err := in.store(ctx, sp); err != nil {
			return storeFailed{kmsError(err)}
		}
	} else if _, err := r.blobSpace(ctx, in.plan); err != nil {
		return err
	}
	wctx := context.WithoutCancel(ctx)
	now := r.now()
	_, err := r.updatePush(wctx, in.plan, now, r.meta.Update, func(tx metadata.Tx, repo metadata.Repository) error {
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
