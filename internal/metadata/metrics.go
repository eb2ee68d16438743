package metadata

import (
	"context"
	"time"
)

// Datapoint is one period of one CloudWatch metric series: the statistics
// of the samples recorded in [Start, Start+Period). A series is keyed by
// registry (account and region), namespace, metric name and dimensions;
// the store keeps Dimensions as the opaque canonical text the metrics
// core makes of them.
type Datapoint struct {
	Scope      Scope
	Namespace  string
	Metric     string
	Dimensions string
	Start      time.Time // whole seconds
	Period     int       // seconds: 60, 300 or 3600
	Sum        float64
	Count      float64 // CloudWatch's SampleCount
	Min, Max   float64
}

// DatapointQuery selects the points of one series of one period whose
// start is in [From, To).
type DatapointQuery struct {
	Scope      Scope
	Namespace  string
	Metric     string
	Dimensions string
	Period     int
	From, To   time.Time
}

// MetricSeries names one series, for ListMetrics.
type MetricSeries struct {
	Namespace  string
	Metric     string
	Dimensions string
}

// RepositoryUsage is what a repository holds: its images, and the bytes
// of the blobs linked into it (each blob once per repository).
type RepositoryUsage struct {
	ID     int64
	Key    RepoKey
	Images int
	Bytes  int64
}

// QueueStats are the backlogs of background work.
type QueueStats struct {
	ScansPending    int
	ScansInProgress int
	// ReplicationsDue counts replication tasks IN_PROGRESS (queued or
	// being copied); OldestReplication is when the oldest of them was
	// last queued (zero when there is none).
	ReplicationsDue   int
	OldestReplication time.Time
}

// MetricsReader is the read side of metric datapoints and of the
// aggregates metrics sample.
type MetricsReader interface {
	// Datapoints lists the points q selects in Start order.
	Datapoints(ctx context.Context, q DatapointQuery) ([]Datapoint, error)
	// MetricSeries lists the distinct series of a registry that have a
	// point starting at or after since, in (Namespace, Metric,
	// Dimensions) order after the series after, at most limit of them;
	// namespace and metric, if not empty, select.
	MetricSeries(ctx context.Context, scope Scope, namespace, metric string, since time.Time, after MetricSeries, limit int) ([]MetricSeries, error)
	// OldDatapoints lists up to limit points of a period that start
	// before the time before, oldest first (for roll-ups and pruning).
	OldDatapoints(ctx context.Context, period int, before time.Time, limit int) ([]Datapoint, error)

	// RepositoryUsage lists repositories in ID order after the ID after,
	// at most limit of them, with their image count and bytes.
	RepositoryUsage(ctx context.Context, after int64, limit int) ([]RepositoryUsage, error)
	// QueueStats counts the scan and replication backlogs.
	QueueStats(ctx context.Context) (QueueStats, error)
}

// MetricsWriter is the write side of metric datapoints.
type MetricsWriter interface {
	// AddDatapoints merges points into the stored ones: a point of a
	// series and period that exists adds its Sum and Count and widens
	// Min and Max; one that does not is created.
	AddDatapoints(ctx context.Context, points []Datapoint) error
	// DeleteDatapoints removes the points with the keys of points (a
	// missing one is not an error).
	DeleteDatapoints(ctx context.Context, points []Datapoint) error
}
