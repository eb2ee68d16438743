package metrics

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

var scope = metadata.Scope{Account: "123456789012", Region: "us-east-1"}

func repo(name string) metadata.RepoKey { return metadata.RepoKey{Scope: scope, Name: name} }

func TestRequestsByServiceOperationAndStatus(t *testing.T) {
	m := New(Options{})
	m.Observe(&reqinfo.Info{Service: "ecr.amazonaws.com", Operation: "BatchGetImage", Status: 200, BytesOut: 1000, Duration: 3 * time.Millisecond})
	m.Observe(&reqinfo.Info{Service: "ecr.amazonaws.com", Operation: "BatchGetImage", Status: 403, ErrorCode: "DENIED"})
	m.Observe(&reqinfo.Info{Status: 404, BytesIn: 10}) // no adapter filled it in
	if got := testutil.ToFloat64(m.requests.WithLabelValues("ecr.amazonaws.com", "BatchGetImage", "2xx")); got != 1 {
		t.Errorf("2xx BatchGetImage = %v", got)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("ecr.amazonaws.com", "BatchGetImage", "403", "DENIED")); got != 1 {
		t.Errorf("denied BatchGetImage = %v", got)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("unknown", "unknown", "404", "unknown")); got != 1 {
		t.Errorf("unfilled 404 = %v", got)
	}
	if got := testutil.ToFloat64(m.bytesOut.WithLabelValues("ecr.amazonaws.com", "BatchGetImage")); got != 1000 {
		t.Errorf("bytes out = %v", got)
	}
	if got := testutil.ToFloat64(m.bytesIn.WithLabelValues("unknown", "unknown")); got != 10 {
		t.Errorf("bytes in = %v", got)
	}
	if n := testutil.CollectAndCount(m.duration); n != 3 {
		t.Errorf("duration series = %d, want 3", n)
	}
}

func TestRepositorySeriesAreBounded(t *testing.T) {
	m := New(Options{Repositories: 2})
	for _, name := range []string{"a", "b", "a", "c", "d", "b"} {
		m.Pulled(repo(name))
	}
	m.Pushed(repo("a"))
	if n := testutil.CollectAndCount(m.pulls); n != 3 {
		t.Fatalf("pull series = %d, want a, b and other", n)
	}
	for _, c := range []struct {
		labels []string
		want   float64
	}{{[]string{scope.Account, scope.Region, "a"}, 2}, {[]string{scope.Account, scope.Region, "b"}, 2}, {[]string{other, other, other}, 2}} {
		if got := testutil.ToFloat64(m.pulls.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("pulls %v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := testutil.ToFloat64(m.pushes.WithLabelValues(scope.Account, scope.Region, "a")); got != 1 {
		t.Errorf("pushes of a = %v", got)
	}
}

func scanEvent(t *testing.T, name, status string, counts map[string]int) metadata.Event {
	t.Helper()
	detail := map[string]any{"scan-status": status, "repository-name": name}
	if counts != nil {
		detail["finding-severity-counts"] = counts
	}
	e, err := outbox.New(scope, time.Now(), outbox.SourceECR, outbox.TypeImageScan, nil, detail)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestScanOutcomesFromTheOutbox(t *testing.T) {
	m := New(Options{})
	m.Event(scanEvent(t, "app", "COMPLETE", map[string]int{"CRITICAL": 12, "HIGH": 3}))
	m.Event(scanEvent(t, "base", "COMPLETE", map[string]int{"LOW": 1}))
	m.Event(scanEvent(t, "app", "FAILED", nil))
	m.Event(metadata.Event{Type: outbox.TypeImageAction, Document: []byte(`{}`)})
	m.Event(metadata.Event{Type: outbox.TypeImageScan, Document: []byte(`not json`)})
	if got := testutil.ToFloat64(m.scans.WithLabelValues("COMPLETE")); got != 2 {
		t.Errorf("complete scans = %v", got)
	}
	if got := testutil.ToFloat64(m.scans.WithLabelValues("FAILED")); got != 1 {
		t.Errorf("failed scans = %v", got)
	}
	if got := testutil.ToFloat64(m.criticals.WithLabelValues(scope.Account, scope.Region, "app")); got != 12 {
		t.Errorf("criticals of app = %v", got)
	}
	// The last completed scan counts: a clean one clears the alarm.
	m.Event(scanEvent(t, "app", "COMPLETE", map[string]int{}))
	if got := testutil.ToFloat64(m.criticals.WithLabelValues(scope.Account, scope.Region, "app")); got != 0 {
		t.Errorf("criticals of app after a clean scan = %v", got)
	}
}

type fakeStats registry.Stats

func (f fakeStats) Stats() registry.Stats { return registry.Stats(f) }

func TestJobCountersAndDeliveryHook(t *testing.T) {
	m := New(Options{})
	m.SetRegistry(fakeStats{GCRuns: 3, GCBytesFreed: 4096, LifecycleExpired: 7})
	m.SetDelivery(deliveryFunc(func() DeliveryStats { return DeliveryStats{Pending: 5, DeadLetters: 1} }))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"ecrd_gc_runs_total 3", "ecrd_gc_freed_bytes_total 4096", "ecrd_lifecycle_images_expired_total 7",
		"ecrd_delivery_backlog 5", "ecrd_delivery_dead_letters 1", "go_goroutines ", "process_cpu_seconds_total "} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestLargestKeepsTheBiggest(t *testing.T) {
	all := []metadata.RepositoryUsage{{ID: 1, Bytes: 10, Images: 1}, {ID: 2, Bytes: 30, Images: 2}, {ID: 3, Bytes: 20, Images: 5}, {ID: 4, Bytes: 5, Images: 1}}
	kept, rest := Largest(all, 2)
	if len(kept) != 2 || kept[0].ID != 2 || kept[1].ID != 3 || rest.Bytes != 15 || rest.Images != 2 {
		b, _ := json.Marshal(map[string]any{"kept": kept, "rest": rest})
		t.Fatalf("Largest = %s", b)
	}
}

type deliveryFunc func() DeliveryStats

func (f deliveryFunc) DeliveryStats(context.Context) (DeliveryStats, error) { return f(), nil }
