package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// taskColumns are a replication task's columns, with its repository's key.
const taskColumns = `t.repo_id, t.digest, r.account, r.region, r.name, t.dest_account, t.dest_region, t.status,
	t.failure_code, t.attempts, t.not_before, t.holder, t.lease_until, t.generation, t.backfill_id, t.updated_at`

func scanTask(sc scanner) (metadata.ReplicationTask, error) {
	var (
		t                         metadata.ReplicationTask
		dig                       string
		notBefore, lease, updated int64
	)
	err := sc.Scan(&t.RepoID, &dig, &t.Repo.Account, &t.Repo.Region, &t.Repo.Name, &t.Dest.Account, &t.Dest.Region, &t.Status,
		&t.FailureCode, &t.Attempts, &notBefore, &t.Holder, &lease, &t.Generation, &t.BackfillID, &updated)
	t.Digest = digest.Digest(dig)
	t.NotBefore = fromNanos(sql.NullInt64{Int64: notBefore, Valid: notBefore != 0})
	t.LeaseUntil = fromNanos(sql.NullInt64{Int64: lease, Valid: lease != 0})
	t.UpdatedAt = fromNanos(sql.NullInt64{Int64: updated, Valid: true})
	return t, err
}

func (r *reader) ReplicationTasks(ctx context.Context, repoID int64, d digest.Digest) ([]metadata.ReplicationTask, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+taskColumns+` FROM replication_tasks t JOIN repositories r ON r.id = t.repo_id
		WHERE t.repo_id = ? AND t.digest = ? ORDER BY t.dest_account, t.dest_region`, repoID, string(d))
	return scanAll(rows, err, scanTask)
}

// The backfill queries say backfill_id <> '', which the partial indexes
// on backfills' tasks require of a query that uses them.

const (
	backfillTasksSQL = `SELECT ` + taskColumns + ` FROM replication_tasks t JOIN repositories r ON r.id = t.repo_id
		WHERE t.backfill_id <> '' AND t.backfill_id = ?1 AND (t.repo_id > ?2 OR (t.repo_id = ?2 AND t.digest > ?3))
		ORDER BY t.repo_id, t.digest LIMIT ?4`
	backfillTasksByStatusSQL = `SELECT ` + taskColumns + ` FROM replication_tasks t JOIN repositories r ON r.id = t.repo_id
		WHERE t.backfill_id <> '' AND t.backfill_id = ?1 AND t.status = ?5 AND (t.repo_id > ?2 OR (t.repo_id = ?2 AND t.digest > ?3))
		ORDER BY t.repo_id, t.digest LIMIT ?4`
	backfillCountsSQL = `SELECT status, count(*) FROM replication_tasks
		WHERE backfill_id <> '' AND backfill_id = ? GROUP BY status`
)

func (r *reader) BackfillTasks(ctx context.Context, backfillID, status string, after metadata.ReplicationCursor, limit int) ([]metadata.ReplicationTask, error) {
	q, args := backfillTasksSQL, []any{backfillID, after.RepoID, string(after.Digest), limit}
	if status != "" {
		q, args = backfillTasksByStatusSQL, append(args, status)
	}
	rows, err := r.q.QueryContext(ctx, q, args...)
	return scanAll(rows, err, scanTask)
}

func (r *reader) BackfillTaskCounts(ctx context.Context, backfillID string) (map[string]int, error) {
	rows, err := r.q.QueryContext(ctx, backfillCountsSQL, backfillID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			status string
			n      int
		)
		if err := rows.Scan(&status, &n); err != nil {
			return nil, err
		}
		out[status] = n
	}
	return out, rows.Err()
}

const backfillColumns = `account, region, id, started_at, active, document`

func scanBackfill(sc scanner) (metadata.ReplicationBackfill, error) {
	var (
		b       metadata.ReplicationBackfill
		started int64
	)
	err := sc.Scan(&b.Scope.Account, &b.Scope.Region, &b.ID, &started, &b.Active, &b.Document)
	b.StartedAt = time.Unix(0, started).UTC()
	return b, err
}

