package cloudwatch

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Maintainer samples repository usage every minute and ages stored
// points, under the "cloudwatch" lease: one process of those sharing a
// database does it at a time.
type Maintainer struct {
	meta     metadata.Store
	leases   *lease.Leases
	recorder *Recorder
	now      func() time.Time
	log      *slog.Logger
}

// job names the lease.
const job = "cloudwatch"

// NewMaintainer returns a maintainer that records samples with rec.
func NewMaintainer(meta metadata.Store, leases *lease.Leases, rec *Recorder, now func() time.Time, log *slog.Logger) *Maintainer {
	if now == nil {
		now = time.Now
	}
	return &Maintainer{meta: meta, leases: leases, recorder: rec, now: now, log: log}
}

// Run samples every minute and ages points every ten, until ctx ends.
func (m *Maintainer) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for i := 0; ; i++ {
		if err := m.Once(ctx, i%10 == 0); err != nil && !errors.Is(err, lease.ErrBusy) && ctx.Err() == nil {
			m.log.Warn("cloudwatch: sampling and ageing metrics", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once takes the lease, samples repository usage and, if age is set,
// rolls up and prunes old points. It returns lease.ErrBusy when another
// process holds the lease.
func (m *Maintainer) Once(ctx context.Context, age bool) error {
	if !age {
		// A registry without repositories has nothing to sample: it
		// writes nothing, not even the lease.
		if some, err := m.meta.RepositoryUsage(ctx, 0, 1); err != nil || len(some) == 0 {
			return err
		}
	}
	l, err := m.leases.Acquire(ctx, job)
	if err != nil {
		return err
	}
	defer l.Release()
	if err := m.Sample(ctx); err != nil {
		return err
	}
	if !age {
		return nil
	}
	_, err = m.Age(ctx, l)
	return err
}

// usagePage is how many repositories one read covers.
const usagePage = 500

// Sample records each repository's image count and storage bytes.
func (m *Maintainer) Sample(ctx context.Context) error {
	at := m.now()
	for after := int64(0); ; {
		page, err := m.meta.RepositoryUsage(ctx, after, usagePage)
		if err != nil {
			return err
		}
		for _, u := range page {
			dims := []Dimension{{DimRepositoryName, u.Key.Name}}
			m.recorder.AddAt(at, u.Key.Scope, NamespaceECRD, MetricImageCount, dims, float64(u.Images))
			m.recorder.AddAt(at, u.Key.Scope, NamespaceECRD, MetricStorageBytes, dims, float64(u.Bytes))
		}
		if len(page) < usagePage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// ageBatch bounds the points one ageing transaction reads and writes.
const ageBatch = 1000

// Age rolls one-minute points older than MinuteRetention into
// five-minute points, those older than FiveMinuteRetention into hourly
// points, and deletes hourly points older than HourRetention. It says
// how many points it removed.
func (m *Maintainer) Age(ctx context.Context, l *lease.Lease) (int, error) {
	now := m.now()
	steps := []struct {
		from, to int
		before   time.Time
	}{
		{Minute, FiveMinute, now.Add(-MinuteRetention)},
		{FiveMinute, Hour, now.Add(-FiveMinuteRetention)},
		{Hour, 0, now.Add(-HourRetention)},
	}
	removed := 0
	for _, s := range steps {
		for {
			old, err := m.meta.OldDatapoints(ctx, s.from, s.before, ageBatch)
			if err != nil {
				return removed, err
			}
			if len(old) == 0 {
				break
			}
			var rolled []metadata.Datapoint
			if s.to > 0 {
				rolled = RollUp(old, s.to)
			}
			if err := l.Update(ctx, func(tx metadata.Tx) error {
				if err := tx.AddDatapoints(ctx, rolled); err != nil {
					return err
				}
				return tx.DeleteDatapoints(ctx, old)
			}); err != nil {
				return removed, err
			}
			removed += len(old)
			if len(old) < ageBatch {
				break
			}
		}
	}
	return removed, nil
}
