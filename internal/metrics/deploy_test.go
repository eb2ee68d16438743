package metrics

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/ecrd/ecrd/internal/reqinfo"
)

// deployDir holds the alert rules and the dashboard.
const deployDir = "../../deploy"

// promtool finds promtool (Debian's prometheus package, which
// scripts/install-test-tools installs).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: run scripts/install-test-tools")
	}
	return p
}

func TestAlertRulesCheckAndPassTheirUnitTests(t *testing.T) {
	bin := promtool(t)
	dir := filepath.Join(deployDir, "prometheus")
	for _, args := range [][]string{{"check", "rules", "ecrd-alerts.yml"}, {"test", "rules", "ecrd-alerts.test.yml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// exported gathers the names of every series family ecrd exports, with
// the suffixes of histograms' series.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m := New(Options{})
	// Vectors export nothing until a series exists.
	m.Observe(&reqinfo.Info{Service: "s", Operation: "o", Status: 403, BytesIn: 1, BytesOut: 1})
	m.Pulled(repo("a"))
	m.Pushed(repo("a"))
	m.Event(scanEvent(t, "a", "COMPLETE", map[string]int{"CRITICAL": 1}))
	m.scanQueue.WithLabelValues("pending").Set(0)
	m.outboxBacklog.WithLabelValues("replication-feed").Set(0)
	m.repoImages.WithLabelValues("a", "b", "c").Set(0)
	m.repoBytes.WithLabelValues("a", "b", "c").Set(0)
	m.SetDelivery(deliveryFunc(func() DeliveryStats { return DeliveryStats{} }))
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

func TestRulesAndDashboardUseExportedMetrics(t *testing.T) {
	names := exported(t)
	metricName := regexp.MustCompile(`\b(?:ecrd|go|process)_[a-z_]+\b`)
	check := func(where, expr string) {
		found := metricName.FindAllString(expr, -1)
		if len(found) == 0 {
			t.Errorf("%s: %q names no ecrd metric", where, expr)
		}
		for _, n := range found {
			if !names[n] {
				t.Errorf("%s: %q uses %s, which ecrd does not export", where, expr, n)
			}
		}
	}

	b, err := os.ReadFile(filepath.Join(deployDir, "grafana", "ecrd.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) < 10 {
		t.Fatalf("dashboard %q has uid %q and %d panels", dash.Title, dash.UID, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			check("panel "+p.Title, q.Expr)
		}
	}

	rules, err := os.ReadFile(filepath.Join(deployDir, "prometheus", "ecrd-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	exprs := regexp.MustCompile(`(?m)^\s+expr: (.+)$`).FindAllStringSubmatch(string(rules), -1)
	if len(exprs) != 3 {
		t.Fatalf("%d alert expressions, want 3", len(exprs))
	}
	for _, e := range exprs {
		check("alert rule", e[1])
	}
}
