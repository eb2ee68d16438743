package metrics

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// DefaultRepositories is the default bound on per-repository series.
const DefaultRepositories = 100

// other is the label of what is beyond the bound, and unknown that of a
// request field no adapter filled.
const (
	other   = "other"
	unknown = "unknown"
)

// StatsSource is what the registry core reports of its background jobs.
type StatsSource interface {
	Stats() registry.Stats
}

// DeliveryStats is event delivery's backlog (internal/events/delivery).
type DeliveryStats struct {
	// Pending counts deliveries not yet made (queued or being retried).
	Pending int64
	// DeadLetters counts deliveries given up on, kept for a redrive.
	DeadLetters int64
	// OldestPending is when the oldest pending delivery's event was
	// recorded (zero when none is pending).
	OldestPending time.Time
}

// DeliverySource is the hook event delivery plugs into: cmd/ecrd adapts
// the delivery engine's Stats to it.
type DeliverySource interface {
	DeliveryStats(ctx context.Context) (DeliveryStats, error)
}

// Options configure Metrics.
type Options struct {
	// Meta is sampled for queues, backlogs and repository usage.
	Meta metadata.Reader
	// Registry reports garbage collection and lifecycle runs.
	Registry StatsSource
	// Repositories bounds per-repository series (0: DefaultRepositories).
	Repositories int
	// Interval is how often the queues and backlogs are sampled (0: 15 s);
	// repository usage is sampled every fourth time.
	Interval time.Duration
	Now      func() time.Time
	Log      *slog.Logger
}

// followers are the outbox cursors whose backlog is exported.
var followers = []string{"replication-feed"}

// Metrics is ecrd's Prometheus registry and what feeds it.
type Metrics struct {
	opts Options
	reg  *prometheus.Registry

	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec

	pulls, pushes *prometheus.CounterVec
	repos         boundedSet

	scans     *prometheus.CounterVec
	criticals *prometheus.GaugeVec
	critRepos boundedSet

	scanQueue      *prometheus.GaugeVec
	replBacklog    prometheus.Gauge
	replLag        prometheus.Gauge
	lastEventID    prometheus.Gauge
	outboxBacklog  *prometheus.GaugeVec
	repoImages     *prometheus.GaugeVec
	repoBytes      *prometheus.GaugeVec
	sampleFailures prometheus.Counter

	jobs       *jobsCollector
	deliveryMu sync.Mutex
	delivery   DeliverySource
}

