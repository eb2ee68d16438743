package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Garbage collection runs online, beside pushes and pulls: there is no
// read-only window. One run (CollectGarbage) does, in batches:
//
//  0. It finishes the deletions a collection that died left marked.
//  1. Links: a repository's link to a blob goes when no push used it
//     (Link.LinkedAt) within GCGrace and no image of the repository
//     references the blob.
//  2. Blobs: a blob that no repository links and no push wrote or linked
//     (BlobRecord.TouchedAt) within GCGrace is marked as being deleted in
//     one transaction, its bytes are deleted, and its record in a second.
//  3. Orphans: blob files without a record (left by versions that did not
//     record blobs before storing them), written more than GCGrace ago,
//     get a record marked as being deleted, then go the same way.
//
// Why an acknowledged push never loses a blob, whatever the interleaving
// (write transactions are serializable, see metadata.Store.Update):
//
//   - A manifest push checks, inside its transaction, that each blob it
//     references is linked into the repository, and stores its references
//     in that transaction. Step 1 removes a link, in its own transaction,
//     only if no image of the repository references the blob. So either
//     the manifest commits first and its references keep the links for as
//     long as the image exists, or the link goes first and the push fails
//     with MANIFEST_BLOB_UNKNOWN: no manifest ever dangles.
//   - A client that finds a blob with HEAD or BatchCheckLayerAvailability
//     skips uploading it and pushes its manifest later. The check
//     refreshes a link older than GCGrace/2 (so that checks rarely write):
//     a link it reports lives GCGrace/2 longer at least, the time a client
//     has between its check and its manifest.
//   - A push that stores a blob records it (touched now) before making the
//     bytes durable, and links it after, in a transaction that finds the
//     record there and unmarked and touches it again (storeLink). Step 2
//     marks a blob only if no repository links it and no push touched it
//     within GCGrace, deletes bytes only once the mark is committed, and
//     forgets the record only once the bytes are gone. Ordered against
//     the mark, a push either touched the record first (the blob is not
//     marked) or finds the mark and waits for the deletion to end before
//     it stores its own copy (recordBlob). A push slower than GCGrace
//     between recording and linking may see its blob collected meanwhile:
//     its link transaction then finds the mark, or no record, and the
//     push fails instead of linking a missing blob. So the link
//     transaction reads no storage (it may run twice, see metadata.Store)
//     and every link names a blob whose bytes are stored and which is not
//     marked, and a marked blob has no link.
//   - A mount links a blob through the same link transaction: a blob being
//     deleted, or gone, is not mounted, and the client uploads it instead.
//   - Step 3 deletes a file only after creating its record, marked, which
//     fails if the blob has a record or a link: since a push records a
//     blob before committing its file, a file a push is about to link is
//     no orphan. (The time of the file is not what protects it: committing
//     a blob that exists leaves the file as it was.)
//   - Spaces (encryption.go): a digest's bytes may be stored in the
//     plaintext store and, encrypted, in the namespace of each KMS key. A
//     link's bytes are those in its repository's space. Every blob enters
//     through ingest (ingest.go), which records it, makes its bytes
//     durable in the space the push planned, then links it, in a
//     transaction that refuses a repository whose space is not the
//     planned one; a mount within one space writes nothing, and its
//     source's link vouches for the bytes until the record is marked.
//     Steps 2 and 3 delete a digest from every space, and step 3
//     walks every space, so the argument holds per copy: no link names a
//     missing copy, and a marked blob has no copy that a link needs. (A
//     copy no link needs any more, in a key's namespace, while the blob is
//     linked elsewhere, stays until the blob is collected everywhere.)
//
// Crashes: each step is a transaction or an idempotent deletion, ordered
// so that no link and no unmarked record ever names missing bytes. A
// collection killed after marking leaves marks behind: pushes of those
// blobs wait, failing after blobWaitLimit with an error that asks to
// retry, until a collection or a waiting push takes the gc lease (free at
// the latest lease.TTL after the dead collection last renewed it) and
// finishes the deletions.
//
// Processes sharing the stores: the "gc" lease lets one collection run at
// a time; its holder name is unique to each run, so that two runs of one
// process exclude each other too. Every transaction that marks or clears
// marks renews the lease, and bytes are deleted only while the lease was
// renewed within lease.TTL/4, so a collection that lost its lease stops.
// (A process paused longer than the lease between that check and a
// deletion is the window left; leases cannot close it.) Clocks of the
// processes must agree to well within GCGrace/2.

