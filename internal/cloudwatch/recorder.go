package cloudwatch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// Recorder aggregates samples in memory, per series and minute, and
// writes them in batches: a pull or an API call costs no database write.
// Writes merge into stored points, so a partial minute flushed now and
// its rest flushed later add up, as do processes sharing the database.
type Recorder struct {
	meta metadata.Store
	now  func() time.Time
	log  *slog.Logger

	mu      sync.Mutex
	pending map[pointKey]*metadata.Datapoint
}

type pointKey struct {
	scope                   metadata.Scope
	namespace, metric, dims string
	start                   int64
}

// maxPending bounds the points held between flushes; beyond it samples
// are dropped and counted in the log, rather than memory growing.
const maxPending = 100_000

// NewRecorder returns a recorder writing to meta.
func NewRecorder(meta metadata.Store, now func() time.Time, log *slog.Logger) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{meta: meta, now: now, log: log, pending: map[pointKey]*metadata.Datapoint{}}
}

// Add records a sample of a metric of a registry at the current minute.
func (r *Recorder) Add(scope metadata.Scope, namespace, metric string, dims []Dimension, value float64) {
	r.AddAt(r.now(), scope, namespace, metric, dims, value)
}

// AddAt records a sample at the time at.
func (r *Recorder) AddAt(at time.Time, scope metadata.Scope, namespace, metric string, dims []Dimension, value float64) {
	start := at.Unix() - mod(at.Unix(), Minute)
	k := pointKey{scope, namespace, metric, Canonical(dims), start}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pending[k]; ok {
		merge(p, metadata.Datapoint{Sum: value, Count: 1, Min: value, Max: value})
		return
	}
	if len(r.pending) >= maxPending {
		return
	}
	r.pending[k] = &metadata.Datapoint{Scope: scope, Namespace: namespace, Metric: metric, Dimensions: k.dims,
		Start: time.Unix(start, 0).UTC(), Period: Minute, Sum: value, Count: 1, Min: value, Max: value}
}

// flushBatch bounds the points one transaction writes.
const flushBatch = 500

// Flush writes what was recorded. Points it could not write are put
// back, to be merged into the next flush.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	points := make([]metadata.Datapoint, 0, len(r.pending))
	for _, p := range r.pending {
		points = append(points, *p)
	}
	clear(r.pending)
	r.mu.Unlock()
	for i := 0; i < len(points); i += flushBatch {
		batch := points[i:min(i+flushBatch, len(points))]
		if err := r.meta.Update(ctx, func(tx metadata.Tx) error { return tx.AddDatapoints(ctx, batch) }); err != nil {
			r.putBack(points[i:])
			return err
		}
	}
	return nil
}

func (r *Recorder) putBack(points []metadata.Datapoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range points {
		k := pointKey{p.Scope, p.Namespace, p.Metric, p.Dimensions, p.Start.Unix()}
		if q, ok := r.pending[k]; ok {
			merge(q, p)
		} else if len(r.pending) < maxPending {
			q := p
			r.pending[k] = &q
		}
	}
}

// FlushInterval is how often Run writes.
const FlushInterval = 10 * time.Second

// Run flushes every FlushInterval until ctx ends, then once more.
func (r *Recorder) Run(ctx context.Context) {
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := r.Flush(fctx); err != nil {
				r.log.Warn("cloudwatch: writing datapoints at shutdown", "err", err)
			}
			return
		case <-t.C:
			if err := r.Flush(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("cloudwatch: writing datapoints", "err", err)
			}
		}
	}
}

// Pulled counts a pull in AWS/ECR RepositoryPullCount (registry.Activity).
func (r *Recorder) Pulled(repo metadata.RepoKey) {
	r.Add(repo.Scope, NamespaceECR, MetricPullCount, []Dimension{{DimRepositoryName, repo.Name}}, 1)
}

// Pushed is not a metric ECR publishes (registry.Activity).
func (r *Recorder) Pushed(metadata.RepoKey) {}

// usageServices are the services whose calls AWS/Usage CallCount counts,
// by CloudTrail eventSource, with the Service dimension they have.
var usageServices = map[string]string{
	"ecr.amazonaws.com":        "ECR",
	"monitoring.amazonaws.com": "CloudWatch",
}

// Observe counts an API call in AWS/Usage CallCount (reqinfo.Observer):
// calls of ECR (its API and the /v2 operations authorized as ECR's) and
// of CloudWatch, in the registry the call addressed.
func (r *Recorder) Observe(info *reqinfo.Info) {
	service, ok := usageServices[info.Service]
	if !ok || info.Operation == "" || info.Account == "" || info.Region == "" {
		return
	}
	r.Add(metadata.Scope{Account: info.Account, Region: info.Region}, NamespaceUsage, MetricCallCount,
		[]Dimension{{"Service", service}, {"Type", "API"}, {"Resource", info.Operation}, {"Class", "None"}}, 1)
}
