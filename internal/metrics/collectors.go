package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ecrd/ecrd/internal/registry"
)

// factory makes and registers metrics.
type factory struct{ reg *prometheus.Registry }

func (f factory) counterVec(name, help string, labels []string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gaugeVec(name, help string, labels []string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

// gaugeValue reads a gauge's value.
func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return 0
	}
	return m.GetGauge().GetValue()
}

// jobsCollector turns registry.Stats into counters at each scrape (they
// are atomic loads).
type jobsCollector struct {
	mu  sync.Mutex
	src StatsSource
}

func (c *jobsCollector) set(s StatsSource) {
	c.mu.Lock()
	c.src = s
	c.mu.Unlock()
}

// jobMetrics lists the counters of registry.Stats.
var jobMetrics = []struct {
	desc  *prometheus.Desc
	value func(s registry.Stats) int64
}{
	{prometheus.NewDesc("ecrd_gc_runs_total", "Garbage collections this process ran.", nil, nil), func(s registry.Stats) int64 { return s.GCRuns }},
	{prometheus.NewDesc("ecrd_gc_failures_total", "Garbage collections that ended in an error.", nil, nil), func(s registry.Stats) int64 { return s.GCFailures }},
	{prometheus.NewDesc("ecrd_gc_links_removed_total", "Repository links to blobs that garbage collection removed.", nil, nil), func(s registry.Stats) int64 { return s.GCLinksRemoved }},
	{prometheus.NewDesc("ecrd_gc_blobs_deleted_total", "Blobs garbage collection deleted.", nil, nil), func(s registry.Stats) int64 { return s.GCBlobsDeleted }},
	{prometheus.NewDesc("ecrd_gc_orphans_deleted_total", "Blob files without a record that garbage collection deleted.", nil, nil), func(s registry.Stats) int64 { return s.GCOrphansDeleted }},
	{prometheus.NewDesc("ecrd_gc_freed_bytes_total", "Bytes garbage collection freed.", nil, nil), func(s registry.Stats) int64 { return s.GCBytesFreed }},
	{prometheus.NewDesc("ecrd_lifecycle_runs_total", "Lifecycle policy runs this process made.", nil, nil), func(s registry.Stats) int64 { return s.LifecycleRuns }},
	{prometheus.NewDesc("ecrd_lifecycle_failures_total", "Lifecycle policy runs that ended in an error.", nil, nil), func(s registry.Stats) int64 { return s.LifecycleFailures }},
	{prometheus.NewDesc("ecrd_lifecycle_images_expired_total", "Images lifecycle policies expired (deleted).", nil, nil), func(s registry.Stats) int64 { return s.LifecycleExpired }},
	{prometheus.NewDesc("ecrd_lifecycle_images_archived_total", "Images lifecycle policies moved to archive.", nil, nil), func(s registry.Stats) int64 { return s.LifecycleArchived }},
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, j := range jobMetrics {
		ch <- j.desc
	}
}

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	var s registry.Stats
	if src != nil {
		s = src.Stats()
	}
	for _, j := range jobMetrics {
		ch <- prometheus.MustNewConstMetric(j.desc, prometheus.CounterValue, float64(j.value(s)))
	}
}

// deliveryCollector reads event delivery's backlog at each scrape, when
// a delivery source is plugged in.
type deliveryCollector struct{ m *Metrics }

var (
	deliveryPending = prometheus.NewDesc("ecrd_delivery_backlog", "Event deliveries to targets not yet made (queued or being retried).", nil, nil)
	deliveryDead    = prometheus.NewDesc("ecrd_delivery_dead_letters", "Event deliveries given up on and kept for a redrive.", nil, nil)
	deliveryAge     = prometheus.NewDesc("ecrd_delivery_oldest_pending_seconds", "Age of the oldest pending delivery's event (0: none).", nil, nil)
)

func (c deliveryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- deliveryPending
	ch <- deliveryDead
	ch <- deliveryAge
}

func (c deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.deliveryMu.Lock()
	src := c.m.delivery
	c.m.deliveryMu.Unlock()
	if src == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := src.DeliveryStats(ctx)
	if err != nil {
		c.m.failed("event delivery", err)
		return
	}
	age := 0.0
	if !s.OldestPending.IsZero() {
		age = max(c.m.opts.Now().Sub(s.OldestPending).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(deliveryPending, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(deliveryDead, prometheus.GaugeValue, float64(s.DeadLetters))
	ch <- prometheus.MustNewConstMetric(deliveryAge, prometheus.GaugeValue, age)
}
