package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// ImageGraph reads a repository in three scans: images in push order (the
// rowid breaks ties between equal push times), tags, and index children.
func (r *reader) ImageGraph(ctx context.Context, repoID int64) ([]metadata.GraphImage, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT i.digest, i.subject, i.storage_class, i.pushed_at, i.last_pulled_at, i.archived_at, i.activated_at
		FROM images i WHERE i.repo_id = ? ORDER BY i.pushed_at, i.rowid`, repoID)
	if err != nil {
		return nil, err
	}
	var (
		out                                 []metadata.GraphImage
		index                               = map[digest.Digest]int{}
		dig, class                          string
		subject                             sql.NullString
		pushed, pulled, archived, activated sql.NullInt64
	)
	for rows.Next() {
		if err := rows.Scan(&dig, &subject, &class, &pushed, &pulled, &archived, &activated); err != nil {
			rows.Close()
			return nil, err
		}
		img := metadata.GraphImage{
			Digest: digest.Digest(dig), Subject: digest.Digest(subject.String), StorageClass: metadata.InternStorageClass(class),
			PushedAt: fromNanos(pushed), LastPulledAt: fromNanos(pulled), LastArchivedAt: fromNanos(archived), LastActivatedAt: fromNanos(activated),
		}
		index[img.Digest] = len(out)
		out = append(out, img)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	add := func(query string, fn func(i int, v string)) error {
		rows, err := r.q.QueryContext(ctx, query, repoID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d, v string
			if err := rows.Scan(&d, &v); err != nil {
				return err
			}
			if i, ok := index[digest.Digest(d)]; ok {
				fn(i, v)
			}
		}
		return rows.Err()
	}
	if err := add(`SELECT digest, name FROM tags WHERE repo_id = ? ORDER BY digest, name`, func(i int, v string) {
		out[i].Tags = append(out[i].Tags, v)
	}); err != nil {
		return nil, err
	}
	if err := add(`SELECT digest, ref FROM image_refs WHERE repo_id = ? AND kind = 1 ORDER BY digest, ref`, func(i int, v string) {
		out[i].Children = append(out[i].Children, digest.Digest(v))
	}); err != nil {
		return nil, err
	}
	return out, nil
}

const policyColumns = `p.repo_id, r.account, r.region, r.name, p.text, p.updated_at, p.last_evaluated_at`

func scanPolicy(sc scanner) (metadata.LifecyclePolicy, error) {
	var (
		p                  metadata.LifecyclePolicy
		updated, evaluated sql.NullInt64
	)
	if err := sc.Scan(&p.RepoID, &p.Repo.Account, &p.Repo.Region, &p.Repo.Name, &p.Text, &updated, &evaluated); err != nil {
		return metadata.LifecyclePolicy{}, err
	}
	p.UpdatedAt, p.LastEvaluatedAt = fromNanos(updated), fromNanos(evaluated)
	return p, nil
}

func (r *reader) LifecyclePolicy(ctx context.Context, repoID int64) (metadata.LifecyclePolicy, error) {
	p, err := scanPolicy(r.q.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM lifecycle_policies p
		JOIN repositories r ON r.id = p.repo_id WHERE p.repo_id = ?`, repoID))
	if err != nil {
		return metadata.LifecyclePolicy{}, notFound(err, "lifecycle policy of repository %d", repoID)
	}
	return p, nil
}

func (r *reader) LifecyclePolicies(ctx context.Context, after int64, limit int) ([]metadata.LifecyclePolicy, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+policyColumns+` FROM lifecycle_policies p
		JOIN repositories r ON r.id = p.repo_id WHERE p.repo_id > ? ORDER BY p.repo_id LIMIT ?`, after, limit)
	return scanAll(rows, err, scanPolicy)
}

func (r *reader) LifecyclePreview(ctx context.Context, repoID int64) (metadata.LifecyclePreview, error) {
	var (
		p               metadata.LifecyclePreview
		started, evalAt int64
	)
	err := r.q.QueryRowContext(ctx, `SELECT repo_id, text, status, started_at, evaluate_at FROM lifecycle_previews WHERE repo_id = ?`, repoID).
		Scan(&p.RepoID, &p.Text, &p.Status, &started, &evalAt)
	if err != nil {
		return metadata.LifecyclePreview{}, notFound(err, "lifecycle policy preview of repository %d", repoID)
	}
	p.StartedAt, p.EvaluateAt = time.Unix(0, started).UTC(), time.Unix(0, evalAt).UTC()
	return p, nil
}

