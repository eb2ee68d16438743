package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// With -wrk, ecrd-load sets a pull or manifest-get scenario up as usual
// and then hands the timed run to wrk, a client written in C that costs
// the shared machine far less CPU per request than any Go client: on two
// cores the client's share decides how much is left for the server, so
// wrk shows the server's capacity where ecrd-load shows a client's view.
// A Lua script gives wrk the scenario's requests (the pull's blobs in
// turn) and prints wrk's summary as JSON, which becomes the same result
// as a run of ecrd-load's own workers.

// wrkTarget is what a scenario asks of wrk: its requests' method,
// URLs (taken in turn), headers, and the body a successful one carries.
type wrkTarget struct {
	method    string
	urls      []string
	header    http.Header
	bodyBytes int64
}

// wrkTargeter is a scenario wrk can run.
type wrkTargeter interface {
	wrkTarget() wrkTarget
}

func (s *pullScenario) wrkTarget() wrkTarget {
	t := wrkTarget{method: http.MethodGet, header: http.Header{}, bodyBytes: int64(s.cfg.size)}
	for _, b := range s.blobs {
		t.urls = append(t.urls, s.c.url(s.cfg.repo(), "blobs/"+b.digest))
	}
	return t
}

func (s *manifestScenario) wrkTarget() wrkTarget {
	t := wrkTarget{method: s.cfg.method, header: http.Header{"Accept": {manifestAccept}},
		urls: []string{s.c.url(s.cfg.repo(), "manifests/"+manifestTag)}}
	if t.method == http.MethodGet {
		t.bodyBytes = int64(len(s.manifest))
	}
	return t
}

// wrkSummary is what the script's done() prints.
type wrkSummary struct {
	Requests   int64 `json:"requests"`
	Bytes      int64 `json:"bytes"`
	DurationUs int64 `json:"duration_us"`
	Connect    int64 `json:"connect"`
	Read       int64 `json:"read"`
	Write      int64 `json:"write"`
	Status     int64 `json:"status"`
	Timeout    int64 `json:"timeout"`
	P50Us      int64 `json:"p50_us"`
	P99Us      int64 `json:"p99_us"`
	MaxUs      int64 `json:"max_us"`
}

// wrkScript is the Lua script for t: a request() that takes the URLs in
// turn (only when there are several: wrk prepares a single request once)
// and a done() that prints the summary on one line.
func wrkScript(t wrkTarget, auth []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "wrk.method = %s\n", luaString(t.method))
	for name, values := range t.header {
		fmt.Fprintf(&b, "wrk.headers[%s] = %s\n", luaString(name), luaString(strings.Join(values, ", ")))
	}
	if len(auth) > 0 {
		fmt.Fprintf(&b, "wrk.headers[\"Authorization\"] = %s\n", luaString(auth[0]))
	}
	if len(t.urls) > 1 {
		b.WriteString("local paths = {")
		for i, u := range t.urls {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(luaString(urlPath(u)))
		}
		b.WriteString("}\nlocal n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, paths[(n % #paths) + 1])\nend\n")
	}
	b.WriteString(`done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"bytes":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`)
	return b.String()
}

// luaString quotes s as a Lua string literal.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, "\\%03d", c)
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// urlPath is the path of an absolute URL the client built.
func urlPath(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.IndexByte(u[i+3:], '/'); j >= 0 {
			return u[i+3+j:]
		}
	}
	return u
}

// wrkThreads is how many threads wrk runs: one per core, at most one per
// connection.
func wrkThreads(cfg *config) int {
	return max(1, min(cfg.concurrency, runtime.NumCPU()))
}

// runWrk runs wrk for cfg.duration on s's target and summarizes its
// answer as a run of the scenario.
func runWrk(ctx context.Context, cfg *config, c *client, s scenario) (*result, float64, error) {
	ts, ok := s.(wrkTargeter)
	if !ok {
		return nil, 0, fmt.Errorf("-wrk runs pull and manifest-get, not %s", cfg.scenario)
	}
	t := ts.wrkTarget()
	script, err := os.CreateTemp("", "ecrd-load-*.lua")
	if err != nil {
		return nil, 0, err
	}
	defer os.Remove(script.Name())
	if _, err := script.WriteString(wrkScript(t, c.auth)); err != nil {
		script.Close()
		return nil, 0, err
	}
	if err := script.Close(); err != nil {
		return nil, 0, err
	}
	// wrk's duration is whole seconds or a unit it knows; milliseconds
	// are not among them.
	secs := max(1, int(cfg.duration.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, cfg.wrk, "-t", strconv.Itoa(wrkThreads(cfg)), "-c", strconv.Itoa(cfg.concurrency),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "30s", "--latency", "-s", script.Name(), t.urls[0])
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, 0, fmt.Errorf("wrk: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	sum, err := parseWrkOutput(string(out))
	if err != nil {
		return nil, 0, err
	}
	clientCPU := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return wrkResult(cfg, t, sum), clientCPU, nil
}

// parseWrkOutput finds the script's JSON line in wrk's output.
func parseWrkOutput(out string) (*wrkSummary, error) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, `{"requests":`) {
			continue
		}
		var sum wrkSummary
		if err := json.Unmarshal([]byte(line), &sum); err != nil {
			return nil, fmt.Errorf("wrk's summary %q: %w", line, err)
		}
		if sum.DurationUs <= 0 {
			return nil, errors.New("wrk's summary has no duration")
		}
		return &sum, nil
	}
	return nil, fmt.Errorf("no summary in wrk's output: %q", out)
}

// wrkResult is a run's result from wrk's summary. Responses with a
// status other than 2xx or 3xx are wrk's status errors; every other
// response counts as an op that moved the target's body.
func wrkResult(cfg *config, t wrkTarget, sum *wrkSummary) *result {
	wall := float64(sum.DurationUs) / 1e6
	ok := sum.Requests - sum.Status
	r := &result{
		Scenario: cfg.scenario, Registry: registryList(cfg), Repository: cfg.repo(), Concurrency: cfg.concurrency,
		Client: "wrk", Ops: ok, Errors: sum.Status + sum.Connect + sum.Read + sum.Write + sum.Timeout,
		Requests: sum.Requests, WallSeconds: wall, Bytes: ok * t.bodyBytes,
		P50Ms: float64(sum.P50Us) / 1e3, P99Ms: float64(sum.P99Us) / 1e3, MaxMs: float64(sum.MaxUs) / 1e3,
	}
	r.MBPerSec = float64(r.Bytes) / 1e6 / wall
	r.OpsPerSec = float64(ok) / wall
	r.ReqPerSec = float64(sum.Requests) / wall
	if r.Errors > 0 {
		r.ErrorSamples = []string{fmt.Sprintf("wrk: %d non-2xx/3xx responses, socket errors: connect %d, read %d, write %d, timeout %d",
			sum.Status, sum.Connect, sum.Read, sum.Write, sum.Timeout)}
	}
	switch cfg.scenario {
	case scenarioPull:
		r.SizeBytes, r.Blobs = int64(cfg.size), cfg.blobs
	case scenarioManifest:
		r.Mode = cfg.method
	}
	return r
}
