package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
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
		notBefore, lease, updated pgtype.Timestamptz
	)
	err := sc.Scan(&t.RepoID, &dig, &t.Repo.Account, &t.Repo.Region, &t.Repo.Name, &t.Dest.Account, &t.Dest.Region, &t.Status,
		&t.FailureCode, &t.Attempts, &notBefore, &t.Holder, &lease, &t.Generation, &t.BackfillID, &updated)
	t.Digest = digest.Digest(dig)
	t.NotBefore, t.LeaseUntil, t.UpdatedAt = tm(notBefore), tm(lease), tm(updated)
	return t, err
}

func (r *reader) ReplicationTasks(ctx context.Context, repoID int64, d digest.Digest) ([]metadata.ReplicationTask, error) {
	rows, err := r.q.Query(ctx, `SELECT `+taskColumns+` FROM replication_tasks t JOIN repositories r ON r.id = t.repo_id
		WHERE t.repo_id = $1 AND t.digest = $2 ORDER BY t.dest_account, t.dest_region`, repoID, string(d))
	return scanAll(rows, err, scanTask)
}

// The backfill queries say backfill_id <> '', which the partial indexes
// on backfills' tasks require of a query that uses them.

func (r *reader) BackfillTasks(ctx context.Context, backfillID, status string, after metadata.ReplicationCursor, limit int) ([]metadata.ReplicationTask, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if status == "" {
		rows, err = r.q.Query(ctx, `SELECT `+taskColumns+` FROM replication_tasks t JOIN repositories r ON r.id = t.repo_id
			WHERE t.backfill_id <> '' AND t.backfill_id = $1 AND (t.repo_id, t.digest) > ($2, $3)
			ORDER BY t.repo_id, t.digest LIMIT $4`, backfillID, after.RepoID, string(after.Digest), limit)
	} else {
		rows, err = r.q.Query(ctx, `SELECT `+taskColumns+` FROM replication_tasks t JOIN repositories r ON r.id = t.repo_id
			WHERE t.backfill_id <> '' AND t.backfill_id = $1 AND t.status = $2 AND (t.repo_id, t.digest) > ($3, $4)
			ORDER BY t.repo_id, t.digest LIMIT $5`, backfillID, status, after.RepoID, string(after.Digest), limit)
	}
	return scanAll(rows, err, scanTask)
}

