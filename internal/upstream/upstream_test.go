package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// The registry and token endpoint here are the test's own HTTP servers:
// they speak the token flow (401 with a Bearer challenge, a token realm
// that checks Basic credentials and scopes) and serve one manifest and
// one blob.

const (
	user, pass = "alice", "s3cret"
	manifestMT = "application/vnd.oci.image.manifest.v1+json"
)

type fakeUpstream struct {
	reg, auth   *httptest.Server
	manifest    []byte
	blob        []byte
	tokenCalls  atomic.Int64
	mu          sync.Mutex
	issued      map[string]string // token -> scope
	requireCred bool
	status      atomic.Int64 // when set, the registry answers it
	expiresIn   int
	tokenDelay  time.Duration // how long the token endpoint takes
}

func newFakeUpstream(t *testing.T, requireCred bool) *fakeUpstream {
	f := &fakeUpstream{issued: map[string]string{}, requireCred: requireCred, expiresIn: 300}
	f.blob = []byte("layer bytes")
	f.manifest = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`,
		manifestMT, digest.FromBytes(f.blob), len(f.blob)))
	f.auth = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.tokenCalls.Add(1)
		time.Sleep(f.tokenDelay)
		if r.URL.Query().Get("service") != "fake-registry" {
			http.Error(w, "bad service", http.StatusBadRequest)
			return
		}
		u, p, ok := r.BasicAuth()
		if f.requireCred && (!ok || u != user || p != pass) {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		tok := fmt.Sprintf("tok-%d", f.tokenCalls.Load())
		f.mu.Lock()
		f.issued[tok] = r.URL.Query().Get("scope")
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": f.expiresIn})
	}))
	t.Cleanup(f.auth.Close)
	f.reg = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.reg.Close)
	return f
}

func (f *fakeUpstream) host() string { return strings.TrimPrefix(f.reg.URL, "http://") }

func (f *fakeUpstream) serve(w http.ResponseWriter, r *http.Request) {
	if s := f.status.Load(); s != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(s))
		fmt.Fprint(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`)
		return
	}
	repo := ""
	if parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/", 2); len(parts) == 2 {
		repo = parts[0]
	} else if parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/", 2); len(parts) == 2 {
		repo = parts[0]
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	scope, ok := f.issued[tok]
	f.mu.Unlock()
	want := "repository:" + repo + ":pull"
	if r.URL.Path == "/v2/" {
		want = ""
	}
	if !ok || scope != want {
		chal := fmt.Sprintf(`Bearer realm="%s/token",service="fake-registry"`, f.auth.URL)
		if want != "" {
			chal += fmt.Sprintf(`,scope="%s"`, want)
		}
		w.Header().Set("WWW-Authenticate", chal)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return
	}
	switch {
	case r.URL.Path == "/v2/":
		w.WriteHeader(http.StatusOK)
	case repo == "library/alpine" && strings.HasSuffix(r.URL.Path, "/manifests/3.20"),
		repo == "library/alpine" && strings.HasSuffix(r.URL.Path, "/manifests/"+digest.FromBytes(f.manifest).String()):
		if !strings.Contains(r.Header.Get("Accept"), manifestMT) || !strings.Contains(r.Header.Get("Accept"), "manifest.list.v2+json") {
			http.Error(w, "accept", http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", manifestMT)
		w.Header().Set("Docker-Content-Digest", digest.FromBytes(f.manifest).String())
		w.Header().Set("Content-Length", fmt.Sprint(len(f.manifest)))
		if r.Method == http.MethodGet {
			w.Write(f.manifest)
		}
	case repo == "library/alpine" && strings.HasSuffix(r.URL.Path, "/blobs/"+digest.FromBytes(f.blob).String()):
		w.Write(f.blob)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
	}
}

func newClient(f *fakeUpstream, now func() time.Time) *Client {
	auth := strings.TrimPrefix(f.auth.URL, "http://")
	return New(Options{Insecure: []string{f.host(), auth}, Now: now})
}

func TestBearerFlowTokenCachedUntilExpiry(t *testing.T) {
	f := newFakeUpstream(t, true)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	c := newClient(f, now)
	ep := Endpoint{Host: f.host(), Username: user, Password: pass}
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		m, err := c.GetManifest(ctx, ep, "library/alpine", "3.20")
		if err != nil {
			t.Fatal(err)
		}
		if m.Digest != digest.FromBytes(f.manifest) || m.MediaType != manifestMT || string(m.Body) != string(f.manifest) {
			t.Fatalf("manifest = %+v", m)
		}
	}
	rc, size, err := c.GetBlob(ctx, ep, "library/alpine", digest.FromBytes(f.blob))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != string(f.blob) || size != int64(len(f.blob)) {
		t.Fatalf("blob = %q (%d)", b, size)
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Fatalf("%d token requests for six pulls of one scope, want 1", n)
	}
	// Expired: a new token.
	mu.Lock()
	clock = clock.Add(10 * time.Minute)
	mu.Unlock()
	if _, err := c.HeadManifest(ctx, ep, "library/alpine", "3.20"); err != nil {
		t.Fatal(err)
	}
	if n := f.tokenCalls.Load(); n != 2 {
		t.Fatalf("%d token requests after expiry, want 2", n)
	}
	// Ping asks for a token without a repository scope.
	if err := c.Ping(ctx, ep); err != nil {
		t.Fatal(err)
	}
}

