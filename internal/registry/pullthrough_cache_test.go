package registry_test

import (
	"bytes"
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

	"github.com/ecrd/ecrd/internal/api/oci"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/scanner/scannertest"
	"github.com/ecrd/ecrd/internal/testutil"
)

// The upstream in these tests is another registry core served by the
// /v2 handler on loopback, behind a wrapper that logs its requests, can
// ask for Basic credentials, slow blobs down, or fail every request.

type upstreamServer struct {
	reg  *registry.Registry
	srv  *httptest.Server
	host string

	mu   sync.Mutex
	log  []string
	fail atomic.Int64 // an HTTP status every request gets, if set
	slow atomic.Bool  // blobs trickle out
	user string       // Basic credentials required, if set
	pass string
}

func newUpstream(t testing.TB) *upstreamServer {
	t.Helper()
	reg, _ := registrytest.New(t, registry.Options{})
	registrytest.CreateOnPush(t, reg)
	asRoot := func(*http.Request) (metadata.Scope, *identity.Principal, error) {
		p := identity.Root(scope.Account)
		return scope, &p, nil
	}
	h := oci.New(reg, testutil.Logger(), asRoot, "http://upstream.test/")
	u := &upstreamServer{reg: reg}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u.mu.Lock()
		u.log = append(u.log, req.Method+" "+req.URL.Path)
		u.mu.Unlock()
		if s := u.fail.Load(); s != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(int(s))
			fmt.Fprint(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit reached"}]}`)
			return
		}
		if u.user != "" {
			if n, p, ok := req.BasicAuth(); !ok || n != u.user || p != u.pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="upstream"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		if u.slow.Load() && strings.Contains(req.URL.Path, "/blobs/") && req.Method == http.MethodGet {
			h.ServeHTTP(&trickle{ResponseWriter: w}, req)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(u.srv.Close)
	u.host = strings.TrimPrefix(u.srv.URL, "http://")
	return u
}

// trickle writes a response in small pieces with pauses, so that
// concurrent pulls overlap one download.
type trickle struct{ http.ResponseWriter }

func (t *trickle) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), 64<<10)
		m, err := t.ResponseWriter.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		if f, ok := t.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(5 * time.Millisecond)
		p = p[k:]
	}
	return n, nil
}

