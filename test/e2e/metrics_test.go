package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsAddr waits for the server's log line naming its metrics
// listener.
func metricsAddr(t *testing.T, e *ecrd) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range e.LogLines() {
			if l["msg"] == "metrics listening" {
				return l["addr"].(string)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("ecrd did not log its metrics listener")
	return ""
}

func scrape(t *testing.T, addr string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	return b
}

// value returns the value of the series of family name whose labels
// include want, and whether there is one.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestPrometheusMetrics pushes and pulls through a server with a metrics
// listener, then checks a scrape with promtool and reads its series.
func TestPrometheusMetrics(t *testing.T) {
	e := startECRD(t, t.TempDir(), "--metrics-listen", "127.0.0.1:0")
	addr := metricsAddr(t, e)
	auth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(t)})
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(e.Addr+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, auth); err != nil {
		t.Fatal(err)
	}
	const pulls = 3
	for range pulls {
		if _, err := remote.Image(ref, auth); err != nil {
			t.Fatal(err)
		}
	}
	// A denied pull: a password that is not one.
	bad := remote.WithAuth(&authn.Basic{Username: "AWS", Password: "not-a-token"})
	if _, err := remote.Image(ref, bad); err == nil {
		t.Fatal("a pull with a bad password succeeded")
	}

	body := scrape(t, addr)
	cmd := exec.Command(tool(t, "promtool"), "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	repo := map[string]string{"account": testAccount, "region": testRegion, "repository": "team/app"}
	if v, ok := value(families, "ecrd_image_pulls_total", repo); !ok || v != pulls {
		t.Errorf("ecrd_image_pulls_total%v = %v (%v), want %d", repo, v, ok, pulls)
	}
	if v, ok := value(families, "ecrd_image_pushes_total", repo); !ok || v != 1 {
		t.Errorf("ecrd_image_pushes_total%v = %v (%v), want 1", repo, v, ok)
	}
	// Requests are counted by status class; whatever the adapters name
	// them, every request is in one series or another.
	var requests float64
	for _, m := range families["ecrd_requests_total"].GetMetric() {
		requests += m.GetCounter().GetValue()
	}
	if requests < pulls+2 {
		t.Errorf("ecrd_requests_total sums to %v", requests)
	}
	if _, ok := value(families, "ecrd_request_errors_total", map[string]string{"status": "401"}); !ok {
		t.Error("no error series for the refused pull's 401")
	}
	if _, ok := value(families, "ecrd_request_duration_seconds", map[string]string{"status_class": "2xx"}); !ok {
		t.Error("no latency histogram of 2xx requests")
	}
	for _, name := range []string{"ecrd_scan_queue", "ecrd_replication_backlog", "ecrd_replication_lag_seconds",
		"ecrd_outbox_last_event_id", "ecrd_outbox_backlog", "ecrd_gc_runs_total", "ecrd_lifecycle_runs_total",
		"go_goroutines", "process_resident_memory_bytes"} {
		if families[name] == nil {
			t.Errorf("the scrape lacks %s", name)
		}
	}
	if v, ok := value(families, "ecrd_outbox_last_event_id", nil); !ok || v < 1 {
		t.Errorf("ecrd_outbox_last_event_id = %v", v)
	}
	// Storage is sampled when the server starts and every minute: the
	// first sample saw no repository. A restart samples again.
	e.Stop()
	e = startECRD(t, e.Data, "--metrics-listen", "127.0.0.1:0")
	addr = metricsAddr(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		families, err = parser.TextToMetricFamilies(bytes.NewReader(scrape(t, addr)))
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := value(families, "ecrd_repository_images", repo); ok && v == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("ecrd_repository_images%v never reached 1", repo)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, _ := value(families, "ecrd_repository_storage_bytes", repo); v < 2048 {
		t.Errorf("ecrd_repository_storage_bytes%v = %v, want the layers' bytes", repo, v)
	}
	if strings.Contains(string(body), `repository="other"`) {
		t.Error("one repository was counted under other")
	}
	noServerErrors(t, e)
}