// TestBearerConcurrentFirstPullsShareOneToken: requests of one new scope
// racing each other (a burst of first pulls) wait for one token fetch.
func TestBearerConcurrentFirstPullsShareOneToken(t *testing.T) {
	f := newFakeUpstream(t, true)
	f.tokenDelay = 100 * time.Millisecond
	c := newClient(f, time.Now)
	ep := Endpoint{Host: f.host(), Username: user, Password: pass}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetManifest(context.Background(), ep, "library/alpine", "3.20")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Fatalf("%d token requests for ten concurrent first pulls of one scope, want 1", n)
	}
}

func TestBearerWrongCredentialsDenied(t *testing.T) {
	f := newFakeUpstream(t, true)
	c := newClient(f, nil)
	_, err := c.GetManifest(context.Background(), Endpoint{Host: f.host(), Username: user, Password: "wrong"}, "library/alpine", "3.20")
	if KindOf(err) != KindDenied || !strings.Contains(err.Error(), "bad credentials") {
		t.Fatalf("err = %v", err)
	}
	if err := c.Ping(context.Background(), Endpoint{Host: f.host()}); KindOf(err) != KindDenied {
		t.Fatalf("anonymous ping: %v", err)
	}
}

// Two endpoints with one username and different passwords (two rules)
// hold separate tokens: the one whose password the realm refuses does
// not pull with the other's token.
func TestBearerTokenNotSharedAcrossPasswords(t *testing.T) {
	f := newFakeUpstream(t, true)
	c := newClient(f, nil)
	ctx := context.Background()
	if _, err := c.GetManifest(ctx, Endpoint{Host: f.host(), Username: user, Password: pass}, "library/alpine", "3.20"); err != nil {
		t.Fatal(err)
	}
	wrong := Endpoint{Host: f.host(), Username: user, Password: "wrong"}
	if _, err := c.GetManifest(ctx, wrong, "library/alpine", "3.20"); KindOf(err) != KindDenied {
		t.Fatalf("the wrong password's pull after the right one's: %v", err)
	}
	if err := c.Ping(ctx, wrong); KindOf(err) != KindDenied {
		t.Fatalf("the wrong password's ping: %v", err)
	}
}

