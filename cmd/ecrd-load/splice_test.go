package main

import (
	"strings"
	"testing"
)

// With -splice the pull's bodies go from the socket to /dev/null: the
// registry's count of blob bytes sent matches the result, and a GET the
// registry refuses fails its op with the registry's status.
func TestSplicePull(t *testing.T) {
	reg := startTestRegistry(t, testRegistryOptions{basicAuth: "bench:secret"})
	res := mustRun(t, testConfig(t, reg, "pull", "-c", "3", "-n", "30", "-blobs", "4", "-size", "100003B", "-splice", "-u", "bench:secret"))

	if !res.Splice || res.Ops != 30 || res.Requests != 30 || res.Bytes != 30*testSize {
		t.Errorf("reported splice %v, %d ops, %d requests, %d bytes", res.Splice, res.Ops, res.Requests, res.Bytes)
	}
	if got := reg.blobGetBytes.Load(); got != res.Bytes {
		t.Errorf("registry sent %d blob bytes, the result says %d", got, res.Bytes)
	}

	cfg := testConfig(t, reg, "pull", "-c", "2", "-n", "4", "-blobs", "2", "-size", "100003B", "-splice", "-u", "bench:secret")
	_, s := setUpWithoutCredentials(t, cfg)
	st := run(t.Context(), cfg, s)
	s.(*pullScenario).close()
	if st.ok != 0 || st.failed != 4 || len(st.errSamples) == 0 || !strings.Contains(st.errSamples[0], "status 401") {
		t.Errorf("without credentials: %d ok, %d failed, %q", st.ok, st.failed, st.errSamples)
	}
}

// setUpWithoutCredentials sets cfg's scenario up with its credentials,
// then drops them from the client, so that the timed run goes without.
func setUpWithoutCredentials(t *testing.T, cfg *config) (*client, scenario) {
	t.Helper()
	c := newClient(cfg)
	s, err := newScenario(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.setup(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.auth = nil
	return c, s
}