func (r *reader) LifecyclePreviewResults(ctx context.Context, repoID int64) ([]byte, error) {
	var b []byte
	err := r.q.QueryRowContext(ctx, `SELECT results FROM lifecycle_previews WHERE repo_id = ?`, repoID).Scan(&b)
	if err != nil {
		return nil, notFound(err, "lifecycle policy preview of repository %d", repoID)
	}
	return b, nil
}

func (r *reader) PullTimeExclusions(ctx context.Context, scope metadata.Scope) ([]metadata.PullTimeExclusion, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT principal, created_at FROM pull_time_exclusions
		WHERE account = ? AND region = ? ORDER BY principal`, scope.Account, scope.Region)
	return scanAll(rows, err, func(sc scanner) (metadata.PullTimeExclusion, error) {
		var (
			e  metadata.PullTimeExclusion
			at int64
		)
		err := sc.Scan(&e.Principal, &at)
		e.CreatedAt = time.Unix(0, at).UTC()
		return e, err
	})
}

// nullTime stores a zero time as NULL.
func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: nanos(t), Valid: true}
}

func (w *writeTx) SetImageStorage(ctx context.Context, repoID int64, d digest.Digest, class string, archivedAt, activatedAt time.Time) error {
	return expectOne(w.tx.ExecContext(ctx, `UPDATE images SET storage_class = ?, archived_at = ?, activated_at = ? WHERE repo_id = ? AND digest = ?`,
		class, nullTime(archivedAt), nullTime(activatedAt), repoID, string(d)))("manifest %s", d)
}

func (w *writeTx) SetImageTimes(ctx context.Context, repoID int64, d digest.Digest, pushedAt, lastPulledAt time.Time) error {
	return expectOne(w.tx.ExecContext(ctx, `UPDATE images SET pushed_at = COALESCE(?, pushed_at), last_pulled_at = COALESCE(?, last_pulled_at)
		WHERE repo_id = ? AND digest = ?`, nullTime(pushedAt), nullTime(lastPulledAt), repoID, string(d)))("manifest %s", d)
}

func (w *writeTx) PutLifecyclePolicy(ctx context.Context, repoID int64, text string, now time.Time) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO lifecycle_policies (repo_id, text, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (repo_id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at`, repoID, text, nanos(now))
	return err
}

func (w *writeTx) DeleteLifecyclePolicy(ctx context.Context, repoID int64) error {
	return expectOne(w.tx.ExecContext(ctx, `DELETE FROM lifecycle_policies WHERE repo_id = ?`, repoID))("lifecycle policy of repository %d", repoID)
}

func (w *writeTx) SetLifecycleEvaluated(ctx context.Context, repoID int64, at time.Time) error {
	_, err := w.tx.ExecContext(ctx, `UPDATE lifecycle_policies SET last_evaluated_at = ? WHERE repo_id = ?`, nanos(at), repoID)
	return err
}

func (w *writeTx) PutLifecyclePreview(ctx context.Context, p metadata.LifecyclePreview) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO lifecycle_previews (repo_id, text, status, started_at, evaluate_at, results)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo_id) DO UPDATE SET text = excluded.text, status = excluded.status, started_at = excluded.started_at,
			evaluate_at = excluded.evaluate_at, results = excluded.results`,
		p.RepoID, p.Text, p.Status, nanos(p.StartedAt), nanos(p.EvaluateAt), p.Results)
	return err
}

func (w *writeTx) PutPullTimeExclusion(ctx context.Context, scope metadata.Scope, e metadata.PullTimeExclusion) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO pull_time_exclusions (account, region, principal, created_at) VALUES (?, ?, ?, ?)`,
		scope.Account, scope.Region, e.Principal, nanos(e.CreatedAt))
	if isConstraint(err) {
		return fmt.Errorf("pull time exclusion %s: %w", e.Principal, metadata.ErrExists)
	}
	return err
}

func (w *writeTx) DeletePullTimeExclusion(ctx context.Context, scope metadata.Scope, principal string) error {
	return expectOne(w.tx.ExecContext(ctx, `DELETE FROM pull_time_exclusions WHERE account = ? AND region = ? AND principal = ?`,
		scope.Account, scope.Region, principal))("pull time exclusion %s", principal)
}

func (w *writeTx) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	res, err := w.tx.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`, name, holder, nanos(until), nanos(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (w *writeTx) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := w.tx.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
	return err
}

func (w *writeTx) ReleaseLeasesOf(ctx context.Context, prefix string) (int, error) {
	// substr rather than LIKE: a holder's name may hold % or _.
	res, err := w.tx.ExecContext(ctx, `DELETE FROM leases WHERE substr(holder, 1, ?) = ?`, len(prefix), prefix)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