func (r *reader) BackfillTaskCounts(ctx context.Context, backfillID string) (map[string]int, error) {
	type row struct {
		status string
		n      int
	}
	rows, err := r.q.Query(ctx, `SELECT status, count(*) FROM replication_tasks
		WHERE backfill_id <> '' AND backfill_id = $1 GROUP BY status`, backfillID)
	counted, err := scanAll(rows, err, func(sc scanner) (row, error) {
		var c row
		return c, sc.Scan(&c.status, &c.n)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(counted))
	for _, c := range counted {
		out[c.status] = c.n
	}
	return out, nil
}

const backfillColumns = `account, region, id, started_at, active, document`

func scanBackfill(sc scanner) (metadata.ReplicationBackfill, error) {
	var (
		b       metadata.ReplicationBackfill
		started pgtype.Timestamptz
	)
	err := sc.Scan(&b.Scope.Account, &b.Scope.Region, &b.ID, &started, &b.Active, &b.Document)
	b.StartedAt = tm(started)
	return b, err
}

func (r *reader) ReplicationBackfill(ctx context.Context, scope metadata.Scope, id string) (metadata.ReplicationBackfill, error) {
	b, err := scanBackfill(r.q.QueryRow(ctx, `SELECT `+backfillColumns+` FROM replication_backfills
		WHERE account = $1 AND region = $2 AND id = $3`, scope.Account, scope.Region, id))
	if err != nil {
		return metadata.ReplicationBackfill{}, notFound(err, "replication backfill %s", id)
	}
	return b, nil
}

func (r *reader) ReplicationBackfills(ctx context.Context, scope metadata.Scope, after string, limit int) ([]metadata.ReplicationBackfill, error) {
	rows, err := r.q.Query(ctx, `SELECT `+backfillColumns+` FROM replication_backfills
		WHERE account = $1 AND region = $2 AND id > $3 ORDER BY id LIMIT $4`, scope.Account, scope.Region, after, limit)
	return scanAll(rows, err, scanBackfill)
}

func (r *reader) ActiveReplicationBackfills(ctx context.Context) ([]metadata.ReplicationBackfill, error) {
	rows, err := r.q.Query(ctx, `SELECT `+backfillColumns+` FROM replication_backfills
		WHERE active ORDER BY started_at, id, account, region`)
	return scanAll(rows, err, scanBackfill)
}

func (r *reader) Cursor(ctx context.Context, name string) (int64, error) {
	var v int64
	err := r.q.QueryRow(ctx, `SELECT value FROM cursors WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// taskKey is a replication task's key.
type taskKey struct {
	repoID                  int64
	digest, account, region string
}

// QueueReplications queues the tasks in one statement. A statement may
// not update a row twice, so a task given more than once is queued once
// with its generation raised as many times and its last values, as
// queuing them one by one would leave it. Rows are written in key order,
// which keeps two batches from deadlocking. A task's repository is
// checked in the statement rather than left to the foreign key, whose
// violation would abort the transaction.
func (w *writeTx) QueueReplications(ctx context.Context, tasks []metadata.ReplicationTask, now time.Time) error {
	if len(tasks) == 0 {
		return nil
	}
	last := make(map[taskKey]metadata.ReplicationTask, len(tasks))
	times := make(map[taskKey]int64, len(tasks))
	for _, t := range tasks {
		k := taskKey{t.RepoID, string(t.Digest), t.Dest.Account, t.Dest.Region}
		last[k] = t
		times[k]++
	}
	keys := make([]taskKey, 0, len(last))
	for k := range last {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b taskKey) int {
		return cmp.Or(cmp.Compare(a.repoID, b.repoID), cmp.Compare(a.digest, b.digest),
			cmp.Compare(a.account, b.account), cmp.Compare(a.region, b.region))
	})
	n := len(keys)
	var (
		repos, gens                = make([]int64, n), make([]int64, n)
		ds, accounts, regions, bfs = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		notBefore                  = make([]time.Time, n)
	)
	for i, k := range keys {
		t := last[k]
		repos[i], ds[i], accounts[i], regions[i] = k.repoID, k.digest, k.account, k.region
		notBefore[i], bfs[i], gens[i] = t.NotBefore, t.BackfillID, times[k]
	}
	done, err := affected(w.q.Exec(ctx, `INSERT INTO replication_tasks (repo_id, digest, dest_account, dest_region, status,
			failure_code, attempts, not_before, holder, lease_until, generation, backfill_id, updated_at)
		SELECT u.repo_id, u.digest, u.dest_account, u.dest_region, 'IN_PROGRESS', '', 0, u.not_before, '', $8, u.generation,
			u.backfill_id, $9
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::bigint[])
			WITH ORDINALITY AS u (repo_id, digest, dest_account, dest_region, not_before, backfill_id, generation, n)
		WHERE EXISTS (SELECT 1 FROM repositories r WHERE r.id = u.repo_id)
		ORDER BY u.n
		ON CONFLICT (repo_id, digest, dest_account, dest_region) DO UPDATE SET status = 'IN_PROGRESS', failure_code = '',
			attempts = 0, not_before = excluded.not_before, generation = replication_tasks.generation + excluded.generation,
			backfill_id = excluded.backfill_id, updated_at = excluded.updated_at`,
		repos, ds, accounts, regions, notBefore, bfs, gens, time.Time{}, now))
	if err != nil {
		return err
	}
	if done < n {
		for _, k := range keys {
			var found bool
			if err := w.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM repositories WHERE id = $1)`, k.repoID).Scan(&found); err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("replication of image %s of repository %d: %w", k.digest, k.repoID, metadata.ErrNotFound)
			}
		}
	}
	return nil
}

// ClaimReplications takes the tasks in one statement. SKIP LOCKED passes
// over tasks another process's transaction is claiming at the same moment
// rather than waiting for it and then failing to serialize.
func (w *writeTx) ClaimReplications(ctx context.Context, holder string, now, until time.Time, limit int) ([]metadata.ReplicationTask, error) {
	rows, err := w.q.Query(ctx, `WITH claimed AS (
			SELECT repo_id, digest, dest_account, dest_region FROM replication_tasks
			WHERE status = 'IN_PROGRESS' AND not_before <= $1 AND (holder = '' OR lease_until <= $1)
			ORDER BY not_before, repo_id, digest, dest_account, dest_region LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE replication_tasks t SET holder = $3, lease_until = $4
		FROM claimed c, repositories r
		WHERE t.repo_id = c.repo_id AND t.digest = c.digest AND t.dest_account = c.dest_account AND t.dest_region = c.dest_region
			AND r.id = t.repo_id
		RETURNING `+taskColumns, now, limit, holder, until)
	tasks, err := scanAll(rows, err, scanTask)
	if err != nil {
		return nil, err
	}
	// RETURNING has no order: the oldest NotBefore first.
	slices.SortFunc(tasks, func(a, b metadata.ReplicationTask) int {
		return cmp.Or(a.NotBefore.Compare(b.NotBefore), cmp.Compare(a.RepoID, b.RepoID), cmp.Compare(a.Digest, b.Digest),
			cmp.Compare(a.Dest.Account, b.Dest.Account), cmp.Compare(a.Dest.Region, b.Dest.Region))
	})
	return tasks, nil
}

