package metadata

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"
)

// Replication statuses of a task, as ECR reports them per destination.
// A task IN_PROGRESS is due (when NotBefore has come and no live lease
// holds it); COMPLETE and FAILED tasks are done until queued again.
const (
	ReplicationInProgress = "IN_PROGRESS"
	ReplicationComplete   = "COMPLETE"
	ReplicationFailed     = "FAILED"
)

// ReplicationTask is the replication of one image of a repository to one
// destination registry: the registry core brings the destination in step
// with the source image (its manifest, children, referrers and tags, or
// its absence). A task is keyed by (RepoID, Digest, Dest); deleting the
// source repository deletes its tasks.
type ReplicationTask struct {
	RepoID int64
	// Repo is the source repository's key, filled by reads.
	Repo   RepoKey
	Digest digest.Digest
	// Dest is the destination registry: an account in a region.
	Dest        Scope
	Status      string
	FailureCode string
	// Attempts counts the tries since the task was last queued.
	Attempts int
	// NotBefore: an IN_PROGRESS task is not claimed before this time.
	NotBefore time.Time
	// Holder and LeaseUntil: who works on the task, and until when that
	// claim holds (Holder "" when nobody does).
	Holder     string
	LeaseUntil time.Time
	// Generation grows each time the task is queued; a finish made for an
	// older generation leaves the task due, so that a change queued while a
	// worker copied is copied too.
	Generation int64
	// BackfillID is the backfill that queued the task last, or "".
	BackfillID string
	UpdatedAt  time.Time
}

// ReplicationCursor is a position in a backfill's tasks, which are listed
// in (RepoID, Digest) order.
type ReplicationCursor struct {
	RepoID int64
	Digest digest.Digest
}

// ReplicationBackfill is a backfill of a registry: the copy of what it
// held before replication was configured. The registry core defines the
// document; the store keeps it opaque, with the fields it selects by.
type ReplicationBackfill struct {
	Scope     Scope
	ID        string
	StartedAt time.Time
	// Active: the backfill has not reached a terminal status.
	Active   bool
	Document []byte
}

// ReplicationReader is the read side of replication's records.
type ReplicationReader interface {
	// ReplicationTasks lists the tasks of one source image, in destination
	// (account, region) order.
	ReplicationTasks(ctx context.Context, repoID int64, d digest.Digest) ([]ReplicationTask, error)
	// BackfillTasks lists a backfill's tasks with the given status (""
	// for any) after the cursor, at most limit of them.
	BackfillTasks(ctx context.Context, backfillID, status string, after ReplicationCursor, limit int) ([]ReplicationTask, error)
	// BackfillTaskCounts counts a backfill's tasks by status.
	BackfillTaskCounts(ctx context.Context, backfillID string) (map[string]int, error)

	// ReplicationBackfill returns a registry's backfill, or ErrNotFound.
	ReplicationBackfill(ctx context.Context, scope Scope, id string) (ReplicationBackfill, error)
	// ReplicationBackfills lists a registry's backfills in ID order after
	// the ID after, at most limit of them.
	ReplicationBackfills(ctx context.Context, scope Scope, after string, limit int) ([]ReplicationBackfill, error)
	// ActiveReplicationBackfills lists the active backfills of every
	// registry, in (StartedAt, ID) order.
	ActiveReplicationBackfills(ctx context.Context) ([]ReplicationBackfill, error)

	// Cursor returns a named position (in the outbox, for its
	// followers that must not miss an event across restarts), 0 if unset.
	Cursor(ctx context.Context, name string) (int64, error)
}

// ReplicationWriter is the write side of replication's records.
type ReplicationWriter interface {
	// QueueReplications creates or re-queues tasks: each becomes
	// IN_PROGRESS, with no failure code, no attempts, its NotBefore and
	// BackfillID as given, its generation raised and UpdatedAt now. A
	// task's holder, if any, keeps it until it finishes.
	QueueReplications(ctx context.Context, tasks []ReplicationTask, now time.Time) error
	// ClaimReplications hands holder up to limit due tasks until the time
	// until: IN_PROGRESS, NotBefore not after now, and no holder or one
	// whose lease expired at now; oldest NotBefore first. The tasks come
	// with their Repo.
	ClaimReplications(ctx context.Context, holder string, now, until time.Time, limit int) ([]ReplicationTask, error)
	// RenewReplications extends every claim of holder until the time
	// until and says how many it holds.
	RenewReplications(ctx context.Context, holder string, until time.Time) (int, error)
	// FinishReplication ends t.Holder's claim of the task. If the task's
	// generation is still t.Generation, it takes the given status, failure
	// code, attempts and NotBefore (an IN_PROGRESS status retries it then)
	// and UpdatedAt now; otherwise it stays due as queued since. It
	// reports whether the generation matched; a task that is gone, or that
	// another holder claimed, is left alone (false).
	FinishReplication(ctx context.Context, t ReplicationTask, status, failureCode string, attempts int, notBefore, now time.Time) (bool, error)
	// ReleaseReplicationsOf ends every claim whose holder starts with
	// prefix (a process's previous run) and says how many it ended.
	ReleaseReplicationsOf(ctx context.Context, prefix string) (int, error)
	// CancelBackfillTasks deletes a backfill's tasks that are IN_PROGRESS
	// and held by nobody (or by an expired claim at now), and says how
	// many it deleted.
	CancelBackfillTasks(ctx context.Context, backfillID string, now time.Time) (int, error)

	// PutReplicationBackfill creates or replaces a backfill.
	PutReplicationBackfill(ctx context.Context, b ReplicationBackfill) error
	// PruneReplicationBackfills deletes up to limit inactive backfills
	// started before the time before, with their tasks' backfill IDs
	// cleared, and says how many it deleted.
	PruneReplicationBackfills(ctx context.Context, before time.Time, limit int) (int, error)

	// SetCursor records a named position.
	SetCursor(ctx context.Context, name string, value int64) error
}
