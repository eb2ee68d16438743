package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestPullThroughCacheFreshness runs a downstream ecrd whose rule
// mirrors another ecrd through a gate in the test (a reverse proxy that
// logs what the cache asks and can answer 429, as Docker Hub does when
// its pull limit is reached), and checks ECR's freshness end to end:
//   - a first pull brings the image and its referrer (a signature whose
//     subject it is), listed by the downstream's referrers API;
//   - a tag moved upstream is not looked at again within 24 hours: the
//     cached image is served and the upstream sees no request;
//   - once the tag's last check is set a day back (ecrd image-times
//     --upstream-checked-at, the control that stands in for the clock), the
//     next pull checks it with one HEAD and brings the new image;
//   - with the upstream answering 429, a due check serves the cached
//     image, and a tag not cached fails with the upstream's reason: the
//     OCI API's 502 and ECR's UnableToGetUpstreamImageException.
func TestPullThroughCacheFreshness(t *testing.T) {
	crane := tool(t, "crane")
	up := startECRD(t, t.TempDir())
	gate := startGate(t, up.URL())
	down := startECRD(t, t.TempDir(), "--insecure-upstreams", gate.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	dir := t.TempDir()
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{down.Addr: map[string]string{"auth": down.Token(t)}}})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	digestOf := func(ref string) string {
		t.Helper()
		return strings.TrimSpace(run(t, ctx, crane, "--insecure", "digest", down.Addr+"/"+ref))
	}

	upAuth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: up.Password(t)})
	push := func(tag string) v1.Image {
		t.Helper()
		img, err := random.Image(4096, 2)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.NewTag(up.Addr+"/lib/app:"+tag, name.Insecure)
		if err := remote.Write(ref, img, upAuth); err != nil {
			t.Fatal(err)
		}
		return img
	}
	first := push("v1")
	firstDigest := hashOf(t, first)
	// A signature of the first image, pushed by digest with it as subject.
	sig := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.example.signature")
	sig = mutate.Subject(sig, descriptor(t, first)).(v1.Image)
	sigDigest := hashOf(t, sig)
	sigRef, _ := name.NewDigest(up.Addr+"/lib/app@"+sigDigest.String(), name.Insecure)
	if err := remote.Write(sigRef, sig, upAuth); err != nil {
		t.Fatal(err)
	}
	_, err := up.ECR().TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(repoARN(testAccount, "lib/app")),
		Tags: []ecrtypes.Tag{{Key: aws.String("ecrd:anonymous-pull"), Value: aws.String("true")}}})
	ecrMust(t, "TagResource", err)
	_, err = ecrClient(down).CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("up"), UpstreamRegistryUrl: aws.String(gate.addr)})
	ecrMust(t, "CreatePullThroughCacheRule", err)

	// The first pull, and the referrer that came with it.
	if got := digestOf("up/lib/app:v1"); got != firstDigest.String() {
		t.Fatalf("first pull: digest %s, want %s", got, firstDigest)
	}
	subject, _ := name.NewDigest(down.Addr+"/up/lib/app@"+firstDigest.String(), name.Insecure)
	idx, err := remote.Referrers(subject, remote.WithAuth(&authn.Basic{Username: "AWS", Password: down.Password(t)}))
	if err != nil {
		t.Fatalf("the downstream's referrers: %v", err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != sigDigest || im.Manifests[0].ArtifactType != "application/vnd.example.signature" {
		t.Fatalf("the downstream's referrers of the cached image: %+v, want the signature %s", im.Manifests, sigDigest)
	}

	// The tag moves upstream; within a day the cache does not look.
	second := push("v1")
	gate.reset()
	if got := digestOf("up/lib/app:v1"); got != firstDigest.String() {
		t.Fatalf("a pull within a day of the check: digest %s, want the cached %s", got, firstDigest)
	}
	if seen := gate.seen(); len(seen) != 0 {
		t.Fatalf("a pull within a day of the check asked the upstream: %v", seen)
	}

	// A day later (by the control), one HEAD, and the new image.
	setChecked := func(tag string, at time.Time) {
		t.Helper()
		a := ecrdCall(t, down, "SetImageTimes", map[string]any{"repositoryName": "up/lib/app",
			"imageId": map[string]string{"imageTag": tag}, "upstreamCheckedAt": epoch(at)}, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("SetImageTimes upstreamCheckedAt: %d %s", a.Status, a.Body)
		}
	}
	// The first time through the command line.
	r := runECRD(t, []string{"AWS_ENDPOINT_URL=" + down.URL(), "AWS_REGION=" + testRegion,
		"AWS_ACCESS_KEY_ID=" + testAccessKey, "AWS_SECRET_ACCESS_KEY=" + testSecret},
		"image-times", "--repository", "up/lib/app", "--image-tag", "v1",
		"--upstream-checked-at", time.Now().Add(-25*time.Hour).UTC().Format(time.RFC3339))
	if r.code != 0 || !strings.Contains(r.stdout, "image: up/lib/app@"+firstDigest.String()) {
		t.Fatalf("ecrd image-times --upstream-checked-at: %v", r)
	}
	secondDigest := hashOf(t, second)
	if got := digestOf("up/lib/app:v1"); got != secondDigest.String() {
		t.Fatalf("a pull after the day: digest %s, want the upstream's new %s", got, secondDigest)
	}
	if heads := gate.count("HEAD /v2/lib/app/manifests/v1"); heads != 1 {
		t.Fatalf("the refresh sent %d HEADs of the tag upstream (%v), want 1", heads, gate.seen())
	}
	gate.reset()
	if got := digestOf("up/lib/app:v1"); got != secondDigest.String() || len(gate.seen()) != 0 {
		t.Fatalf("the pull after the refresh: digest %s, upstream asked %v; want %s from the cache", got, gate.seen(), secondDigest)
	}

	// Rate limited upstream: a due check serves the cache; a new tag fails
	// with the upstream's reason.
	gate.limit.Store(true)
	setChecked("v1", time.Now().Add(-25*time.Hour))
	if got := digestOf("up/lib/app:v1"); got != secondDigest.String() {
		t.Fatalf("a due check with the upstream at 429: digest %s, want the cached %s", got, secondDigest)
	}
	if gate.count("HEAD /v2/lib/app/manifests/v1") != 1 {
		t.Fatalf("the due check did not reach the upstream: %v", gate.seen())
	}
	out := runFail(t, ctx, crane, "--insecure", "manifest", down.Addr+"/up/lib/app:v2")
	if !strings.Contains(out, "HTTP 429): TOOMANYREQUESTS") {
		t.Fatalf("crane's pull of an uncached tag with the upstream at 429: %s, want the upstream's reason", out)
	}
	resp, err := down.HTTPClient(t).Get(down.URL() + "/v2/up/lib/app/manifests/v2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("an uncached tag with the upstream at 429: HTTP %d, want 502", resp.StatusCode)
	}
	_, err = ecrClient(down).BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("up/lib/app"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v3")}}})
	wantAPIError(t, "BatchGetImage of an uncached tag with the upstream at 429", err, "UnableToGetUpstreamImageException", http.StatusBadRequest, "")
	if err != nil && !strings.Contains(err.Error(), "HTTP 429") {
		t.Errorf("BatchGetImage's message lacks the upstream's reason: %v", err)
	}
	// The control is refused where it means nothing.
	a := ecrdCall(t, down, "SetImageTimes", map[string]any{"repositoryName": "up/lib/app",
		"imageId": map[string]string{"imageDigest": secondDigest.String()}, "upstreamCheckedAt": epoch(time.Now())}, nil)
	if a.Status != http.StatusBadRequest || !strings.Contains(string(a.Body), "imageTag") {
		t.Errorf("upstreamCheckedAt without a tag: %d %s", a.Status, a.Body)
	}
	noServerErrors(t, down)
}

// gate is a reverse proxy in front of an upstream that logs each
// request ("METHOD /path") and, while limit is set, answers 429 with
// the body Docker Hub sends.
type gate struct {
	addr  string
	limit atomic.Bool
	mu    sync.Mutex
	log   []string
}

func startGate(t *testing.T, target string) *gate {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{addr: l.Addr().String()}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.log = append(g.log, r.Method+" "+r.URL.Path)
		g.mu.Unlock()
		if g.limit.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return g
}

func (g *gate) reset() {
	g.mu.Lock()
	g.log = nil
	g.mu.Unlock()
}

func (g *gate) seen() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.log...)
}

func (g *gate) count(req string) int {
	n := 0
	for _, s := range g.seen() {
		if s == req {
			n++
		}
	}
	return n
}

func hashOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func descriptor(t *testing.T, img v1.Image) v1.Descriptor {
	t.Helper()
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	size, err := img.Size()
	if err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: mt, Size: size, Digest: hashOf(t, img)}
}
