package metadatatest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

var metricsTests = []storeTest{
	{"Datapoints", testDatapoints},
	{"MetricSeries", testMetricSeries},
	{"OldDatapoints", testOldDatapoints},
	{"RepositoryUsage", testRepositoryUsage},
	{"QueueStats", testQueueStats},
}

func point(metric, dims string, start time.Time, period int, v float64) metadata.Datapoint {
	return metadata.Datapoint{Scope: scope, Namespace: "AWS/ECR", Metric: metric, Dimensions: dims,
		Start: start, Period: period, Sum: v, Count: 1, Min: v, Max: v}
}

func addPoints(t *testing.T, s metadata.Store, points ...metadata.Datapoint) {
	t.Helper()
	update(t, s, func(tx metadata.Tx) error { return tx.AddDatapoints(ctx, points) })
}

func testDatapoints(t *testing.T, s metadata.Store) {
	addPoints(t, s, point("Pulls", "a", now, 60, 2), point("Pulls", "a", now.Add(time.Minute), 60, 5),
		point("Pulls", "b", now, 60, 7), point("Pulls", "a", now, 300, 100))
	// Adding to a point merges: sums and counts add, min and max widen.
	addPoints(t, s, point("Pulls", "a", now, 60, 1), point("Pulls", "a", now, 60, 4))
	q := metadata.DatapointQuery{Scope: scope, Namespace: "AWS/ECR", Metric: "Pulls", Dimensions: "a", Period: 60,
		From: now, To: now.Add(2 * time.Minute)}
	got, err := s.Datapoints(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	want := []metadata.Datapoint{
		{Scope: scope, Namespace: "AWS/ECR", Metric: "Pulls", Dimensions: "a", Start: now, Period: 60, Sum: 7, Count: 3, Min: 1, Max: 4},
		point("Pulls", "a", now.Add(time.Minute), 60, 5),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Datapoints = %+v, want %+v", got, want)
	}
	// The range is half open; other registries are apart.
	q.To = now.Add(time.Minute)
	if got, _ := s.Datapoints(ctx, q); len(got) != 1 {
		t.Fatalf("points in [now, now+1m) = %+v", got)
	}
	q.Scope.Account = "210987654321"
	if got, _ := s.Datapoints(ctx, q); len(got) != 0 {
		t.Fatalf("another account's points = %+v", got)
	}
	// Deleting removes exactly the named points.
	update(t, s, func(tx metadata.Tx) error {
		return tx.DeleteDatapoints(ctx, []metadata.Datapoint{point("Pulls", "a", now, 60, 0), point("Pulls", "x", now, 60, 0)})
	})
	q.Scope, q.To = scope, now.Add(time.Hour)
	if got, _ := s.Datapoints(ctx, q); len(got) != 1 || !got[0].Start.Equal(now.Add(time.Minute)) {
		t.Fatalf("after delete = %+v", got)
	}
	q.Period = 300
	if got, _ := s.Datapoints(ctx, q); len(got) != 1 || got[0].Sum != 100 {
		t.Fatalf("5-minute points after deleting a 1-minute one = %+v", got)
	}
}

func testMetricSeries(t *testing.T, s metadata.Store) {
	addPoints(t, s, point("Pulls", "b", now, 60, 1), point("Pulls", "a", now, 60, 1), point("Pulls", "a", now.Add(time.Minute), 60, 1),
		point("Images", "a", now.Add(-time.Hour), 60, 1))
	other := point("Calls", "x", now, 60, 1)
	other.Namespace = "AWS/Usage"
	addPoints(t, s, other)
	all, err := s.MetricSeries(ctx, scope, "", "", now.Add(-2*time.Hour), metadata.MetricSeries{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	series := func(ns, metric, dims string) metadata.MetricSeries {
		return metadata.MetricSeries{Namespace: ns, Metric: metric, Dimensions: dims}
	}
	want := []metadata.MetricSeries{series("AWS/ECR", "Images", "a"), series("AWS/ECR", "Pulls", "a"), series("AWS/ECR", "Pulls", "b"),
		series("AWS/Usage", "Calls", "x")}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("MetricSeries = %+v, want %+v", all, want)
	}
	page, _ := s.MetricSeries(ctx, scope, "", "", now.Add(-2*time.Hour), want[1], 2)
	if !reflect.DeepEqual(page, want[2:4]) {
		t.Fatalf("page after %v = %+v", want[1], page)
	}
	recent, _ := s.MetricSeries(ctx, scope, "AWS/ECR", "", now, metadata.MetricSeries{}, 10)
	if !reflect.DeepEqual(recent, want[1:3]) {
		t.Fatalf("AWS/ECR series since now = %+v", recent)
	}
	byName, _ := s.MetricSeries(ctx, scope, "", "Calls", time.Time{}, metadata.MetricSeries{}, 10)
	if !reflect.DeepEqual(byName, want[3:]) {
		t.Fatalf("Calls series = %+v", byName)
	}
}

func testOldDatapoints(t *testing.T, s metadata.Store) {
	addPoints(t, s, point("Pulls", "a", now.Add(2*time.Minute), 60, 1), point("Pulls", "a", now, 60, 1),
		point("Pulls", "b", now, 60, 1), point("Pulls", "a", now, 300, 1))
	got, err := s.OldDatapoints(ctx, 60, now.Add(2*time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b metadata.Datapoint) int { return strings.Compare(a.Dimensions, b.Dimensions) })
	if len(got) != 2 || got[0].Dimensions != "a" || got[1].Dimensions != "b" || got[0].Period != 60 || !got[1].Start.Equal(now) {
		t.Fatalf("OldDatapoints = %+v", got)
	}
	if got, _ := s.OldDatapoints(ctx, 60, now.Add(time.Hour), 1); len(got) != 1 || !got[0].Start.Equal(now) {
		t.Fatalf("OldDatapoints limited to 1 = %+v", got)
	}
}

func testRepositoryUsage(t *testing.T, s metadata.Store) {
	a := createRepo(t, s, key("a"))
	b := createRepo(t, s, key("b"))
	putImage(t, s, image(a.ID, "one"), nil)
	putImage(t, s, image(a.ID, "two"), nil)
	update(t, s, func(tx metadata.Tx) error {
		if err := tx.LinkBlob(ctx, a.ID, metadata.Blob{Digest: digest.FromString("x"), Size: 100}, now); err != nil {
			return err
		}
		return tx.LinkBlob(ctx, a.ID, metadata.Blob{Digest: digest.FromString("y"), Size: 23}, now)
	})
	got, err := s.RepositoryUsage(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []metadata.RepositoryUsage{{ID: a.ID, Key: a.Key, Images: 2, Bytes: 123}, {ID: b.ID, Key: b.Key}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("RepositoryUsage = %+v, want %+v", got, want)
	}
	if got, _ := s.RepositoryUsage(ctx, a.ID, 10); !reflect.DeepEqual(got, want[1:]) {
		t.Fatalf("RepositoryUsage after %d = %+v", a.ID, got)
	}
}

func testQueueStats(t *testing.T, s metadata.Store) {
	if q, err := s.QueueStats(ctx); err != nil || q != (metadata.QueueStats{}) {
		t.Fatalf("QueueStats of an empty store = %+v, %v", q, err)
	}
	repo := createRepo(t, s, key("a"))
	imgs := []metadata.Image{image(repo.ID, "1"), image(repo.ID, "2"), image(repo.ID, "3")}
	for _, img := range imgs {
		putImage(t, s, img, nil)
	}
	update(t, s, func(tx metadata.Tx) error {
		for i, status := range []string{metadata.ScanPending, metadata.ScanPending, metadata.ScanComplete} {
			if err := tx.PutImageScan(ctx, metadata.ImageScan{RepoID: repo.ID, Digest: imgs[i].Digest, Status: status, RequestedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	queue(t, s, now, queued(repo, imgs[0].Digest, destA, now))
	queue(t, s, now.Add(time.Minute), queued(repo, imgs[1].Digest, destA, now))
	q, err := s.QueueStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if q.ScansPending != 2 || q.ScansInProgress != 0 || q.ReplicationsDue != 2 || !q.OldestReplication.Equal(now) {
		t.Fatalf("QueueStats = %+v", q)
	}
}
