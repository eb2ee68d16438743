package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/sigv4"
	"github.com/ecrd/ecrd/internal/testutil"
)

func newServer(t *testing.T, logs io.Writer) (*Server, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg, stores := registrytest.New(t, registry.Options{Logger: log})
	ids := identity.New(stores.Meta, testutil.Keyring(t), log)
	authn := &auth.Authenticator{IDs: ids, Verifier: &sigv4.Verifier{}, AcceptAnyCredentials: true, DefaultScope: registrytest.Scope}
	endpoint := func(metadata.Scope) string { return "http://registry.test" }
	return New(Options{Registry: reg, Identity: ids, Auth: authn, Endpoint: endpoint, Log: log}), stores.Dir
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

func TestRoutesAndHealth(t *testing.T) {
	var logs bytes.Buffer
	s, dir := newServer(t, &logs)
	if r := get(t, s.Handler(), "/healthz"); r.Code != 200 {
		t.Errorf("/healthz = %d", r.Code)
	}
	if r := get(t, s.Handler(), "/readyz"); r.Code != 200 {
		t.Errorf("/readyz = %d %s", r.Code, r.Body)
	}
	if r := get(t, s.Handler(), "/v2/"); r.Code != 401 || r.Header().Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("/v2/ = %d %v", r.Code, r.Header())
	}
	if r := get(t, s.Handler(), "/nothing-here"); r.Code != 404 || !strings.Contains(r.Body.String(), "/v2/") {
		t.Errorf("/nothing-here = %d %s", r.Code, r.Body)
	}
	if !strings.Contains(logs.String(), "path=/v2/") {
		t.Errorf("debug logging did not record the request: %s", logs.String())
	}
	// Blob storage that cannot be written makes the server not ready.
	if err := os.RemoveAll(filepath.Join(dir, "uploads")); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s.Handler(), "/readyz"); r.Code != http.StatusServiceUnavailable || !strings.Contains(r.Body.String(), "blob store") {
		t.Errorf("/readyz without blob storage = %d %s", r.Code, r.Body)
	}
}

func TestPanicBecomes500(t *testing.T) {
	var logs bytes.Buffer
	s, _ := newServer(t, &logs)
	h := s.logRequests(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	r := get(t, h, "/v2/x")
	if r.Code != http.StatusInternalServerError {
		t.Fatalf("panicking handler answered %d", r.Code)
	}
	if !strings.Contains(logs.String(), "panic serving request") || !strings.Contains(logs.String(), "boom") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

func TestRecorderKeepsReadFrom(t *testing.T) {
	under := httptest.NewRecorder() // has no ReadFrom, like HTTP/2 writers
	var rw http.ResponseWriter = &recorder{ResponseWriter: under}
	rf, ok := rw.(io.ReaderFrom)
	if !ok {
		t.Fatal("the request logger hides io.ReaderFrom, so blobs would not go out with sendfile")
	}
	if n, err := rf.ReadFrom(strings.NewReader("blob bytes")); err != nil || n != 10 || under.Body.String() != "blob bytes" {
		t.Fatalf("ReadFrom = %d, %v, body %q", n, err, under.Body.String())
	}
}
