package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

const datapointColumns = `account, region, namespace, metric, dimensions, period, period_start, sample_sum, sample_count, sample_min, sample_max`

func scanDatapoint(sc scanner) (metadata.Datapoint, error) {
	var (
		p     metadata.Datapoint
		start int64
	)
	err := sc.Scan(&p.Scope.Account, &p.Scope.Region, &p.Namespace, &p.Metric, &p.Dimensions, &p.Period, &start,
		&p.Sum, &p.Count, &p.Min, &p.Max)
	p.Start = time.Unix(0, start).UTC()
	return p, err
}

func (r *reader) Datapoints(ctx context.Context, q metadata.DatapointQuery) ([]metadata.Datapoint, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+datapointColumns+` FROM metric_datapoints
		WHERE account = ? AND region = ? AND namespace = ? AND metric = ? AND dimensions = ? AND period = ?
			AND period_start >= ? AND period_start < ? ORDER BY period_start`,
		q.Scope.Account, q.Scope.Region, q.Namespace, q.Metric, q.Dimensions, q.Period, nanos(q.From), nanos(q.To))
	return scanAll(rows, err, scanDatapoint)
}

func (r *reader) MetricSeries(ctx context.Context, scope metadata.Scope, namespace, metric string, since time.Time, after metadata.MetricSeries, limit int) ([]metadata.MetricSeries, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT DISTINCT namespace, metric, dimensions FROM metric_datapoints
		WHERE account = ?1 AND region = ?2 AND (?3 = '' OR namespace = ?3) AND (?4 = '' OR metric = ?4)
			AND period_start >= ?5
			AND (namespace > ?6 OR (namespace = ?6 AND (metric > ?7 OR (metric = ?7 AND dimensions > ?8))))
		ORDER BY namespace, metric, dimensions LIMIT ?9`,
		scope.Account, scope.Region, namespace, metric, nanos(since), after.Namespace, after.Metric, after.Dimensions, limit)
	return scanAll(rows, err, func(sc scanner) (metadata.MetricSeries, error) {
		var s metadata.MetricSeries
		return s, sc.Scan(&s.Namespace, &s.Metric, &s.Dimensions)
	})
}

func (r *reader) OldDatapoints(ctx context.Context, period int, before time.Time, limit int) ([]metadata.Datapoint, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+datapointColumns+` FROM metric_datapoints
		WHERE period = ? AND period_start < ?
		ORDER BY period_start LIMIT ?`, period, nanos(before), limit)
	return scanAll(rows, err, scanDatapoint)
}

func (r *reader) RepositoryUsage(ctx context.Context, after int64, limit int) ([]metadata.RepositoryUsage, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT r.id, r.account, r.region, r.name,
			(SELECT count(*) FROM images i WHERE i.repo_id = r.id),
			(SELECT coalesce(sum(b.size), 0) FROM repository_blobs b WHERE b.repo_id = r.id)
		FROM repositories r WHERE r.id > ? ORDER BY r.id LIMIT ?`, after, limit)
	return scanAll(rows, err, func(sc scanner) (metadata.RepositoryUsage, error) {
		var u metadata.RepositoryUsage
		return u, sc.Scan(&u.ID, &u.Key.Account, &u.Key.Region, &u.Key.Name, &u.Images, &u.Bytes)
	})
}

func (r *reader) QueueStats(ctx context.Context) (metadata.QueueStats, error) {
	var (
		s      metadata.QueueStats
		oldest sql.NullInt64
	)
	// The counts read the partial queue indexes.
	err := r.q.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM image_scans WHERE status IN ('PENDING', 'IN_PROGRESS') AND status = 'PENDING'),
			(SELECT count(*) FROM image_scans WHERE status IN ('PENDING', 'IN_PROGRESS') AND status = 'IN_PROGRESS'),
			(SELECT count(*) FROM replication_tasks WHERE status = 'IN_PROGRESS'),
			(SELECT min(updated_at) FROM replication_tasks WHERE status = 'IN_PROGRESS')`).
		Scan(&s.ScansPending, &s.ScansInProgress, &s.ReplicationsDue, &oldest)
	s.OldestReplication = fromNanos(oldest)
	return s, err
}

func (w *writeTx) AddDatapoints(ctx context.Context, points []metadata.Datapoint) error {
	for _, p := range points {
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO metric_datapoints (`+datapointColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (account, region, namespace, metric, dimensions, period, period_start) DO UPDATE SET
				sample_sum = sample_sum + excluded.sample_sum, sample_count = sample_count + excluded.sample_count,
				sample_min = min(sample_min, excluded.sample_min), sample_max = max(sample_max, excluded.sample_max)`,
			p.Scope.Account, p.Scope.Region, p.Namespace, p.Metric, p.Dimensions, p.Period, nanos(p.Start),
			p.Sum, p.Count, p.Min, p.Max); err != nil {
			return err
		}
	}
	return nil
}

func (w *writeTx) DeleteDatapoints(ctx context.Context, points []metadata.Datapoint) error {
	for _, p := range points {
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM metric_datapoints WHERE account = ? AND region = ? AND namespace = ?
			AND metric = ? AND dimensions = ? AND period = ? AND period_start = ?`,
			p.Scope.Account, p.Scope.Region, p.Namespace, p.Metric, p.Dimensions, p.Period, nanos(p.Start)); err != nil {
			return err
		}
	}
	return nil
}