// A held token the upstream refuses before it expires (revoked) is
// replaced by a new one, not resent until it expires.
func TestBearerRefusedTokenRefetched(t *testing.T) {
	f := newFakeUpstream(t, true)
	c := newClient(f, nil)
	ep := Endpoint{Host: f.host(), Username: user, Password: pass}
	ctx := context.Background()
	if _, err := c.GetManifest(ctx, ep, "library/alpine", "3.20"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	clear(f.issued)
	f.mu.Unlock()
	if _, err := c.GetManifest(ctx, ep, "library/alpine", "3.20"); err != nil {
		t.Fatalf("after the upstream revoked the held token: %v", err)
	}
	if n := f.tokenCalls.Load(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
}

func TestAnonymousBearerAndErrors(t *testing.T) {
	f := newFakeUpstream(t, false)
	c := newClient(f, nil)
	ctx := context.Background()
	ep := Endpoint{Host: f.host()}
	if _, err := c.GetManifest(ctx, ep, "library/alpine", digest.FromBytes(f.manifest).String()); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetManifest(ctx, ep, "library/alpine", "nope")
	if KindOf(err) != KindNotFound || !strings.Contains(err.Error(), "manifest unknown") {
		t.Fatalf("missing tag: %v", err)
	}
	f.status.Store(http.StatusTooManyRequests)
	_, err = c.GetManifest(ctx, ep, "library/alpine", "3.20")
	if KindOf(err) != KindTemporary || !strings.Contains(err.Error(), "slow down") {
		t.Fatalf("429: %v", err)
	}
	f.status.Store(http.StatusBadGateway)
	if _, err = c.HeadManifest(ctx, ep, "library/alpine", "3.20"); KindOf(err) != KindTemporary {
		t.Fatalf("502: %v", err)
	}
	f.reg.Close()
	if _, err = c.GetManifest(ctx, ep, "library/alpine", "3.20"); KindOf(err) != KindTemporary {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestDigestMismatchRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", manifestMT)
		w.Write([]byte(`{"schemaVersion":2}`))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c := New(Options{Insecure: []string{host}})
	_, err := c.GetManifest(context.Background(), Endpoint{Host: host}, "x", digest.FromString("other").String())
	if KindOf(err) != KindInvalid {
		t.Fatalf("err = %v", err)
	}
}

func TestBasicChallengeAndHTTPSByDefault(t *testing.T) {
	var auths []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="ecrd"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	// Not listed as insecure: HTTPS, which the plain server cannot answer.
	if err := New(Options{}).Ping(ctx, Endpoint{Host: host}); KindOf(err) != KindTemporary {
		t.Fatalf("https to a plain server: %v", err)
	}
	c := New(Options{Insecure: []string{host}})
	ep := Endpoint{Host: host, Username: user, Password: pass}
	for i := 0; i < 3; i++ {
		if err := c.Ping(ctx, ep); err != nil {
			t.Fatal(err)
		}
	}
	// One 401, then the credentials are sent up front.
	if len(auths) != 4 || auths[0] != "" || auths[1] == "" || auths[3] == "" {
		t.Fatalf("authorization headers: %q", auths)
	}
	if err := c.Ping(ctx, Endpoint{Host: host}); KindOf(err) != KindDenied {
		t.Fatalf("no credentials: %v", err)
	}
}

// TestVia: an endpoint with Via is reached there, each request naming
// the endpoint's host, which need not resolve, and marked as a cache's
// fetch.
func TestVia(t *testing.T) {
	var hosts []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
		if r.Header.Get(FetchHeader) == "" {
			http.Error(w, "not marked as a cache's fetch", http.StatusBadRequest)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="ecrd"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	const named = "210987654321.dkr.ecr.eu-west-1.registry.invalid"
	ep := Endpoint{Host: named, Username: user, Password: pass, Via: srv.URL}
	if err := New(Options{}).Ping(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 2 || hosts[0] != named || hosts[1] != named {
		t.Fatalf("Host headers %q, want %s twice (the challenge and the answer)", hosts, named)
	}
	// Without Via the name is looked up, and does not resolve.
	ep.Via = ""
	if err := New(Options{}).Ping(context.Background(), ep); KindOf(err) != KindTemporary {
		t.Fatalf("without Via: %v", err)
	}
}

func TestDockerHubNames(t *testing.T) {
	for _, tc := range []struct{ host, repo, want string }{
		{"registry-1.docker.io", "alpine", "library/alpine"},
		{"docker.io", "alpine", "library/alpine"},
		{"registry-1.docker.io", "bitnami/redis", "bitnami/redis"},
		{"ghcr.io", "alpine", "alpine"},
	} {
		if got := RepositoryName(tc.host, tc.repo); got != tc.want {
			t.Errorf("RepositoryName(%q, %q) = %q, want %q", tc.host, tc.repo, got, tc.want)
		}
	}
	if got := New(Options{}).baseURL("docker.io"); got != "https://registry-1.docker.io" {
		t.Errorf("docker.io -> %s", got)
	}
}

func TestParseChallenge(t *testing.T) {
	for _, tc := range []struct {
		h      string
		ok     bool
		scheme string
		realm  string
		scope  string
	}{
		{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`, true, "bearer", "https://auth.docker.io/token", "repository:library/alpine:pull"},
		{`Basic realm="x"`, true, "basic", "x", ""},
		{`Negotiate, Bearer realm=https://a/t, service=s`, true, "bearer", "https://a/t", ""},
		{`Bearer service="s"`, false, "", "", ""},
		{`Bearer realm="unterminated`, false, "", "", ""},
		{``, false, "", "", ""},
		{`Bearer realm="a\"b"`, true, "bearer", `a"b`, ""},
	} {
		ch, ok := parseChallenge(tc.h)
		if ok != tc.ok || (ok && (ch.scheme != tc.scheme || ch.params["realm"] != tc.realm || ch.params["scope"] != tc.scope)) {
			t.Errorf("parseChallenge(%q) = %+v, %v", tc.h, ch, ok)
		}
	}
}

func FuzzParseChallenge(f *testing.F) {
	f.Add(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`)
	f.Add(`Basic realm="x", Bearer realm=y`)
	f.Add(`a b=c, d e="f\"`)
	f.Fuzz(func(t *testing.T, h string) {
		ch, ok := parseChallenge(h)
		if ok && ch.scheme != "basic" && ch.scheme != "bearer" {
			t.Fatalf("scheme %q accepted", ch.scheme)
		}
	})
}
