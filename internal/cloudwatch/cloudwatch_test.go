package cloudwatch

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
)

var (
	ctx   = context.Background()
	scope = metadata.Scope{Account: "123456789012", Region: "us-east-1"}
	t0    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func pt(start time.Time, period int, sum, count, lo, hi float64) metadata.Datapoint {
	return metadata.Datapoint{Scope: scope, Namespace: NamespaceECR, Metric: MetricPullCount, Dimensions: `x`,
		Start: start, Period: period, Sum: sum, Count: count, Min: lo, Max: hi}
}

func TestRollUpKeepsTheStatistics(t *testing.T) {
	in := []metadata.Datapoint{
		pt(t0, 60, 3, 2, 1, 2), pt(t0.Add(time.Minute), 60, 10, 1, 10, 10), pt(t0.Add(4*time.Minute), 60, 1, 1, 1, 1),
		pt(t0.Add(5*time.Minute), 60, 7, 7, 1, 1),
	}
	other := pt(t0.Add(2*time.Minute), 60, 100, 1, 100, 100)
	other.Dimensions = "y"
	out := RollUp(append(in, other), 300)
	if len(out) != 3 {
		t.Fatalf("RollUp = %+v", out)
	}
	want := pt(t0, 300, 14, 4, 1, 10)
	if out[0] != want {
		t.Errorf("first five minutes = %+v, want %+v", out[0], want)
	}
	if out[1] != pt(t0.Add(5*time.Minute), 300, 7, 7, 1, 1) {
		t.Errorf("second five minutes = %+v", out[1])
	}
	if out[2].Dimensions != "y" || out[2].Sum != 100 || !out[2].Start.Equal(t0) {
		t.Errorf("other series = %+v", out[2])
	}
	// Rolling up rolled points again into hours gives the same as rolling
	// the minutes up at once.
	if a, b := RollUp(out[:2], 3600), RollUp(in, 3600); len(a) != 1 || a[0] != b[0] || a[0].Sum != 21 || a[0].Count != 11 {
		t.Errorf("hour roll-ups differ: %+v, %+v", a, b)
	}
}

func newStore(t *testing.T) metadata.Store {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ecrd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return metadatatest.DoubleRun(s)
}

func TestAgeingFollowsCloudWatchRetention(t *testing.T) {
	s := newStore(t)
	now := t0.Add(500 * 24 * time.Hour)
	clock := func() time.Time { return now }
	rec := NewRecorder(s, clock, slog.Default())
	// Samples: 20 days ago (two in one five-minute period), 70 days ago,
	// 460 days ago, and now.
	for _, at := range []time.Time{now.Add(-20 * 24 * time.Hour), now.Add(-20*24*time.Hour + time.Minute), now.Add(-70 * 24 * time.Hour),
		now.Add(-460 * 24 * time.Hour), now} {
		rec.AddAt(at.Truncate(time.Hour), scope, NamespaceECR, MetricPullCount, []Dimension{{DimRepositoryName, "app"}}, 2)
	}
	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	m := NewMaintainer(s, lease.New(s, "test", clock, slog.Default()), rec, clock, slog.Default())
	l, err := m.leases.Acquire(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	removed, err := m.Age(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	// The 20-day-old minute goes to five minutes; the 70-day-old one to
	// five minutes, then to an hour; the 460-day-old one to an hour, then
	// away.
	if removed != 6 {
		t.Errorf("removed %d points, want 6", removed)
	}
	count := func(period int) int {
		got, err := s.OldDatapoints(ctx, period, now.Add(time.Hour), 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if c1, c5, c60 := count(Minute), count(FiveMinute), count(Hour); c1 != 1 || c5 != 1 || c60 != 1 {
		t.Errorf("points by period: %d, %d, %d; want one of each", c1, c5, c60)
	}
	// The statistics survive: an hour's sum over the 20-day-old samples.
	svc := NewService(s, nil, clock)
	ictx := identity.NewContext(ctx, identity.Principal{Type: identity.TypeRoot, Account: scope.Account, ARN: "arn:aws:iam::123456789012:root"})
	start := now.Add(-20 * 24 * time.Hour).Truncate(time.Hour)
	dps, err := svc.GetMetricStatistics(ictx, scope, StatisticsInput{Metric: Metric{Namespace: NamespaceECR, MetricName: MetricPullCount,
		Dimensions: []Dimension{{DimRepositoryName, "app"}}}, StartTime: start, EndTime: start.Add(time.Hour), Period: 3600,
		Statistics: []string{"Sum", "SampleCount"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dps) != 1 || *dps[0].Sum != 4 || *dps[0].SampleCount != 2 || dps[0].Unit != "Count" {
		t.Fatalf("statistics of aged points = %+v", dps)
	}
}

func TestStatisticsErrors(t *testing.T) {
	svc := NewService(newStore(t), nil, nil)
	m := Metric{Namespace: NamespaceECR, MetricName: MetricPullCount}
	for _, c := range []struct {
		in   StatisticsInput
		code string
	}{
		{StatisticsInput{Metric: Metric{MetricName: "x"}}, CodeMissingParameter},
		{StatisticsInput{Metric: m, StartTime: t0, EndTime: t0.Add(time.Hour)}, CodeMissingParameter},
		{StatisticsInput{Metric: m, StartTime: t0, EndTime: t0.Add(time.Hour), Period: 61, Statistics: []string{"Sum"}}, CodeInvalidParameterValue},
		{StatisticsInput{Metric: m, StartTime: t0, EndTime: t0.Add(time.Hour), Period: 60}, CodeInvalidParameterCombination},
		{StatisticsInput{Metric: m, StartTime: t0, EndTime: t0.Add(time.Hour), Period: 60, Statistics: []string{"Median"}}, CodeInvalidParameterValue},
		{StatisticsInput{Metric: m, StartTime: t0.Add(time.Hour), EndTime: t0, Period: 60, Statistics: []string{"Sum"}}, CodeInvalidParameterValue},
		{StatisticsInput{Metric: m, StartTime: t0, EndTime: t0.Add(48 * time.Hour), Period: 60, Statistics: []string{"Sum"}}, CodeInvalidParameterCombination},
	} {
		_, err := svc.GetMetricStatistics(ctx, scope, c.in)
		var e *Error
		if !errors.As(err, &e) || e.Code != c.code || e.Status != 400 {
			t.Errorf("GetMetricStatistics(%+v) = %v, want %s", c.in, err, c.code)
		}
	}
}
