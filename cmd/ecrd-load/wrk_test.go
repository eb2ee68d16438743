package main

import (
	"os/exec"
	"strings"
	"testing"
)

// wrkPath is wrk's binary, installed for the tests by
// scripts/install-test-tools (Debian's wrk).
func wrkPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (scripts/install-test-tools installs it)")
	}
	return p
}

// With -wrk, the pull's GETs are wrk's: the registry's count of blob
// bytes sent must match what the result reports.
func TestWrkPull(t *testing.T) {
	wrk := wrkPath(t)
	reg := startTestRegistry(t, testRegistryOptions{})
	res := mustRun(t, testConfig(t, reg, "pull", "-c", "2", "-d", "1s", "-blobs", "3", "-size", "100003B", "-wrk", wrk))

	if res.Client != "wrk" || res.Ops < 3 || res.Requests != res.Ops || res.Bytes != res.Ops*testSize {
		t.Errorf("reported client %q, %d ops, %d requests, %d bytes", res.Client, res.Ops, res.Requests, res.Bytes)
	}
	// wrk stops with up to one GET per connection in flight, which the
	// registry counts and wrk does not.
	if got := reg.blobGetBytes.Load(); got < res.Bytes || got > res.Bytes+2*testSize {
		t.Errorf("registry sent %d blob bytes, wrk's summary says %d", got, res.Bytes)
	}
	if res.WallSeconds < 1 || res.P50Ms <= 0 || res.P99Ms < res.P50Ms || res.ClientCPUSeconds <= 0 {
		t.Errorf("wall %.3f s, p50 %.3f ms, p99 %.3f ms, client CPU %.3f s", res.WallSeconds, res.P50Ms, res.P99Ms, res.ClientCPUSeconds)
	}
}

// wrk sends the credentials and the Accept header: a registry that
// requires Basic authentication answers every manifest GET with 200.
func TestWrkManifestGetWithAuth(t *testing.T) {
	wrk := wrkPath(t)
	reg := startTestRegistry(t, testRegistryOptions{basicAuth: "bench:secret"})
	res := mustRun(t, testConfig(t, reg, "manifest-get", "-c", "4", "-d", "1s", "-u", "bench:secret", "-wrk", wrk))

	if res.Ops < 10 || res.Requests != res.Ops || res.Bytes != res.Ops*(res.Bytes/max(res.Ops, 1)) || res.Bytes < res.Ops*200 {
		t.Errorf("%d ops, %d requests, %d bytes", res.Ops, res.Requests, res.Bytes)
	}
	// Without the credentials (set up with them) every request of wrk's
	// is a status error, reported as a failed op.
	cfg := testConfig(t, reg, "manifest-get", "-c", "2", "-d", "1s", "-u", "bench:secret", "-wrk", wrk)
	c, s := setUpWithoutCredentials(t, cfg)
	denied, _, err := runWrk(t.Context(), cfg, c, s)
	if err != nil {
		t.Fatal(err)
	}
	if denied.Requests == 0 || denied.Ops != 0 || denied.Errors != denied.Requests || len(denied.ErrorSamples) != 1 {
		t.Errorf("without credentials: %d requests, %d ops, %d errors, %q", denied.Requests, denied.Ops, denied.Errors, denied.ErrorSamples)
	}
}

func TestLuaString(t *testing.T) {
	for in, want := range map[string]string{
		`plain/path:1`:    `"plain/path:1"`,
		`a"b\c`:           `"a\034b\092c"`,
		"line\nbreak\x7f": `"line\010break\127"`,
	} {
		if got := luaString(in); got != want {
			t.Errorf("luaString(%q) = %s, want %s", in, got, want)
		}
	}
	if got := urlPath("http://127.0.0.1:5000/v2/a/blobs/sha256:1"); got != "/v2/a/blobs/sha256:1" {
		t.Errorf("urlPath: %q", got)
	}
	script := wrkScript(wrkTarget{method: "GET", urls: []string{"http://h/v2/x", "http://h/v2/y"}}, []string{"Basic abc"})
	for _, want := range []string{`wrk.method = "GET"`, `wrk.headers["Authorization"] = "Basic abc"`, `local paths = {"/v2/x", "/v2/y"}`, "done = function"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %s:\n%s", want, script)
		}
	}
}