// GCReport says what a garbage collection removed.
type GCReport struct {
	// LinksRemoved counts repositories' links to blobs that nothing
	// referenced.
	LinksRemoved int
	// BlobsDeleted counts blobs deleted because no repository linked them.
	BlobsDeleted int
	// BytesFreed is the size of the blobs and orphans deleted.
	BytesFreed int64
	// OrphansDeleted counts blob files deleted because no record named
	// them.
	OrphansDeleted int
	Duration       time.Duration
}

const (
	gcJob = "gc"
	// gcBatch bounds the rows one collection transaction writes, so that a
	// collection over millions of blobs never holds the single SQLite
	// writer for long.
	gcBatch = 500
	// blobWaitLimit bounds how long a push waits for a collection to
	// finish deleting the blob it stores.
	blobWaitLimit = 30 * time.Second
)

// CollectGarbage removes the links, blobs and blob files that nothing
// has referenced for GCGrace, beside pushes and pulls (see above). It
// returns ErrJobBusy if another collection is running, and on an error,
// what it removed until then.
func (r *Registry) CollectGarbage(ctx context.Context) (GCReport, error) {
	start := time.Now()
	l, err := r.leases.Acquire(ctx, gcJob)
	if err != nil {
		return GCReport{}, jobError(err)
	}
	defer l.Release()
	var report GCReport
	err = r.collect(ctx, l, &report)
	report.Duration = time.Since(start)
	if err != nil {
		return report, fmt.Errorf("garbage collection: %w", err)
	}
	r.log.Info("garbage collected", "links", report.LinksRemoved, "blobs", report.BlobsDeleted,
		"orphans", report.OrphansDeleted, "bytes", report.BytesFreed, "duration", report.Duration)
	return report, nil
}

func (r *Registry) collect(ctx context.Context, l *lease.Lease, report *GCReport) error {
	if err := r.finishDeletions(ctx, l, report); err != nil {
		return err
	}
	// Anything a push uses from now on is touched after the cutoff.
	cutoff := r.now().Add(-r.opts.GCGrace)
	if err := r.collectLinks(ctx, l, cutoff, report); err != nil {
		return err
	}
	if err := r.collectBlobs(ctx, l, cutoff, report); err != nil {
		return err
	}
	return r.collectOrphans(ctx, l, cutoff, report)
}

// finishDeletions deletes the blobs left marked as being deleted, by a
// collection that died or failed to delete them.
func (r *Registry) finishDeletions(ctx context.Context, l *lease.Lease, report *GCReport) error {
	var after digest.Digest
	for {
		page, err := r.meta.DeletingBlobs(ctx, after, gcBatch)
		if err != nil {
			return err
		}
		deleted, err := r.deleteMarked(ctx, l, page)
		report.count(deleted, &report.BlobsDeleted)
		if err != nil || len(page) < gcBatch {
			return err
		}
		after = page[len(page)-1].Digest
	}
}