func (r *reader) ReplicationBackfill(ctx context.Context, scope metadata.Scope, id string) (metadata.ReplicationBackfill, error) {
	b, err := scanBackfill(r.q.QueryRowContext(ctx, `SELECT `+backfillColumns+` FROM replication_backfills
		WHERE account = ? AND region = ? AND id = ?`, scope.Account, scope.Region, id))
	if err != nil {
		return metadata.ReplicationBackfill{}, notFound(err, "replication backfill %s", id)
	}
	return b, nil
}

func (r *reader) ReplicationBackfills(ctx context.Context, scope metadata.Scope, after string, limit int) ([]metadata.ReplicationBackfill, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+backfillColumns+` FROM replication_backfills
		WHERE account = ? AND region = ? AND id > ? ORDER BY id LIMIT ?`, scope.Account, scope.Region, after, limit)
	return scanAll(rows, err, scanBackfill)
}

// activeBackfillsSQL reads the partial index of active backfills whole:
// a registry runs few at once.
const activeBackfillsSQL = `SELECT ` + backfillColumns + ` FROM replication_backfills
	WHERE active = 1 ORDER BY started_at, id, account, region`

func (r *reader) ActiveReplicationBackfills(ctx context.Context) ([]metadata.ReplicationBackfill, error) {
	rows, err := r.q.QueryContext(ctx, activeBackfillsSQL)
	return scanAll(rows, err, scanBackfill)
}

