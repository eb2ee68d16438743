package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// ImageGraph reads a repository in three index scans (after counting) on
// one snapshot: images in push order (the order they were first put in breaks ties
// between equal push times), tags, and index children.
func (r *reader) ImageGraph(ctx context.Context, repoID int64) ([]metadata.GraphImage, error) {
	var out []metadata.GraphImage
	err := r.snapshot(ctx, func(q db) error {
		// Sized first: growing a slice of 100,000 images as they come
		// costs more than counting them.
		var n int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM images WHERE repo_id = $1`, repoID).Scan(&n); err != nil {
			return err
		}
		out = make([]metadata.GraphImage, 0, n)
		index := make(map[digest.Digest]int, n)
		rows, err := q.Query(ctx, `SELECT i.digest, i.subject, i.storage_class, i.pushed_at, i.last_pulled_at, i.archived_at, i.activated_at
			FROM images i WHERE i.repo_id = $1 ORDER BY i.pushed_at, i.seq`, repoID)
		if err != nil {
			return err
		}
		var (
			dig, class                          string
			subject                             pgtype.Text
			pushed, pulled, archived, activated pgtype.Timestamptz
		)
		for rows.Next() {
			if err := rows.Scan(&dig, &subject, &class, &pushed, &pulled, &archived, &activated); err != nil {
				rows.Close()
				return err
			}
			img := metadata.GraphImage{
				Digest: digest.Digest(dig), Subject: digest.Digest(subject.String), StorageClass: metadata.InternStorageClass(class),
				PushedAt: tm(pushed), LastPulledAt: tm(pulled), LastArchivedAt: tm(archived), LastActivatedAt: tm(activated),
			}
			index[img.Digest] = len(out)
			out = append(out, img)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		add := func(query string, fn func(i int, v string)) error {
			rows, err := q.Query(ctx, query, repoID)
			if err != nil {
				return err
			}
			defer rows.Close()
			var d, v string
			for rows.Next() {
				if err := rows.Scan(&d, &v); err != nil {
					return err
				}
				if i, ok := index[digest.Digest(d)]; ok {
					fn(i, v)
				}
			}
			return rows.Err()
		}
		if err := add(`SELECT digest, name FROM tags WHERE repo_id = $1 ORDER BY digest, name`, func(i int, v string) {
			out[i].Tags = append(out[i].Tags, v)
		}); err != nil {
			return err
		}
		return add(`SELECT digest, ref FROM image_refs WHERE repo_id = $1 AND kind = 1 ORDER BY digest, ref`, func(i int, v string) {
			out[i].Children = append(out[i].Children, digest.Digest(v))
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

const policyColumns = `p.repo_id, r.account, r.region, r.name, p.text, p.updated_at, p.last_evaluated_at`

func scanPolicy(sc scanner) (metadata.LifecyclePolicy, error) {
	var (
		p                  metadata.LifecyclePolicy
		updated, evaluated pgtype.Timestamptz
	)
	if err := sc.Scan(&p.RepoID, &p.Repo.Account, &p.Repo.Region, &p.Repo.Name, &p.Text, &updated, &evaluated); err != nil {
		return metadata.LifecyclePolicy{}, err
	}
	p.UpdatedAt, p.LastEvaluatedAt = tm(updated), tm(evaluated)
	return p, nil
}

func (r *reader) LifecyclePolicy(ctx context.Context, repoID int64) (metadata.LifecyclePolicy, error) {
	p, err := scanPolicy(r.q.QueryRow(ctx, `SELECT `+policyColumns+` FROM lifecycle_policies p
		JOIN repositories r ON r.id = p.repo_id WHERE p.repo_id = $1`, repoID))
	if err != nil {
		return metadata.LifecyclePolicy{}, notFound(err, "lifecycle policy of repository %d", repoID)
	}
	return p, nil
}

func (r *reader) LifecyclePolicies(ctx context.Context, after int64, limit int) ([]metadata.LifecyclePolicy, error) {
	rows, err := r.q.Query(ctx, `SELECT `+policyColumns+` FROM lifecycle_policies p
		JOIN repositories r ON r.id = p.repo_id WHERE p.repo_id > $1 ORDER BY p.repo_id LIMIT $2`, after, limit)
	return scanAll(rows, err, scanPolicy)
}

func (r *reader) LifecyclePreview(ctx context.Context, repoID int64) (metadata.LifecyclePreview, error) {
	var (
		p               metadata.LifecyclePreview
		started, evalAt pgtype.Timestamptz
	)
	err := r.q.QueryRow(ctx, `SELECT repo_id, text, status, started_at, evaluate_at FROM lifecycle_previews WHERE repo_id = $1`, repoID).
		Scan(&p.RepoID, &p.Text, &p.Status, &started, &evalAt)
	if err != nil {
		return metadata.LifecyclePreview{}, notFound(err, "lifecycle policy preview of repository %d", repoID)
	}
	p.StartedAt, p.EvaluateAt = tm(started), tm(evalAt)
	return p, nil
}

func (r *reader) LifecyclePreviewResults(ctx context.Context, repoID int64) ([]byte, error) {
	var b []byte
	err := r.q.QueryRow(ctx, `SELECT results FROM lifecycle_previews WHERE repo_id = $1`, repoID).Scan(&b)
	if err != nil {
		return nil, notFound(err, "lifecycle policy preview of repository %d", repoID)
	}
	return b, nil
}

func (r *reader) PullTimeExclusions(ctx context.Context, scope metadata.Scope) ([]metadata.PullTimeExclusion, error) {
	rows, err := r.q.Query(ctx, `SELECT principal, created_at FROM pull_time_exclusions
		WHERE account = $1 AND region = $2 ORDER BY principal`, scope.Account, scope.Region)
	return scanAll(rows, err, func(sc scanner) (metadata.PullTimeExclusion, error) {
		var (
			e  metadata.PullTimeExclusion
			at pgtype.Timestamptz
		)
		err := sc.Scan(&e.Principal, &at)
		e.CreatedAt = tm(at)
		return e, err
	})
}

func (w *writeTx) SetImageStorage(ctx context.Context, repoID int64, d digest.Digest, class string, archivedAt, activatedAt time.Time) error {
	return expectOne(w.q.Exec(ctx, `UPDATE images SET storage_class = $1, archived_at = $2, activated_at = $3 WHERE repo_id = $4 AND digest = $5`,
		class, nullTime(archivedAt), nullTime(activatedAt), repoID, string(d)))("manifest %s", d)
}

func (w *writeTx) SetImageTimes(ctx context.Context, repoID int64, d digest.Digest, pushedAt, lastPulledAt time.Time) error {
	return expectOne(w.q.Exec(ctx, `UPDATE images SET pushed_at = COALESCE($1, pushed_at), last_pulled_at = COALESCE($2, last_pulled_at)
		WHERE repo_id = $3 AND digest = $4`, nullTime(pushedAt), nullTime(lastPulledAt), repoID, string(d)))("manifest %s", d)
}

func (w *writeTx) PutLifecyclePolicy(ctx context.Context, repoID int64, text string, now time.Time) error {
	_, err := w.q.Exec(ctx, `INSERT INTO lifecycle_policies (repo_id, text, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (repo_id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at`, repoID, text, now)
	return err
}

func (w *writeTx) DeleteLifecyclePolicy(ctx context.Context, repoID int64) error {
	return expectOne(w.q.Exec(ctx, `DELETE FROM lifecycle_policies WHERE repo_id = $1`, repoID))("lifecycle policy of repository %d", repoID)
}

func (w *writeTx) SetLifecycleEvaluated(ctx context.Context, repoID int64, at time.Time) error {
	_, err := w.q.Exec(ctx, `UPDATE lifecycle_policies SET last_evaluated_at = $1 WHERE repo_id = $2`, at, repoID)
	return err
}

func (w *writeTx) PutLifecyclePreview(ctx context.Context, p metadata.LifecyclePreview) error {
	_, err := w.q.Exec(ctx, `INSERT INTO lifecycle_previews (repo_id, text, status, started_at, evaluate_at, results)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (repo_id) DO UPDATE SET text = excluded.text, status = excluded.status, started_at = excluded.started_at,
			evaluate_at = excluded.evaluate_at, results = excluded.results`,
		p.RepoID, p.Text, p.Status, p.StartedAt, p.EvaluateAt, p.Results)
	return err
}

func (w *writeTx) PutPullTimeExclusion(ctx context.Context, scope metadata.Scope, e metadata.PullTimeExclusion) error {
	n, err := affected(w.q.Exec(ctx, `INSERT INTO pull_time_exclusions (account, region, principal, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, scope.Account, scope.Region, e.Principal, e.CreatedAt))
	if err == nil && n == 0 {
		return fmt.Errorf("pull time exclusion %s: %w", e.Principal, metadata.ErrExists)
	}
	return err
}

func (w *writeTx) DeletePullTimeExclusion(ctx context.Context, scope metadata.Scope, principal string) error {
	return expectOne(w.q.Exec(ctx, `DELETE FROM pull_time_exclusions WHERE account = $1 AND region = $2 AND principal = $3`,
		scope.Account, scope.Region, principal))("pull time exclusion %s", principal)
}

// AcquireLease takes a free lease or renews the holder's in one upsert:
// under serializable isolation two processes racing for a lease cannot
// both see it free; the loser runs again and finds it held.
func (w *writeTx) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	n, err := affected(w.q.Exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`, name, holder, until, now))
	return n == 1, err
}

func (w *writeTx) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := w.q.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	return err
}

func (w *writeTx) ReleaseLeasesOf(ctx context.Context, prefix string) (int, error) {
	// starts_with rather than LIKE: a holder's name may hold % or _.
	return affected(w.q.Exec(ctx, `DELETE FROM leases WHERE starts_with(holder, $1)`, prefix))
}