// collectLinks is step 1.
func (r *Registry) collectLinks(ctx context.Context, l *lease.Lease, cutoff time.Time, report *GCReport) error {
	var after metadata.Link
	for {
		if err := l.Keep(ctx); err != nil {
			return err
		}
		stale, next, err := r.meta.UnreferencedLinks(ctx, cutoff, after, gcBatch)
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
func (r *Registry) collectBlobs(ctx context.Context, l *lease.Lease, cutoff time.Time, report *GCReport) error {
	var after digest.Digest
	for {
		if err := l.Keep(ctx); err != nil {
			return err
		}
		garbage, next, err := r.meta.CollectableBlobs(ctx, cutoff, after, gcBatch)
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
			deleted, err := r.deleteMarked(ctx, l, garbage)
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
func (r *Registry) collectOrphans(ctx context.Context, l *lease.Lease, cutoff time.Time, report *GCReport) error {
	var batch []blobstore.BlobInfo
	flush := func() error {
		defer func() { batch = batch[:0] }()
		ds := make([]digest.Digest, len(batch))
		for i, b := range batch {
			ds[i] = b.Digest
		}
		recs, err := r.meta.BlobRecords(ctx, ds)
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
			marked, err = tx.MarkOrphansDeleting(ctx, orphans, r.now())
			return err
		})
		if err != nil {
			return err
		}
		recs = make([]metadata.BlobRecord, len(marked))
		for i, b := range marked {
			recs[i] = metadata.BlobRecord{Blob: b, Deleting: true}
		}
		deleted, err := r.deleteMarked(ctx, l, recs)
		report.count(deleted, &report.OrphansDeleted)
		return err
	}
	stores, err := r.spaces.All(ctx)
	if err != nil {
		return err
	}
	for _, st := range stores {
		err := st.Walk(ctx, func(b blobstore.BlobInfo) error {
			if !b.Modified.Before(cutoff) {
				return nil
			}
			batch = append(batch, b)
			if len(batch) < gcBatch {
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
func (r *Registry) deleteMarked(ctx context.Context, l *lease.Lease, marked []metadata.BlobRecord) ([]metadata.BlobRecord, error) {
	if len(marked) == 0 {
		return nil, nil
	}
	// A digest may be stored in the plaintext store and in any KMS key's
	// namespace: it goes from all of them.
	stores, err := r.spaces.All(ctx)
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
			r.log.Warn("garbage collection could not delete a blob; it is kept until the next collection", "digest", b.Digest, "err", err)
			failed = append(failed, b)
			continue
		}
		r.log.Debug("blob deleted by garbage collection", "digest", b.Digest, "size", b.Size)
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

func (rep *GCReport) count(deleted []metadata.BlobRecord, n *int) {
	*n += len(deleted)
	for _, b := range deleted {
		rep.BytesFreed += b.Size
	}
}

// recordBlob records, before a push makes blob b durable, that a push is
// using it, so that no collection deletes it from then on. If a
// collection is deleting it, it waits until the deletion is over (the
// push then stores its own copy), finishing the deletion itself if the
// collection died; after blobWaitLimit it gives up with an error that asks
// the client to retry.
func (r *Registry) recordBlob(ctx context.Context, b metadata.Blob) error {
	start := time.Now()
	pause := 10 * time.Millisecond
	for {
		// Without waiting for the disk: a machine crash that loses the
		// record also ends the push, whose link would have recorded the
		// blob again durably.
		err := r.meta.UpdateNoSync(ctx, func(tx metadata.Tx) error { return tx.RecordBlob(ctx, b, r.now()) })
		if !errors.Is(err, metadata.ErrBlobDeleting) {
			return err
		}
		waited := time.Since(start)
		if waited > blobWaitLimit {
			return errorf(CodeInternal, "blob %s is being deleted by garbage collection: push it again in a few minutes", b.Digest)
		}
		if waited > 250*time.Millisecond {
			// A live collection deletes a batch in well under this.
			r.finishDeadDeletions(ctx)
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
func (r *Registry) finishDeadDeletions(ctx context.Context) {
	l, err := r.leases.Acquire(ctx, gcJob)
	if err != nil {
		return // a collection is running: it finishes its own
	}
	defer l.Release()
	var report GCReport
	if err := r.finishDeletions(ctx, l, &report); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("finishing the deletions of an interrupted garbage collection", "err", err)
		}
		return
	}
	if report.BlobsDeleted > 0 {
		r.log.Info("finished the deletions of an interrupted garbage collection", "blobs", report.BlobsDeleted, "bytes", report.BytesFreed)
	}
}

// errBlobGone says that a blob cannot be linked: a collection is deleting
// it, or has deleted it.
var errBlobGone = errors.New("blob is being deleted or was collected")

// storeLink links durable blob b into repository repo inside tx and
// records that a push used it now. The push recorded the blob before it
// made the bytes durable in the repository's space, so the record is
// there, unmarked, unless a collection took the blob meanwhile: marked
// (its bytes are being deleted) or gone (they were). Either way it
// returns errBlobGone. It reads only the transaction: it may run twice.
func storeLink(ctx context.Context, tx metadata.Tx, repo metadata.Repository, b metadata.Blob, now time.Time) error {
	recs, err := tx.BlobRecords(ctx, []digest.Digest{b.Digest})
	if err != nil {
		return err
	}
	if len(recs) == 0 || recs[0].Deleting {
		return errBlobGone
	}
	if err := tx.RecordBlob(ctx, b, now); err != nil {
		return err
	}
	return tx.LinkBlob(ctx, repo.ID, b, now)
}

// blobCollected is the error of a push whose blob was collected between
// being stored and being linked (a push slower than GCGrace).
func blobCollected(d digest.Digest) error {
	return errorf(CodeInternal, "blob %s was deleted by garbage collection while it was being pushed: push it again", d)
}