// New returns the metrics, registered.
func New(o Options) *Metrics {
	if o.Repositories <= 0 {
		o.Repositories = DefaultRepositories
	}
	if o.Interval <= 0 {
		o.Interval = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	m := &Metrics{opts: o, reg: prometheus.NewRegistry(), jobs: &jobsCollector{src: o.Registry},
		repos: newBoundedSet(o.Repositories), critRepos: newBoundedSet(o.Repositories)}
	reqLabels := []string{"service", "operation", "status_class"}
	repoLabels := []string{"account", "region", "repository"}
	f := factory{m.reg}
	m.requests = f.counterVec("ecrd_requests_total", "Requests answered, by AWS service (CloudTrail's eventSource), operation and status class.", reqLabels)
	m.errors = f.counterVec("ecrd_request_errors_total", "Requests that failed, by service, operation, HTTP status and the error code answered.",
		[]string{"service", "operation", "status", "error_code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ecrd_request_duration_seconds",
		Help:    "Time from a request's arrival to its answer written, by service, operation and status class.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, reqLabels)
	m.reg.MustRegister(m.duration)
	m.bytesIn = f.counterVec("ecrd_request_bytes_received_total", "Request body bytes received, by service and operation.", reqLabels[:2])
	m.bytesOut = f.counterVec("ecrd_response_bytes_sent_total", "Response body bytes sent, by service and operation.", reqLabels[:2])
	m.pulls = f.counterVec("ecrd_image_pulls_total", "Images pulled through this process, by repository (bounded: the rest under \"other\").", repoLabels)
	m.pushes = f.counterVec("ecrd_image_pushes_total", "Images pushed through this process, by repository (bounded: the rest under \"other\").", repoLabels)
	m.scans = f.counterVec("ecrd_scans_total", "Image scans finished in the cluster since this process started, by outcome (COMPLETE, FAILED, UNSUPPORTED_IMAGE).", []string{"status"})
	m.criticals = f.gaugeVec("ecrd_scan_critical_findings", "CRITICAL findings of the last completed scan in each repository (bounded).", repoLabels)
	m.scanQueue = f.gaugeVec("ecrd_scan_queue", "Scan jobs waiting (pending) and running (in_progress).", []string{"state"})
	m.replBacklog = f.gauge("ecrd_replication_backlog", "Replication tasks queued or being copied.")
	m.replLag = f.gauge("ecrd_replication_lag_seconds", "Age of the oldest replication task still queued or being copied (0: none).")
	m.lastEventID = f.gauge("ecrd_outbox_last_event_id", "ID of the newest event in the outbox.")
	m.outboxBacklog = f.gaugeVec("ecrd_outbox_backlog", "Events recorded that an outbox follower has not read yet.", []string{"follower"})
	m.repoImages = f.gaugeVec("ecrd_repository_images", "Images per repository (the largest by bytes; the rest summed under \"other\").", repoLabels)
	m.repoBytes = f.gaugeVec("ecrd_repository_storage_bytes", "Bytes of the blobs linked into each repository (the largest; the rest summed under \"other\").", repoLabels)
	m.sampleFailures = f.counter("ecrd_metrics_sample_failures_total", "Periodic samples of the metadata store that failed.")
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.jobs, deliveryCollector{m})
	return m
}

// Registry is the Prometheus registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.opts.Log.Handler(), slog.LevelWarn)}))
	return mux
}

// SetRegistry sets the source of garbage collection and lifecycle
// counters (the registry is made after the metrics it reports pulls to).
func (m *Metrics) SetRegistry(s StatsSource) {
	m.jobs.set(s)
}

// SetDelivery plugs event delivery's backlog in.
func (m *Metrics) SetDelivery(d DeliverySource) {
	m.deliveryMu.Lock()
	m.delivery = d
	m.deliveryMu.Unlock()
}

// Observe counts a finished request (reqinfo.Observer).
func (m *Metrics) Observe(info *reqinfo.Info) {
	service, operation := orUnknown(info.Service), orUnknown(info.Operation)
	class := statusClass(info.Status)
	m.requests.WithLabelValues(service, operation, class).Inc()
	m.duration.WithLabelValues(service, operation, class).Observe(info.Duration.Seconds())
	if info.BytesIn > 0 {
		m.bytesIn.WithLabelValues(service, operation).Add(float64(info.BytesIn))
	}
	if info.BytesOut > 0 {
		m.bytesOut.WithLabelValues(service, operation).Add(float64(info.BytesOut))
	}
	if info.Status >= 400 {
		m.errors.WithLabelValues(service, operation, strconv.Itoa(info.Status), orUnknown(info.ErrorCode)).Inc()
	}
}

// Pulled counts a pull (registry.Activity).
func (m *Metrics) Pulled(repo metadata.RepoKey) {
	m.pulls.WithLabelValues(m.repos.labels(repo)...).Inc()
}

// Pushed counts a push (registry.Activity).
func (m *Metrics) Pushed(repo metadata.RepoKey) {
	m.pushes.WithLabelValues(m.repos.labels(repo)...).Inc()
}

// Event reads scan outcomes from the outbox (an outbox.Handler).
func (m *Metrics) Event(e metadata.Event) {
	if e.Type != outbox.TypeImageScan {
		return
	}
	var env struct {
		Detail struct {
			Status string         `json:"scan-status"`
			Repo   string         `json:"repository-name"`
			Counts map[string]int `json:"finding-severity-counts"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(e.Document, &env); err != nil || env.Detail.Status == "" {
		return
	}
	m.scans.WithLabelValues(env.Detail.Status).Inc()
	if env.Detail.Status == metadata.ScanComplete {
		key := metadata.RepoKey{Scope: e.Scope, Name: env.Detail.Repo}
		labels := m.critRepos.labels(key)
		if labels[2] == other {
			// Beyond the bound, "other" keeps the worst recent scan.
			if g := m.criticals.WithLabelValues(labels...); gaugeValue(g) < float64(env.Detail.Counts["CRITICAL"]) {
				g.Set(float64(env.Detail.Counts["CRITICAL"]))
			}
			return
		}
		m.criticals.WithLabelValues(labels...).Set(float64(env.Detail.Counts["CRITICAL"]))
	}
}

// Run samples the metadata store until ctx ends.
func (m *Metrics) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for i := 0; ; i++ {
		m.sampleQueues(ctx)
		if i%4 == 0 {
			m.sampleUsage(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Metrics) failed(what string, err error) {
	m.sampleFailures.Inc()
	m.opts.Log.Warn("metrics: sampling "+what, "err", err)
}

// sampleQueues reads the scan queue, the replication backlog and the
// outbox followers' positions.
func (m *Metrics) sampleQueues(ctx context.Context) {
	if m.opts.Meta == nil {
		return
	}
	q, err := m.opts.Meta.QueueStats(ctx)
	if err != nil {
		m.failed("queues", err)
		return
	}
	m.scanQueue.WithLabelValues("pending").Set(float64(q.ScansPending))
	m.scanQueue.WithLabelValues("in_progress").Set(float64(q.ScansInProgress))
	m.replBacklog.Set(float64(q.ReplicationsDue))
	lag := 0.0
	if !q.OldestReplication.IsZero() {
		lag = max(m.opts.Now().Sub(q.OldestReplication).Seconds(), 0)
	}
	m.replLag.Set(lag)
	last, err := m.opts.Meta.LastEventID(ctx)
	if err != nil {
		m.failed("the outbox", err)
		return
	}
	m.lastEventID.Set(float64(last))
	for _, name := range followers {
		cur, err := m.opts.Meta.Cursor(ctx, name)
		if err != nil {
			m.failed("the outbox", err)
			return
		}
		m.outboxBacklog.WithLabelValues(name).Set(float64(max(last-cur, 0)))
	}
}

// usagePage is how many repositories one read of usage covers.
const usagePage = 500

// sampleUsage reads every repository's image count and bytes and keeps
// the largest ones' series.
func (m *Metrics) sampleUsage(ctx context.Context) {
	if m.opts.Meta == nil {
		return
	}
	var all []metadata.RepositoryUsage
	for after := int64(0); ; {
		page, err := m.opts.Meta.RepositoryUsage(ctx, after, usagePage)
		if err != nil {
			m.failed("repository usage", err)
			return
		}
		all = append(all, page...)
		if len(page) < usagePage {
			break
		}
		after = page[len(page)-1].ID
	}
	kept, rest := Largest(all, m.opts.Repositories)
	m.repoImages.Reset()
	m.repoBytes.Reset()
	for _, u := range kept {
		m.repoImages.WithLabelValues(u.Key.Account, u.Key.Region, u.Key.Name).Set(float64(u.Images))
		m.repoBytes.WithLabelValues(u.Key.Account, u.Key.Region, u.Key.Name).Set(float64(u.Bytes))
	}
	if rest.Images > 0 || rest.Bytes > 0 || len(all) > len(kept) {
		m.repoImages.WithLabelValues(other, other, other).Set(float64(rest.Images))
		m.repoBytes.WithLabelValues(other, other, other).Set(float64(rest.Bytes))
	}
}

// Largest returns the n repositories holding the most bytes (ties by
// images, then name), and the sum of the others.
func Largest(all []metadata.RepositoryUsage, n int) (kept []metadata.RepositoryUsage, rest metadata.RepositoryUsage) {
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b metadata.RepositoryUsage) int {
		if a.Bytes != b.Bytes {
			return -cmpInt(a.Bytes, b.Bytes)
		}
		if a.Images != b.Images {
			return b.Images - a.Images
		}
		return cmpInt(a.ID, b.ID)
	})
	if len(sorted) <= n {
		return sorted, rest
	}
	for _, u := range sorted[n:] {
		rest.Images += u.Images
		rest.Bytes += u.Bytes
	}
	return sorted[:n], rest
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func orUnknown(s string) string {
	if s == "" {
		return unknown
	}
	return s
}

// statusClass is "2xx" for 200..299, and so on.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return unknown
	}
	return strconv.Itoa(status/100) + "xx"
}

// boundedSet gives the first max repositories it sees their own labels,
// and "other" to the rest.
type boundedSet struct {
	mu   sync.Mutex
	max  int
	seen map[metadata.RepoKey]bool
}

func newBoundedSet(n int) boundedSet {
	return boundedSet{max: n, seen: map[metadata.RepoKey]bool{}}
}

func (b *boundedSet) labels(k metadata.RepoKey) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.seen[k] {
		if len(b.seen) >= b.max {
			return []string{other, other, other}
		}
		b.seen[k] = true
	}
	return []string{k.Account, k.Region, k.Name}
}
