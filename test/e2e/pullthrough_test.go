package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPullThroughCache runs a downstream ecrd whose pull-through cache
// rule mirrors another ecrd on loopback (reached over plain HTTP through
// insecure-upstreams, pulled anonymously through its anonymous-pull
// repositories), and pulls with crane: a first pull brings the image
// with its digest unchanged; ten concurrent first pulls of another image
// fetch each of its blobs once from the upstream (its request log says
// so); an index brings its children; with the upstream stopped, cached
// content is still served and what is not cached fails with the
// upstream's trouble.
func TestPullThroughCache(t *testing.T) {
	crane := tool(t, "crane")
	up := startECRD(t, t.TempDir(), "--log-level", "debug")
	down := startECRD(t, t.TempDir(), "--insecure-upstreams", up.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// crane logs in to both.
	dir := t.TempDir()
	auths := map[string]any{}
	for _, e := range []*ecrd{up, down} {
		auths[e.Addr] = map[string]string{"auth": e.Token(t)}
	}
	b, _ := json.Marshal(map[string]any{"auths": auths})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	c := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(run(t, ctx, crane, append([]string{"--insecure"}, args...)...))
	}

	// The upstream's images, in repositories that allow anonymous pulls.
	upAuth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: up.Password(t)})
	push := func(repo string, layers int) string {
		t.Helper()
		img, err := random.Image(256<<10, int64(layers))
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewTag(up.Addr+"/"+repo+":v1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, upAuth); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return d.String()
	}
	app := push("lib/app", 3)
	burst := push("lib/burst", 4)
	idx, err := random.Index(1024, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	idxRef, _ := name.NewTag(up.Addr+"/lib/multi:v1", name.Insecure)
	if err := remote.WriteIndex(idxRef, idx, upAuth); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	for _, repo := range []string{"lib/app", "lib/burst", "lib/multi"} {
		_, err := up.ECR().TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(repoARN(testAccount, repo)),
			Tags: []ecrtypes.Tag{{Key: aws.String("ecrd:anonymous-pull"), Value: aws.String("true")}}})
		ecrMust(t, "TagResource", err)
	}

	_, err = ecrClient(down).CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("up"),
		UpstreamRegistryUrl: aws.String(up.Addr),
	})
	ecrMust(t, "CreatePullThroughCacheRule", err)

	// First pull: the image, digest unchanged, in a repository the cache
	// created.
	if got := c("digest", down.Addr+"/up/lib/app:v1"); got != app {
		t.Fatalf("downstream digest %s, upstream's %s", got, app)
	}
	c("pull", down.Addr+"/up/lib/app:v1", filepath.Join(dir, "app.tar"))
	if _, err := ecrClient(down).DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"up/lib/app"}}); err != nil {
		t.Fatalf("the cached repository: %v", err)
	}

	// Ten concurrent first pulls: each blob fetched once upstream.
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c("pull", down.Addr+"/up/lib/burst:v1", filepath.Join(dir, "burst"+string(rune('a'+i))+".tar"))
		}(i)
	}
	wg.Wait()
	fetches := up.Gets("/v2/lib/burst/blobs/")
	if len(fetches) != 5 { // a config and four layers
		t.Fatalf("blob fetches upstream: %v, want the config and four layers", fetches)
	}
	for p, n := range fetches {
		if n != 1 {
			t.Errorf("%s fetched %d times upstream by ten concurrent pulls", p, n)
		}
	}
	if got := c("digest", down.Addr+"/up/lib/burst:v1"); got != burst {
		t.Fatalf("burst digest %s, want %s", got, burst)
	}

	// An index brings its children.
	if got := c("digest", down.Addr+"/up/lib/multi:v1"); got != idxDigest.String() {
		t.Fatalf("index digest %s, want %s", got, idxDigest)
	}
	im, _ := idx.IndexManifest()

	// The upstream stopped: cached content is served, the rest fails.
	up.Stop()
	c("pull", down.Addr+"/up/lib/app:v1", filepath.Join(dir, "again.tar"))
	for _, m := range im.Manifests {
		c("manifest", down.Addr+"/up/lib/multi@"+m.Digest.String())
	}
	out := runFail(t, ctx, crane, "--insecure", "manifest", down.Addr+"/up/lib/app:v2")
	if !strings.Contains(out, "upstream") {
		t.Fatalf("an uncached tag with the upstream down: %s", out)
	}
	noServerErrors(t, down)
}

// TestPullThroughCachePrivateUpstream: a rule whose upstream (another
// ecrd on loopback) admits only logged-in callers takes its credentials
// from a Secrets Manager secret named ecr-pullthroughcache/...;
// ValidatePullThroughCacheRule says so both ways, and skopeo pulls
// through the cache.
func TestPullThroughCachePrivateUpstream(t *testing.T) {
	skopeo := tool(t, "skopeo")
	up := startECRD(t, t.TempDir())
	down := startECRD(t, t.TempDir(), "--insecure-upstreams", up.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	img, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(up.Addr+"/team/private:v1", name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "AWS", Password: up.Password(t)})); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()

	sm := secretsmanager.New(secretsmanager.Options{Region: testRegion, BaseEndpoint: aws.String(down.URL()),
		Credentials: static(testAccessKey, testSecret), Retryer: closedConnRetryer()})
	secretARN := func(name, token string) *string {
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name),
			SecretString: aws.String(`{"username":"AWS","accessToken":"` + token + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return out.ARN
	}
	good, bad := secretARN("ecr-pullthroughcache/up", up.Password(t)), secretARN("ecr-pullthroughcache/wrong", "not-a-password")
	c := ecrClient(down)
	for prefix, arn := range map[string]*string{"private": good, "wrong": bad} {
		if _, err := c.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String(prefix),
			UpstreamRegistryUrl: aws.String(up.Addr), CredentialArn: arn}); err != nil {
			t.Fatal(err)
		}
	}
	for prefix, valid := range map[string]bool{"private": true, "wrong": false} {
		v, err := c.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String(prefix)})
		if err != nil || v.IsValid != valid {
			t.Errorf("ValidatePullThroughCacheRule %s: %v %+v %q, want valid %v", prefix, err, v, aws.ToString(v.Failure), valid)
		}
	}
	out := run(t, ctx, skopeo, "inspect", "--tls-verify=false", "--creds", "AWS:"+down.Password(t),
		"docker://"+down.Addr+"/private/team/private:v1")
	var inspected struct{ Digest string }
	if err := json.Unmarshal([]byte(out), &inspected); err != nil || inspected.Digest != want.String() {
		t.Fatalf("skopeo inspect through the cache: %v %s", err, out)
	}
	dir := t.TempDir()
	run(t, ctx, skopeo, "copy", "--src-tls-verify=false", "--src-creds", "AWS:"+down.Password(t),
		"docker://"+down.Addr+"/private/team/private:v1", "oci:"+dir+":v1")
	// The upstream refuses the wrong credential: nothing comes through.
	badRef, _ := name.NewTag(down.Addr+"/wrong/team/private:v1", name.Insecure)
	if _, err := remote.Image(badRef, remote.WithAuth(&authn.Basic{Username: "AWS", Password: down.Password(t)})); err == nil {
		t.Error("an image came through a rule whose credential the upstream refuses")
	}
	noServerErrors(t, down)
}