func (r *reader) Cursor(ctx context.Context, name string) (int64, error) {
	var v int64
	err := r.q.QueryRowContext(ctx, `SELECT value FROM cursors WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

func (w *writeTx) QueueReplications(ctx context.Context, tasks []metadata.ReplicationTask, now time.Time) error {
	for _, t := range tasks {
		_, err := w.tx.ExecContext(ctx, `INSERT INTO replication_tasks (repo_id, digest, dest_account, dest_region, status,
				failure_code, attempts, not_before, holder, lease_until, generation, backfill_id, updated_at)
			VALUES (?, ?, ?, ?, 'IN_PROGRESS', '', 0, ?, '', 0, 1, ?, ?)
			ON CONFLICT (repo_id, digest, dest_account, dest_region) DO UPDATE SET status = 'IN_PROGRESS', failure_code = '',
				attempts = 0, not_before = excluded.not_before, generation = generation + 1,
				backfill_id = excluded.backfill_id, updated_at = excluded.updated_at`,
			t.RepoID, string(t.Digest), t.Dest.Account, t.Dest.Region, zeroNanos(t.NotBefore), t.BackfillID, nanos(now))
		if isConstraint(err) {
			return fmt.Errorf("replication of image %s of repository %d: %w", t.Digest, t.RepoID, metadata.ErrNotFound)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

const claimReplicationsSQL = `SELECT ` + taskColumns + ` FROM replication_tasks t JOIN repositories r ON r.id = t.repo_id
	WHERE t.status = 'IN_PROGRESS' AND t.not_before <= ?1 AND (t.holder = '' OR t.lease_until <= ?1)
	ORDER BY t.not_before, t.repo_id, t.digest, t.dest_account, t.dest_region LIMIT ?2`

func (w *writeTx) ClaimReplications(ctx context.Context, holder string, now, until time.Time, limit int) ([]metadata.ReplicationTask, error) {
	rows, err := w.tx.QueryContext(ctx, claimReplicationsSQL, nanos(now), limit)
	tasks, err := scanAll(rows, err, scanTask)
	if err != nil {
		return nil, err
	}
	for i := range tasks {
		t := &tasks[i]
		if _, err := w.tx.ExecContext(ctx, `UPDATE replication_tasks SET holder = ?, lease_until = ?
			WHERE repo_id = ? AND digest = ? AND dest_account = ? AND dest_region = ?`,
			holder, nanos(until), t.RepoID, string(t.Digest), t.Dest.Account, t.Dest.Region); err != nil {
			return nil, err
		}
		t.Holder, t.LeaseUntil = holder, until
	}
	return tasks, nil
}

const renewReplicationsSQL = `UPDATE replication_tasks SET lease_until = ? WHERE holder <> '' AND holder = ?`

func (w *writeTx) RenewReplications(ctx context.Context, holder string, until time.Time) (int, error) {
	return rowsAffected(w.tx.ExecContext(ctx, renewReplicationsSQL, nanos(until), holder))
}

func (w *writeTx) FinishReplication(ctx context.Context, t metadata.ReplicationTask, status, failureCode string, attempts int, notBefore, now time.Time) (bool, error) {
	if t.Holder == "" {
		return false, nil
	}
	// One statement: the claim ends either way; the outcome is recorded
	// only for the generation the holder copied.
	var matched bool
	err := w.tx.QueryRowContext(ctx, `UPDATE replication_tasks SET holder = '', lease_until = 0,
			status = CASE WHEN generation = ?1 THEN ?2 ELSE status END,
			failure_code = CASE WHEN generation = ?1 THEN ?3 ELSE failure_code END,
			attempts = CASE WHEN generation = ?1 THEN ?4 ELSE attempts END,
			not_before = CASE WHEN generation = ?1 THEN ?5 ELSE not_before END,
			updated_at = CASE WHEN generation = ?1 THEN ?6 ELSE updated_at END
		WHERE repo_id = ?7 AND digest = ?8 AND dest_account = ?9 AND dest_region = ?10 AND holder = ?11
		RETURNING generation = ?1`,
		t.Generation, status, failureCode, attempts, zeroNanos(notBefore), nanos(now),
		t.RepoID, string(t.Digest), t.Dest.Account, t.Dest.Region, t.Holder).Scan(&matched)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return matched, err
}

func (w *writeTx) ReleaseReplicationsOf(ctx context.Context, prefix string) (int, error) {
	// substr rather than LIKE: a holder's name may hold % or _.
	return rowsAffected(w.tx.ExecContext(ctx, `UPDATE replication_tasks SET holder = '', lease_until = 0
		WHERE holder <> '' AND substr(holder, 1, ?) = ?`, len(prefix), prefix))
}

const cancelBackfillSQL = `DELETE FROM replication_tasks
	WHERE backfill_id <> '' AND backfill_id = ? AND status = 'IN_PROGRESS' AND (holder = '' OR lease_until <= ?)`

func (w *writeTx) CancelBackfillTasks(ctx context.Context, backfillID string, now time.Time) (int, error) {
	return rowsAffected(w.tx.ExecContext(ctx, cancelBackfillSQL, backfillID, nanos(now)))
}

func (w *writeTx) PutReplicationBackfill(ctx context.Context, b metadata.ReplicationBackfill) error {
	doc := b.Document
	if doc == nil {
		doc = []byte{} // NOT NULL
	}
	_, err := w.tx.ExecContext(ctx, `INSERT INTO replication_backfills (`+backfillColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (account, region, id) DO UPDATE SET started_at = excluded.started_at, active = excluded.active,
			document = excluded.document`,
		b.Scope.Account, b.Scope.Region, b.ID, nanos(b.StartedAt), b.Active, doc)
	return err
}

const (
	endedBackfillsSQL = `SELECT account, region, id FROM replication_backfills
		WHERE active = 0 AND started_at < ? ORDER BY started_at LIMIT ?`
	clearBackfillSQL = `UPDATE replication_tasks SET backfill_id = '' WHERE backfill_id <> '' AND backfill_id = ?`
)

func (w *writeTx) PruneReplicationBackfills(ctx context.Context, before time.Time, limit int) (int, error) {
	rows, err := w.tx.QueryContext(ctx, endedBackfillsSQL, nanos(before), limit)
	old, err := scanAll(rows, err, func(sc scanner) (metadata.ReplicationBackfill, error) {
		var b metadata.ReplicationBackfill
		return b, sc.Scan(&b.Scope.Account, &b.Scope.Region, &b.ID)
	})
	if err != nil {
		return 0, err
	}
	for _, b := range old {
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM replication_backfills WHERE account = ? AND region = ? AND id = ?`,
			b.Scope.Account, b.Scope.Region, b.ID); err != nil {
			return 0, err
		}
		if _, err := w.tx.ExecContext(ctx, clearBackfillSQL, b.ID); err != nil {
			return 0, err
		}
	}
	return len(old), nil
}

func (w *writeTx) SetCursor(ctx context.Context, name string, value int64) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO cursors (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}

// rowsAffected returns how many rows a statement changed.
func rowsAffected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
