// Package replication runs the registry's replication in the background:
// it turns the outbox's image pushes and deletions into replication
// tasks, and runs the tasks, in every process sharing the database.
//
// Feed. One process at a time (the "replication-feed" lease) reads the
// outbox after a cursor kept in the database, hands each batch of events
// to Core.Queue, which queues a task per image and destination the
// registry's configuration names, and moves the cursor in the same
// transaction. So an event is turned into tasks exactly once, whatever
// process dies when: a batch either committed with its cursor, or is read
// again. The outbox keeps events for event-retention, and the feed reads
// them within a poll interval, so nothing the outbox recorded is left
// behind.
//
// Tasks. A task is keyed by (source image, destination) and says "bring
// the destination in step with the source image" (Core.Replicate), so it
// is idempotent: running it twice copies nothing twice (blobs and
// manifests already there are skipped) and several events about one
// image queue one task. Every process claims due tasks under its own
// holder name and a lease of lease.TTL, renewed while it works; a task
// whose holder died is claimed again once its lease expires, or at once
// when that process restarts under the same name (Run releases its
// previous run's claims). A change queued while a task runs raises its
// generation, and the finish of the older run leaves it due: the last
// change is always copied. That periodic claim of everything due is the
// catch-up sweep: a task, once queued, is retried until it ends.
//
// Failures. A Failure (the destination's policy refuses, say) ends a task
// FAILED at once with its code; other errors (a remote that is down) are
// retried with exponential backoff from retryBase to retryMax, and end it
// FAILED after maxAttempts. A failed task runs again when something about
// its image changes, or a backfill queues it.
//
// Backfills. Core.AdvanceBackfills moves the registry's backfills on
// (queueing their images as tasks, ending them) under the
// "replication-backfill" lease.
package replication