func (u *upstreamServer) count(prefix string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, l := range u.log {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// push stores an image (a config and one layer) in the upstream and
// returns its manifest's digest and its blobs.
func (u *upstreamServer) push(t testing.TB, repo, tag string, config, layer []byte) (digest.Digest, []digest.Digest) {
	t.Helper()
	for _, b := range [][]byte{config, layer} {
		if _, err := u.reg.PutBlob(ctx, key(repo), digest.FromBytes(b).String(), bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	body := manifestOf(config, layer)
	ref := tag
	if ref == "" {
		ref = digest.FromBytes(body).String()
	}
	img, err := u.reg.PutManifest(ctx, key(repo), ref, nil, "application/vnd.oci.image.manifest.v1+json", body)
	if err != nil {
		t.Fatal(err)
	}
	return img.Digest, []digest.Digest{digest.FromBytes(config), digest.FromBytes(layer)}
}

type ptcFixture struct {
	*fixture
	up        *upstreamServer
	credReads atomic.Int64
}

func newPTC(t *testing.T, credential string, tune ...func(*registry.Options)) *ptcFixture {
	t.Helper()
	up := newUpstream(t)
	p := &ptcFixture{up: up}
	opts := registry.Options{InsecureUpstreams: []string{up.host}}
	for _, f := range tune {
		f(&opts)
	}
	rule := registry.PullThroughCacheRule{Prefix: "hub", UpstreamRegistryURL: up.host, CreatedAt: time.Now()}
	if credential != "" {
		rule.CredentialARN = "arn:aws:secretsmanager:us-east-1:" + scope.Account + ":secret:ecr-pullthroughcache/up-AbCdEf"
		opts.UpstreamCredentials = func(_ context.Context, account, arn string) (string, error) {
			p.credReads.Add(1)
			if account != scope.Account || arn != rule.CredentialARN {
				return "", fmt.Errorf("no secret %s in %s", arn, account)
			}
			return credential, nil
		}
	}
	p.fixture = newFixture(t, opts)
	if err := registry.SetPullThroughRules(ctx, p.reg, scope, []registry.PullThroughCacheRule{rule}); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *ptcFixture) readBlob(t *testing.T, repo string, d digest.Digest) []byte {
	t.Helper()
	b, rc, err := p.reg.OpenBlob(ctx, key(repo), d.String())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if digest.FromBytes(got) != d || int64(len(got)) != b.Size {
		t.Fatalf("blob %s: read %d bytes of digest %s, size %d", d, len(got), digest.FromBytes(got), b.Size)
	}
	return got
}

func TestPullThroughFirstAndCachedPull(t *testing.T) {
	p := newPTC(t, "")
	md, blobs := p.up.push(t, "team/app", "v1", []byte(`{"architecture":"amd64","os":"linux"}`), bytes.Repeat([]byte("layer"), 1000))

	img, err := p.reg.Manifest(ctx, key("hub/team/app"), "v1", true)
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != md {
		t.Fatalf("cached digest %s, upstream's %s", img.Digest, md)
	}
	for _, d := range blobs {
		p.readBlob(t, "hub/team/app", d)
	}
	// The cache action's event, in the transaction that stored it.
	events, err := p.meta.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var detail map[string]string
	for _, e := range events {
		if e.Type == "ECR Pull Through Cache Action" {
			var env struct {
				Detail map[string]string `json:"detail"`
			}
			if err := json.Unmarshal(e.Document, &env); err != nil {
				t.Fatal(err)
			}
			detail = env.Detail
		}
	}
	want := map[string]string{"rule-version": "1", "sync-status": "SUCCESS", "ecr-repository-prefix": "hub", "repository-name": "hub/team/app",
		"upstream-registry-url": p.up.host, "image-tag": "v1", "image-digest": md.String()}
	for k, v := range want {
		if detail[k] != v {
			t.Errorf("event detail %s = %q, want %q (detail %v)", k, detail[k], v, detail)
		}
	}

	// The upstream gone: everything cached is still served, by tag and digest.
	p.up.srv.Close()
	for _, ref := range []string{"v1", md.String()} {
		if img, err := p.reg.Manifest(ctx, key("hub/team/app"), ref, true); err != nil || img.Digest != md {
			t.Fatalf("cached pull of %s with the upstream down: %v, %v", ref, img.Digest, err)
		}
	}
	for _, d := range blobs {
		p.readBlob(t, "hub/team/app", d)
	}
	// Not cached, upstream down: the upstream's trouble, with its reason.
	_, err = p.reg.Manifest(ctx, key("hub/team/app"), "v2", true)
	wantCode(t, err, registry.CodeUpstreamImage)
	_, err = p.reg.Manifest(ctx, key("hub/team/other"), "v1", true)
	wantCode(t, err, registry.CodeUpstreamImage)
	// Outside any rule: an ordinary miss.
	_, err = p.reg.Manifest(ctx, key("elsewhere/app"), "v1", true)
	wantCode(t, err, registry.CodeNameUnknown)
}

func TestPullThroughUpstreamErrors(t *testing.T) {
	p := newPTC(t, "")
	p.up.push(t, "team/app", "v1", []byte(`{"os":"linux"}`), []byte("l"))
	_, err := p.reg.Manifest(ctx, key("hub/team/app"), "nope", true)
	wantCode(t, err, registry.CodeManifestUnknown)
	p.up.fail.Store(http.StatusTooManyRequests)
	_, err = p.reg.Manifest(ctx, key("hub/team/app"), "v1", true)
	wantCode(t, err, registry.CodeUpstreamImage)
	if !strings.Contains(err.Error(), "rate limit reached") {
		t.Fatalf("the upstream's reason is missing: %v", err)
	}
}

func TestPullThroughIndexBringsChildren(t *testing.T) {
	p := newPTC(t, "")
	a, _ := p.up.push(t, "multi", "", []byte(`{"architecture":"amd64"}`), []byte("amd64 layer"))
	b, _ := p.up.push(t, "multi", "", []byte(`{"architecture":"arm64"}`), []byte("arm64 layer"))
	children := map[digest.Digest][]byte{}
	for _, d := range []digest.Digest{a, b} {
		img, err := p.up.reg.Manifest(ctx, key("multi"), d.String(), false)
		if err != nil {
			t.Fatal(err)
		}
		children[d] = img.Content
	}
	index := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"platform":{"architecture":"amd64","os":"linux"}},`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"platform":{"architecture":"arm64","os":"linux"}}]}`,
		a, len(children[a]), b, len(children[b]))
	idx, err := p.up.reg.PutManifest(ctx, key("multi"), "latest", nil, "application/vnd.oci.image.index.v1+json", []byte(index))
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.reg.Manifest(ctx, key("hub/multi"), "latest", true)
	if err != nil || got.Digest != idx.Digest || !bytes.Equal(got.Content, []byte(index)) {
		t.Fatalf("index: %v %v", got.Digest, err)
	}
	p.up.srv.Close()
	for d, body := range children {
		img, err := p.reg.Manifest(ctx, key("hub/multi"), d.String(), false)
		if err != nil || !bytes.Equal(img.Content, body) {
			t.Fatalf("child %s not cached with the index: %v", d, err)
		}
	}
}

func TestPullThroughOneFetchPerBlob(t *testing.T) {
	p := newPTC(t, "")
	layer := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB, trickled out
	_, blobs := p.up.push(t, "big", "v1", []byte(`{"os":"linux"}`), layer)
	if _, err := p.reg.Manifest(ctx, key("hub/big"), "v1", true); err != nil {
		t.Fatal(err)
	}
	p.up.slow.Store(true)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, rc, err := p.reg.OpenBlob(ctx, key("hub/big"), blobs[1].String())
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err == nil && !bytes.Equal(got, layer) {
				err = fmt.Errorf("read %d bytes, digest %s", len(got), digest.FromBytes(got))
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := p.up.count("GET /v2/big/blobs/" + blobs[1].String()); n != 1 {
		t.Fatalf("ten concurrent first pulls fetched the blob %d times upstream", n)
	}
	// Stored: the next pull reads the store.
	p.readBlob(t, "hub/big", blobs[1])
	if n := p.up.count("GET /v2/big/blobs/"); n != 1 {
		t.Fatalf("%d blob fetches after the cached pull", n)
	}
	// A HEAD of a blob not cached yet brings it too.
	if b, err := p.reg.StatBlob(ctx, key("hub/big"), blobs[0].String()); err != nil || b.Digest != blobs[0] {
		t.Fatalf("StatBlob: %v %v", b, err)
	}
}

func TestPullThroughTagRefreshedAfter24h(t *testing.T) {
	p := newPTC(t, "")
	v1, _ := p.up.push(t, "app", "latest", []byte(`{"v":1}`), []byte("one"))
	if img, err := p.reg.Manifest(ctx, key("hub/app"), "latest", true); err != nil || img.Digest != v1 {
		t.Fatalf("first pull: %v %v", img.Digest, err)
	}
	v2, _ := p.up.push(t, "app", "latest", []byte(`{"v":2}`), []byte("two"))
	heads := func() int { return p.up.count("HEAD /v2/app/manifests/latest") }

	p.clock.Advance(23 * time.Hour)
	if img, err := p.reg.Manifest(ctx, key("hub/app"), "latest", true); err != nil || img.Digest != v1 {
		t.Fatalf("within 24h: %v %v", img.Digest, err)
	}
	if heads() != 0 {
		t.Fatalf("%d upstream checks within 24 hours", heads())
	}
	p.clock.Advance(2 * time.Hour)
	if img, err := p.reg.Manifest(ctx, key("hub/app"), "latest", true); err != nil || img.Digest != v2 {
		t.Fatalf("after 24h: %v %v, want %s", img.Digest, err, v2)
	}
	if heads() != 1 {
		t.Fatalf("%d upstream checks after 24 hours, want 1", heads())
	}
	// Checked: no further HEAD for a day, even though pulls continue.
	for i := 0; i < 3; i++ {
		if _, err := p.reg.Manifest(ctx, key("hub/app"), "latest", true); err != nil {
			t.Fatal(err)
		}
	}
	if heads() != 1 {
		t.Fatalf("%d upstream checks, want 1", heads())
	}
	// A tag pushed here, which the upstream does not have: checked once a
	// day like the others, not on every pull.
	cfg, layer := []byte(`{"local":true}`), []byte("local layer")
	p.pushBlob(t, "hub/app", cfg)
	p.pushBlob(t, "hub/app", layer)
	local, err := p.reg.PutManifest(ctx, key("hub/app"), "local", nil, "application/vnd.oci.image.manifest.v1+json", manifestOf(cfg, layer))
	if err != nil {
		t.Fatal(err)
	}
	p.clock.Advance(25 * time.Hour)
	for i := 0; i < 3; i++ {
		if img, err := p.reg.Manifest(ctx, key("hub/app"), "local", true); err != nil || img.Digest != local.Digest {
			t.Fatalf("a local tag: %v %v", img.Digest, err)
		}
	}
	if n := p.up.count("HEAD /v2/app/manifests/local"); n != 1 {
		t.Fatalf("a tag the upstream lacks was checked %d times, want 1", n)
	}

	// A day later with the upstream failing: the cached image is served.
	p.clock.Advance(25 * time.Hour)
	p.up.fail.Store(http.StatusServiceUnavailable)
	if img, err := p.reg.Manifest(ctx, key("hub/app"), "latest", true); err != nil || img.Digest != v2 {
		t.Fatalf("upstream failing: %v %v", img.Digest, err)
	}
	// By digest, content is never checked again.
	before := len(p.up.log)
	if _, err := p.reg.Manifest(ctx, key("hub/app"), v1.String(), true); err != nil {
		t.Fatal(err)
	}
	if len(p.up.log) != before {
		t.Fatalf("a pull by a cached digest went upstream")
	}
}

func TestPullThroughBasicCredentialsReadOnce(t *testing.T) {
	p := newPTC(t, `{"username":"puller","accessToken":"tok-123"}`)
	p.up.user, p.up.pass = "puller", "tok-123"
	md, blobs := p.up.push(t, "private/app", "v1", []byte(`{"os":"linux"}`), []byte("secret layer"))
	for i := 0; i < 3; i++ {
		if img, err := p.reg.Manifest(ctx, key("hub/private/app"), md.String(), true); err != nil || img.Digest != md {
			t.Fatalf("pull %d: %v", i, err)
		}
	}
	p.readBlob(t, "hub/private/app", blobs[1])
	if n := p.credReads.Load(); n != 1 {
		t.Fatalf("the secret was read %d times, want 1", n)
	}
	rule := registry.PullThroughCacheRule{Prefix: "hub", UpstreamRegistryURL: p.up.host}
	if err := p.reg.CheckUpstream(ctx, scope, rule, `{"username":"puller","accessToken":"tok-123"}`); err != nil {
		t.Fatalf("CheckUpstream with the right credential: %v", err)
	}
	err := p.reg.CheckUpstream(ctx, scope, rule, `{"username":"puller","accessToken":"wrong"}`)
	wantCode(t, err, registry.CodeUpstreamImage)
	err = p.reg.CheckUpstream(ctx, scope, rule, `not json`)
	wantCode(t, err, registry.CodeInvalidParameter)
}

func TestPullThroughThroughTheECRAPIAndReferrers(t *testing.T) {
	p := newPTC(t, "")
	md, blobs := p.up.push(t, "signed", "v1", []byte(`{"os":"linux"}`), []byte("payload"))
	// A referrer of the image upstream (an artifact with it as subject).
	img, err := p.up.reg.Manifest(ctx, key("signed"), md.String(), false)
	if err != nil {
		t.Fatal(err)
	}
	empty := []byte("{}")
	sig := []byte("signature")
	for _, b := range [][]byte{empty, sig} {
		if _, err := p.up.reg.PutBlob(ctx, key("signed"), digest.FromBytes(b).String(), bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	ref := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sig",`+
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},`+
		`"layers":[{"mediaType":"application/octet-stream","digest":%q,"size":%d}],`+
		`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d}}`,
		digest.FromBytes(empty), digest.FromBytes(sig), len(sig), md, len(img.Content))
	refImg, err := p.up.reg.PutManifest(ctx, key("signed"), digest.FromBytes([]byte(ref)).String(), nil, "application/vnd.oci.image.manifest.v1+json", []byte(ref))
	if err != nil {
		t.Fatal(err)
	}

	// BatchGetImage brings the image, as a /v2 pull does.
	imgs, _, failures, err := p.reg.BatchGetImage(ctx, key("hub/signed"), []registry.ImageID{{Tag: "v1"}}, nil)
	if err == nil {
		// The repository did not exist: BatchGetImage answers for it as ECR
		// does, so a /v2 pull creates it first.
		t.Fatalf("BatchGetImage before the repository exists: %v %v", imgs, failures)
	}
	if _, err := p.reg.Manifest(ctx, key("hub/signed"), md.String(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.up.reg.PutManifest(ctx, key("signed"), "v2", nil, "application/vnd.oci.image.manifest.v1+json", img.Content); err != nil {
		t.Fatal(err)
	}
	imgs, _, failures, err = p.reg.BatchGetImage(ctx, key("hub/signed"), []registry.ImageID{{Tag: "v2"}, {Tag: "missing"}}, nil)
	if err != nil || len(imgs) != 1 || imgs[0].Digest != md || len(failures) != 1 || failures[0].Code != registry.FailureImageNotFound {
		t.Fatalf("BatchGetImage: %v %v %v", imgs, failures, err)
	}
	// GetDownloadUrlForLayer brings the layer.
	if b, err := p.reg.GetDownloadURLForLayer(ctx, key("hub/signed"), blobs[1].String()); err != nil || b.Digest != blobs[1] {
		t.Fatalf("GetDownloadURLForLayer: %v %v", b, err)
	}
	// The referrer came with the image.
	refs, err := p.reg.Referrers(ctx, key("hub/signed"), md.String(), "")
	if err != nil || len(refs) != 1 || refs[0].Digest != refImg.Digest {
		t.Fatalf("referrers: %v %v", refs, err)
	}
	// Upstream trouble through the ECR API: the whole call fails.
	p.up.fail.Store(http.StatusBadGateway)
	_, _, _, err = p.reg.BatchGetImage(ctx, key("hub/signed"), []registry.ImageID{{Tag: "v3"}}, nil)
	wantCode(t, err, registry.CodeUpstreamImage)
	_, err = p.reg.GetDownloadURLForLayer(ctx, key("hub/signed"), digest.FromString("nope").String())
	wantCode(t, err, registry.CodeUpstreamLayer)
}

func TestPullThroughScanOnPushBringsLayers(t *testing.T) {
	s, _ := newScanner(t, opensslAdvisory)
	p := newPTC(t, "", func(o *registry.Options) {
		o.Scanner = s
		o.ScanPollInterval = 50 * time.Millisecond
	})
	runInBackground(t, p.reg)
	if _, err := p.reg.PutRegistryScanningConfiguration(ctx, scope, registry.RegistryScanningConfiguration{ScanType: registry.ScanTypeBasic,
		Rules: []registry.ScanningRule{{ScanFrequency: registry.ScanOnPush, RepositoryFilters: wildcard("*")}}}); err != nil {
		t.Fatal(err)
	}
	upFixture := &fixture{reg: p.up.reg}
	d := upFixture.pushV1(t, "base", "v1", imageOf(t, scannertest.DebianFiles(scannertest.Package{Name: "openssl", Version: "3.0.11-1~deb12u1"})))
	// Only the manifest is pulled; the scan brings the layers.
	if img, err := p.reg.Manifest(ctx, key("hub/base"), "v1", true); err != nil || img.Digest != d {
		t.Fatalf("pull: %v %v", img.Digest, err)
	}
	res := (&scanFixture{fixture: p.fixture}).waitScan(t, "hub/base", registry.ImageID{Tag: "v1"})
	if res.Status != metadata.ScanComplete || len(res.Findings) != 1 || res.Findings[0].ID != "CVE-2023-5678" {
		t.Fatalf("scan of a cached image: %+v %v", res.ScanStatus, findingIDs(res.Findings))
	}
}

// Two processes sharing the stores: a lease per blob makes one fetch it
// while the other waits and then serves what it stored.
func TestPullThroughOneFetchAcrossReplicas(t *testing.T) {
	up := newUpstream(t)
	stores := registrytest.Open(t)
	var regs []*registry.Registry
	for _, holder := range []string{"replica-a", "replica-b"} {
		regs = append(regs, registry.New(stores.Meta, stores.Blobs, registry.Options{Shared: true, Holder: holder,
			InsecureUpstreams: []string{up.host}, Logger: testutil.Logger()}))
	}
	if err := registry.SetPullThroughRules(ctx, regs[0], scope, []registry.PullThroughCacheRule{{Prefix: "hub", UpstreamRegistryURL: up.host}}); err != nil {
		t.Fatal(err)
	}
	layer := bytes.Repeat([]byte("fedcba9876543210"), 128<<10) // 2 MiB, trickled out
	_, blobs := up.push(t, "shared", "v1", []byte(`{"os":"linux"}`), layer)
	if _, err := regs[0].Manifest(ctx, key("hub/shared"), "v1", true); err != nil {
		t.Fatal(err)
	}
	up.slow.Store(true)
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(reg *registry.Registry) {
			defer wg.Done()
			_, rc, err := reg.OpenBlob(ctx, key("hub/shared"), blobs[1].String())
			if err != nil {
				t.Error(err)
				return
			}
			defer rc.Close()
			if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, layer) {
				t.Errorf("read %d bytes: %v", len(got), err)
			}
		}(regs[i%2])
	}
	wg.Wait()
	if n := up.count("GET /v2/shared/blobs/" + blobs[1].String()); n != 1 {
		t.Fatalf("two replicas fetched the blob %d times upstream", n)
	}
}

// Bringing content from the upstream needs ecr:BatchImportUpstreamImage,
// and creating the repository ecr:CreateRepository; reading what is
// cached needs only the pull actions.
func TestPullThroughAuthorization(t *testing.T) {
	up := newUpstream(t)
	stores := registrytest.Open(t)
	ids := identity.New(stores.Meta, testutil.Keyring(t), nil)
	if _, err := ids.EnsureAccount(ctx, scope.Account); err != nil {
		t.Fatal(err)
	}
	reg := registry.New(stores.Meta, stores.Blobs, registry.Options{Identity: ids, InsecureUpstreams: []string{up.host}, Logger: testutil.Logger()})
	if err := registry.SetPullThroughRules(ctx, reg, scope, []registry.PullThroughCacheRule{{Prefix: "hub", UpstreamRegistryURL: up.host}}); err != nil {
		t.Fatal(err)
	}
	user := func(name, actions string) context.Context {
		t.Helper()
		u, err := ids.CreateUser(ctx, identity.UserInput{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[` + actions + `],"Resource":"*"}]}`
		if err := ids.PutInlinePolicy(ctx, identity.Grantee{Kind: metadata.IAMUser, Name: name}, "p", doc); err != nil {
			t.Fatal(err)
		}
		return identity.NewContext(context.Background(), identity.Principal{Account: scope.Account, ARN: u.ARN, UserID: u.ID, Type: identity.TypeUser, Name: name})
	}
	pullOnly := user("reader", `"ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"`)
	importer := user("importer", `"ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchImportUpstreamImage"`)
	creator := user("creator", `"ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchImportUpstreamImage","ecr:CreateRepository"`)
	md, blobs := up.push(t, "app", "v1", []byte(`{"os":"linux"}`), []byte("layer"))

	_, err := reg.Manifest(pullOnly, key("hub/app"), "v1", true)
	wantCode(t, err, registry.CodeAccessDenied)
	_, err = reg.Manifest(importer, key("hub/app"), "v1", true)
	wantCode(t, err, registry.CodeAccessDenied) // the repository does not exist
	if img, err := reg.Manifest(creator, key("hub/app"), "v1", true); err != nil || img.Digest != md {
		t.Fatalf("with import and create: %v %v", img.Digest, err)
	}
	// The layer is not cached yet: bringing it needs the import permission.
	_, _, err = reg.OpenBlob(pullOnly, key("hub/app"), blobs[1].String())
	wantCode(t, err, registry.CodeAccessDenied)
	if _, rc, err := reg.OpenBlob(importer, key("hub/app"), blobs[1].String()); err != nil {
		t.Fatal(err)
	} else {
		io.Copy(io.Discard, rc)
		rc.Close()
	}
	// Cached: the pull actions are enough.
	if _, err := reg.Manifest(pullOnly, key("hub/app"), "v1", true); err != nil {
		t.Fatal(err)
	}
	if _, rc, err := reg.OpenBlob(pullOnly, key("hub/app"), blobs[1].String()); err != nil {
		t.Fatal(err)
	} else {
		rc.Close()
	}
}

// TestPullThroughURLScheme: a rule's URL may carry its scheme, as the
// rule API accepts; http:// is honoured only for an insecure upstream,
// and otherwise refused rather than reached over HTTPS.
func TestPullThroughURLScheme(t *testing.T) {
	p := newPTC(t, "")
	md, _ := p.up.push(t, "team/app", "v1", []byte(`{"os":"linux"}`), []byte("layer"))
	other := "127.0.0.1:1" // not among the insecure upstreams
	rules := []registry.PullThroughCacheRule{
		{Prefix: "plain", UpstreamRegistryURL: "http://" + p.up.host, CreatedAt: time.Now()},
		{Prefix: "tls", UpstreamRegistryURL: "https://" + p.up.host, CreatedAt: time.Now()},
		{Prefix: "refused", UpstreamRegistryURL: "http://" + other, CreatedAt: time.Now()},
	}
	if err := registry.SetPullThroughRules(ctx, p.reg, scope, rules); err != nil {
		t.Fatal(err)
	}
	if img, err := p.reg.Manifest(ctx, key("plain/team/app"), "v1", true); err != nil || img.Digest != md {
		t.Fatalf("http:// of an insecure upstream: %v", err)
	}
	// https:// of the same host is the insecure-upstreams setting's to
	// decide too: it lists the host, so plain HTTP.
	if img, err := p.reg.Manifest(ctx, key("tls/team/app"), "v1", true); err != nil || img.Digest != md {
		t.Fatalf("https:// of an insecure upstream: %v", err)
	}
	_, err := p.reg.Manifest(ctx, key("refused/team/app"), "v1", true)
	wantCode(t, err, registry.CodeUpstreamImage)
	if err == nil || !strings.Contains(err.Error(), "over HTTPS only") {
		t.Errorf("http:// of a host not among the insecure upstreams: %v", err)
	}
	err = p.reg.CheckUpstream(ctx, scope, rules[2], "")
	if err == nil || !strings.Contains(err.Error(), "over HTTPS only") {
		t.Errorf("CheckUpstream of the same: %v", err)
	}
}
