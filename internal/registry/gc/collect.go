package gc

import (
	"context"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
)

// finishDeletions deletes the blobs left marked as being deleted, by a
// collection that died or failed to delete them.
func (c *Collector) finishDeletions(ctx context.Context, l *lease.Lease, report *Report) error {
	var after digest.Digest
	for {
		page, err := c.meta.DeletingBlobs(ctx, after, batchSize)
		if err != nil {
			return err
		}
		deleted, err := c.deleteMarked(ctx, l, page)
		report.count(deleted, &report.BlobsDeleted)
		if err != nil || len(page) < batchSize {
			return err
		}
		after = page[len(page)-1].Digest
	}
}

// collectLinks is step 1.
func (c *Collector) collectLinks(ctx context.Context, l *lease.Lease, cutoff time.Time, report *Report) error {
	var after metadata.Link
	for {
		if err := l.Keep(ctx); err != nil {
			return err
		}
		stale, next, err := c.meta.UnreferencedLinks(ctx, cutoff, after, batchSize)
		if err != nil {
			return err
		}
		if len(stale) > 0 {
			var removed int
			err := l.Update(ctx, func(tx metadata.Tx) (err error) {
				removed, err = tx.RemoveStaleLinks(ctx, stale, cutoff)
				return err
			})
			if err != nil {
				return err
			}
			report.LinksRemoved += removed
		}
		if next == (metadata.Link{}) {
			return nil
		}
		after = next
	}
}

// collectBlobs is step 2.
func (c *Collector) collectBlobs(ctx context.Context, l *lease.Lease, cutoff time.Time, report *Report) error {
	var after digest.Digest
	for {
		if err := l.Keep(ctx); err != nil {
			return err
		}
		garbage, next, err := c.meta.CollectableBlobs(ctx, cutoff, after, batchSize)
		if err != nil {
			return err
		}
		if len(garbage) > 0 {
			var marked []digest.Digest
			err := l.Update(ctx, func(tx metadata.Tx) (err error) {
				marked, err = tx.MarkBlobsDeleting(ctx, digests(garbage), cutoff)
				return err
			})
			if err != nil {
				return err
			}
			isMarked := make(map[digest.Digest]bool, len(marked))
			for _, d := range marked {
				isMarked[d] = true
			}
			garbage = slices.DeleteFunc(garbage, func(b metadata.BlobRecord) bool { return !isMarked[b.Digest] })
			deleted, err := c.deleteMarked(ctx, l, garbage)
			report.count(deleted, &report.BlobsDeleted)
			if err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// collectOrphans is step 3.
func (c *Collector) collectOrphans(ctx context.Context, l *lease.Lease, cutoff time.Time, report *Report) error {
	var batch []blobstore.BlobInfo
	flush := func() error {
		defer func() { batch = batch[:0] }()
		ds := make([]digest.Digest, len(batch))
		for i, b := range batch {
			ds[i] = b.Digest
		}
		recs, err := c.meta.BlobRecords(ctx, ds)
		if err != nil {
			return err
		}
		known := make(map[digest.Digest]bool, len(recs))
		for _, rec := range recs {
			known[rec.Digest] = true
		}
		var orphans []metadata.Blob
		for _, b := range batch {
			if !known[b.Digest] {
				orphans = append(orphans, metadata.Blob{Digest: b.Digest, Size: b.Size})
			}
		}
		if len(orphans) == 0 {
			return l.Keep(ctx)
		}
		var marked []metadata.Blob
		err = l.Update(ctx, func(tx metadata.Tx) (err error) {
			marked, err = tx.MarkOrphansDeleting(ctx, orphans, c.now())
			return err
		})
		if err != nil {
			return err
		}
		recs = make([]metadata.BlobRecord, len(marked))
		for i, b := range marked {
			recs[i] = metadata.BlobRecord{Blob: b, Deleting: true}
		}
		deleted, err := c.deleteMarked(ctx, l, recs)
		report.count(deleted, &report.OrphansDeleted)
		return err
	}
	stores, err := c.spaces.All(ctx)
	if err != nil {
		return err
	}
	for _, st := range stores {
		err := st.Walk(ctx, func(b blobstore.BlobInfo) error {
			if !b.Modified.Before(cutoff) {
				return nil
			}
			batch = append(batch, b)
			if len(batch) < batchSize {
				return nil
			}
			return flush()
		})
		if err == nil && len(batch) > 0 {
			err = flush()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteMarked deletes the bytes of blobs marked as being deleted, then
// their records, and returns those it deleted. A blob whose bytes could
// not be deleted is unmarked, to be tried again by the next collection
// (the bytes may be gone anyway: a record of missing bytes is harmless,
// since linking checks the bytes).
func (c *Collector) deleteMarked(ctx context.Context, l *lease.Lease, marked []metadata.BlobRecord) ([]metadata.BlobRecord, error) {
	if len(marked) == 0 {
		return nil, nil
	}
	// A digest may be stored in the plaintext store and in any KMS key's
	// namespace: it goes from all of them.
	stores, err := c.spaces.All(ctx)
	if err != nil {
		return nil, err
	}
	var (
		deleted, failed []metadata.BlobRecord
		stop            error
	)
	for _, b := range marked {
		// Never delete bytes without the lease: whoever has it now may
		// have finished this deletion, and a push may have stored the
		// blob again.
		if stop = l.Keep(ctx); stop != nil {
			break
		}
		var err error
		for _, st := range stores {
			if err = st.Delete(ctx, b.Digest); err != nil {
				break
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				stop = ctx.Err()
				break
			}
			c.log.Warn("garbage collection could not delete a blob; it is kept until the next collection", "digest", b.Digest, "err", err)
			failed = append(failed, b)
			continue
		}
		c.log.Debug("blob deleted by garbage collection", "digest", b.Digest, "size", b.Size)
		deleted = append(deleted, b)
	}
	// The bytes are gone whether or not the caller is: say so.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err = l.Update(wctx, func(tx metadata.Tx) error {
		if err := tx.ForgetBlobs(wctx, digests(deleted)); err != nil {
			return err
		}
		return tx.UnmarkBlobs(wctx, digests(failed))
	})
	if err != nil {
		// The marks stay; the next holder of the lease deletes again.
		return deleted, err
	}
	return deleted, stop
}

func digests(recs []metadata.BlobRecord) []digest.Digest {
	out := make([]digest.Digest, len(recs))
	for i, b := range recs {
		out[i] = b.Digest
	}
	return out
}

func (rep *Report) count(deleted []metadata.BlobRecord, n *int) {
	*n += len(deleted)
	for _, b := range deleted {
		rep.BytesFreed += b.Size
	}
}
