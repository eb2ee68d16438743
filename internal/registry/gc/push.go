package gc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// The push side of the protocol (see the package doc): a push records a
// blob before making its bytes durable (Record), links it in its
// transaction (Link), and a check that lets a client skip an upload
// keeps the link alive (CheckLink).

// StillDeleting is the error of a push that waited waitLimit for a
// collection to finish deleting its blob: the client should push again
// in a few minutes.
type StillDeleting struct{ Digest digest.Digest }

func (e *StillDeleting) Error() string {
	return fmt.Sprintf("blob %s is being deleted by garbage collection: push it again in a few minutes", e.Digest)
}

// Record records, before a push makes blob b durable, that a push is
// using it, so that no collection deletes it from then on. If a
// collection is deleting it, it waits until the deletion is over (the
// push then stores its own copy), finishing the deletion itself if the
// collection died; after waitLimit it gives up with *StillDeleting.
// also, if not nil, runs in the same transaction.
func (c *Collector) Record(ctx context.Context, b metadata.Blob, also func(metadata.Tx) error) error {
	start := time.Now()
	pause := 10 * time.Millisecond
	for {
		// Without waiting for the disk: a machine crash that loses the
		// record also ends the push, whose link would have recorded the
		// blob again durably.
		now := c.now()
		err := c.meta.UpdateNoSync(ctx, func(tx metadata.Tx) error {
			if err := tx.RecordBlob(ctx, b, now); err != nil || also == nil {
				return err
			}
			return also(tx)
		})
		if !errors.Is(err, metadata.ErrBlobDeleting) {
			return err
		}
		waited := time.Since(start)
		if waited > waitLimit {
			return &StillDeleting{Digest: b.Digest}
		}
		if waited > 250*time.Millisecond {
			// A live collection deletes a batch in well under this.
			c.finishDeadDeletions(ctx)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// finishDeadDeletions finishes the deletions of a collection that died,
// if no collection holds the lease.
func (c *Collector) finishDeadDeletions(ctx context.Context) {
	l, err := c.leases.Acquire(ctx, job)
	if err != nil {
		return // a collection is running: it finishes its own
	}
	defer l.Release()
	var report Report
	if err := c.finishDeletions(ctx, l, &report); err != nil {
		if ctx.Err() == nil {
			c.log.Warn("finishing the deletions of an interrupted garbage collection", "err", err)
		}
		return
	}
	if report.BlobsDeleted > 0 {
		c.log.Info("finished the deletions of an interrupted garbage collection", "blobs", report.BlobsDeleted, "bytes", report.BytesFreed)
	}
}

// ErrBlobGone says that a blob cannot be linked: a collection is deleting
// it, or has deleted it.
var ErrBlobGone = errors.New("blob is being deleted or was collected")

// Link links durable blob b into repository repoID inside tx and
// records that a push used it now. The push recorded the blob before it
// made the bytes durable in the repository's space, so the record is
// there, unmarked, unless a collection took the blob meanwhile: marked
// (its bytes are being deleted) or gone (they were). Either way it
// returns ErrBlobGone. It reads only the transaction: it may run twice.
func Link(ctx context.Context, tx metadata.Tx, repoID int64, b metadata.Blob, now time.Time) error {
	recs, err := tx.BlobRecords(ctx, []digest.Digest{b.Digest})
	if err != nil {
		return err
	}
	if len(recs) == 0 || recs[0].Deleting {
		return ErrBlobGone
	}
	if err := tx.RecordBlob(ctx, b, now); err != nil {
		return err
	}
	return tx.LinkBlob(ctx, repoID, b, now)
}

// CheckLink returns repository repoID's link to blob d for a push that
// will rely on it without uploading the blob. A link older than half the
// grace period is refreshed, so that it outlives the push; younger ones
// are not, so that checks rarely write. It returns metadata.ErrNotFound
// if the repository has no link to d (a link collected meanwhile is not
// recreated).
func (c *Collector) CheckLink(ctx context.Context, repoID int64, d digest.Digest) (metadata.Blob, error) {
	l, err := c.meta.Link(ctx, repoID, d)
	if err != nil {
		return metadata.Blob{}, err
	}
	now := c.now()
	if now.Sub(l.LinkedAt) < c.grace/2 {
		return l.Blob, nil
	}
	err = c.meta.Update(ctx, func(tx metadata.Tx) error { return tx.TouchLink(ctx, repoID, d, now) })
	return l.Blob, err
}
