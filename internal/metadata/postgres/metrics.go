package postgres

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ecrd/ecrd/internal/metadata"
)

const datapointColumns = `account, region, namespace, metric, dimensions, period, period_start, sample_sum, sample_count, sample_min, sample_max`

func scanDatapoint(sc scanner) (metadata.Datapoint, error) {
	var p metadata.Datapoint
	err := sc.Scan(&p.Scope.Account, &p.Scope.Region, &p.Namespace, &p.Metric, &p.Dimensions, &p.Period, &p.Start,
		&p.Sum, &p.Count, &p.Min, &p.Max)
	p.Start = p.Start.UTC()
	return p, err
}

func (r *reader) Datapoints(ctx context.Context, q metadata.DatapointQuery) ([]metadata.Datapoint, error) {
	rows, err := r.q.Query(ctx, `SELECT `+datapointColumns+` FROM metric_datapoints
		WHERE account = $1 AND region = $2 AND namespace = $3 AND metric = $4 AND dimensions = $5 AND period = $6
			AND period_start >= $7 AND period_start < $8 ORDER BY period_start`,
		q.Scope.Account, q.Scope.Region, q.Namespace, q.Metric, q.Dimensions, q.Period, q.From, q.To)
	return scanAll(rows, err, scanDatapoint)
}

func (r *reader) MetricSeries(ctx context.Context, scope metadata.Scope, namespace, metric string, since time.Time, after metadata.MetricSeries, limit int) ([]metadata.MetricSeries, error) {
	rows, err := r.q.Query(ctx, `SELECT DISTINCT namespace, metric, dimensions FROM metric_datapoints
		WHERE account = $1 AND region = $2 AND ($3 = '' OR namespace = $3) AND ($4 = '' OR metric = $4)
			AND period_start >= $5 AND (namespace, metric, dimensions) > ($6, $7, $8)
		ORDER BY namespace, metric, dimensions LIMIT $9`,
		scope.Account, scope.Region, namespace, metric, since, after.Namespace, after.Metric, after.Dimensions, limit)
	return scanAll(rows, err, func(sc scanner) (metadata.MetricSeries, error) {
		var s metadata.MetricSeries
		return s, sc.Scan(&s.Namespace, &s.Metric, &s.Dimensions)
	})
}

func (r *reader) OldDatapoints(ctx context.Context, period int, before time.Time, limit int) ([]metadata.Datapoint, error) {
	rows, err := r.q.Query(ctx, `SELECT `+datapointColumns+` FROM metric_datapoints
		WHERE period = $1 AND period_start < $2
		ORDER BY period_start LIMIT $3`, period, before, limit)
	return scanAll(rows, err, scanDatapoint)
}

func (r *reader) RepositoryUsage(ctx context.Context, after int64, limit int) ([]metadata.RepositoryUsage, error) {
	rows, err := r.q.Query(ctx, `SELECT r.id, r.account, r.region, r.name,
			(SELECT count(*) FROM images i WHERE i.repo_id = r.id),
			(SELECT coalesce(sum(b.size), 0) FROM repository_blobs b WHERE b.repo_id = r.id)::bigint
		FROM repositories r WHERE r.id > $1 ORDER BY r.id LIMIT $2`, after, limit)
	return scanAll(rows, err, func(sc scanner) (metadata.RepositoryUsage, error) {
		var u metadata.RepositoryUsage
		return u, sc.Scan(&u.ID, &u.Key.Account, &u.Key.Region, &u.Key.Name, &u.Images, &u.Bytes)
	})
}

func (r *reader) QueueStats(ctx context.Context) (metadata.QueueStats, error) {
	var (
		s      metadata.QueueStats
		oldest pgtype.Timestamptz
	)
	err := r.q.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM image_scans WHERE status = 'PENDING'),
			(SELECT count(*) FROM image_scans WHERE status = 'IN_PROGRESS'),
			(SELECT count(*) FROM replication_tasks WHERE status = 'IN_PROGRESS'),
			(SELECT min(updated_at) FROM replication_tasks WHERE status = 'IN_PROGRESS')`).
		Scan(&s.ScansPending, &s.ScansInProgress, &s.ReplicationsDue, &oldest)
	s.OldestReplication = tm(oldest)
	return s, err
}

// sortedPoints orders points by key, so that two transactions writing
// the same points lock them in one order and never deadlock.
func sortedPoints(points []metadata.Datapoint) []metadata.Datapoint {
	out := slices.Clone(points)
	slices.SortFunc(out, func(a, b metadata.Datapoint) int {
		return cmp.Or(cmp.Compare(a.Scope.Account, b.Scope.Account), cmp.Compare(a.Scope.Region, b.Scope.Region),
			cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Dimensions, b.Dimensions),
			cmp.Compare(a.Period, b.Period), a.Start.Compare(b.Start))
	})
	return out
}

func (w *writeTx) AddDatapoints(ctx context.Context, points []metadata.Datapoint) error {
	for _, p := range sortedPoints(points) {
		if _, err := w.q.Exec(ctx, `INSERT INTO metric_datapoints (`+datapointColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (account, region, namespace, metric, dimensions, period, period_start) DO UPDATE SET
				sample_sum = metric_datapoints.sample_sum + excluded.sample_sum,
				sample_count = metric_datapoints.sample_count + excluded.sample_count,
				sample_min = least(metric_datapoints.sample_min, excluded.sample_min),
				sample_max = greatest(metric_datapoints.sample_max, excluded.sample_max)`,
			p.Scope.Account, p.Scope.Region, p.Namespace, p.Metric, p.Dimensions, p.Period, p.Start.UTC(),
			p.Sum, p.Count, p.Min, p.Max); err != nil {
			return err
		}
	}
	return nil
}

func (w *writeTx) DeleteDatapoints(ctx context.Context, points []metadata.Datapoint) error {
	for _, p := range sortedPoints(points) {
		if _, err := w.q.Exec(ctx, `DELETE FROM metric_datapoints WHERE account = $1 AND region = $2 AND namespace = $3
			AND metric = $4 AND dimensions = $5 AND period = $6 AND period_start = $7`,
			p.Scope.Account, p.Scope.Region, p.Namespace, p.Metric, p.Dimensions, p.Period, p.Start.UTC()); err != nil {
			return err
		}
	}
	return nil
}