func (w *writeTx) RenewReplications(ctx context.Context, holder string, until time.Time) (int, error) {
	return affected(w.q.Exec(ctx, `UPDATE replication_tasks SET lease_until = $1 WHERE holder <> '' AND holder = $2`, until, holder))
}

func (w *writeTx) FinishReplication(ctx context.Context, t metadata.ReplicationTask, status, failureCode string, attempts int, notBefore, now time.Time) (bool, error) {
	if t.Holder == "" {
		return false, nil
	}
	// One statement: the claim ends either way; the outcome is recorded
	// only for the generation the holder copied.
	var matched bool
	err := w.q.QueryRow(ctx, `UPDATE replication_tasks SET holder = '', lease_until = $12,
			status = CASE WHEN generation = $1 THEN $2 ELSE status END,
			failure_code = CASE WHEN generation = $1 THEN $3 ELSE failure_code END,
			attempts = CASE WHEN generation = $1 THEN $4 ELSE attempts END,
			not_before = CASE WHEN generation = $1 THEN $5 ELSE not_before END,
			updated_at = CASE WHEN generation = $1 THEN $6 ELSE updated_at END
		WHERE repo_id = $7 AND digest = $8 AND dest_account = $9 AND dest_region = $10 AND holder = $11
		RETURNING generation = $1`,
		t.Generation, status, failureCode, attempts, notBefore, now,
		t.RepoID, string(t.Digest), t.Dest.Account, t.Dest.Region, t.Holder, time.Time{}).Scan(&matched)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return matched, err
}

func (w *writeTx) ReleaseReplicationsOf(ctx context.Context, prefix string) (int, error) {
	// starts_with rather than LIKE: a holder's name may hold % or _.
	return affected(w.q.Exec(ctx, `UPDATE replication_tasks SET holder = '', lease_until = $2
		WHERE holder <> '' AND starts_with(holder, $1)`, prefix, time.Time{}))
}

func (w *writeTx) CancelBackfillTasks(ctx context.Context, backfillID string, now time.Time) (int, error) {
	return affected(w.q.Exec(ctx, `DELETE FROM replication_tasks
		WHERE backfill_id <> '' AND backfill_id = $1 AND status = 'IN_PROGRESS' AND (holder = '' OR lease_until <= $2)`,
		backfillID, now))
}

func (w *writeTx) PutReplicationBackfill(ctx context.Context, b metadata.ReplicationBackfill) error {
	doc := b.Document
	if doc == nil {
		doc = []byte{} // NOT NULL
	}
	_, err := w.q.Exec(ctx, `INSERT INTO replication_backfills (`+backfillColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (account, region, id) DO UPDATE SET started_at = excluded.started_at, active = excluded.active,
			document = excluded.document`,
		b.Scope.Account, b.Scope.Region, b.ID, b.StartedAt, b.Active, doc)
	return err
}

func (w *writeTx) PruneReplicationBackfills(ctx context.Context, before time.Time, limit int) (int, error) {
	rows, err := w.q.Query(ctx, `DELETE FROM replication_backfills WHERE (account, region, id) IN (
			SELECT account, region, id FROM replication_backfills WHERE NOT active AND started_at < $1 ORDER BY started_at LIMIT $2)
		RETURNING id`, before, limit)
	ids, err := scanAll(rows, err, scanString)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	_, err = w.q.Exec(ctx, `UPDATE replication_tasks SET backfill_id = '' WHERE backfill_id <> '' AND backfill_id = ANY($1)`, ids)
	return len(ids), err
}

func (w *writeTx) SetCursor(ctx context.Context, name string, value int64) error {
	_, err := w.q.Exec(ctx, `INSERT INTO cursors (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}
