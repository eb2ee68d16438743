package scaleout

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// TestPullThroughCacheAcrossReplicas runs a pull-through cache rule on
// two replicas sharing PostgreSQL and a bucket, mirroring an embedded
// ecrd on loopback:
//   - ten clients, five on each replica, pulling one new image at once
//     cost the upstream one GET of each blob (its request log says so):
//     within a replica the pulls follow one download, and across
//     replicas a lease per blob makes the second wait and serve what the
//     first stored;
//   - docker pulls another image through the cache, digest unchanged.
func TestPullThroughCacheAcrossReplicas(t *testing.T) {
	docker := ecrdtest.Tool(t, "docker")
	dockerd := ecrdtest.Tool(t, "dockerd")
	up := ecrdtest.Start(t, t.TempDir(), "--log-level", "debug")
	c := startCluster(t, 2, "--insecure-upstreams", up.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	upOpts := remoteOptions(up.Password(t))
	burst := randomImage(t, 2<<20, 4)
	if err := remote.Write(ref(t, up, "lib/burst:v1"), burst, upOpts...); err != nil {
		t.Fatal(err)
	}
	// docker wants a platform in the config.
	base := randomImage(t, 256<<10, 2)
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	app, err := mutate.ConfigFile(base, cf)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, up, "lib/app:v1"), app, upOpts...); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"lib/burst", "lib/app"} {
		_, err := up.ECR().TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String("arn:aws:ecr:us-east-1:" + ecrdtest.Account + ":repository/" + repo),
			Tags: []ecrtypes.Tag{{Key: aws.String("ecrd:anonymous-pull"), Value: aws.String("true")}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Replicas[0].ECR().CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("up"), UpstreamRegistryUrl: aws.String(up.Addr)}); err != nil {
		t.Fatal(err)
	}

	// Ten concurrent first pulls, five on each replica, reading the config
	// and every layer.
	want := digestOf(t, burst)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		r := c.Replicas[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			img, err := remote.Image(ref(t, r, "up/lib/burst:v1"), remoteOptions(r.Password(t))...)
			if err != nil {
				errs <- err
				return
			}
			if d, _ := img.Digest(); d != want {
				errs <- io.ErrUnexpectedEOF
				return
			}
			if _, err := img.RawConfigFile(); err != nil {
				errs <- err
				return
			}
			layers, err := img.Layers()
			if err != nil {
				errs <- err
				return
			}
			for _, l := range layers {
				rc, err := l.Compressed() // verifies the digest at EOF
				if err == nil {
					_, err = io.Copy(io.Discard, rc)
					rc.Close()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a concurrent first pull: %v", err)
	}
	fetches := up.Gets("/v2/lib/burst/blobs/")
	if len(fetches) != 5 { // a config and four layers
		t.Fatalf("blob fetches upstream: %v, want the config and four layers", fetches)
	}
	for p, n := range fetches {
		if n != 1 {
			t.Errorf("%s fetched %d times upstream by ten pulls on two replicas", p, n)
		}
	}

	// docker pulls through the cache.
	env := append(os.Environ(), "DOCKER_HOST="+startDockerd(t, dockerd), "DOCKER_CONFIG="+filepath.Join(t.TempDir(), "docker"))
	dockerRun := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, docker, args...)
		cmd.Env, cmd.Stdin = env, strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	r := c.Replicas[1]
	dockerRun(r.Password(t), "login", "--username", "AWS", "--password-stdin", r.Addr)
	dockerRun("", "pull", r.Addr+"/up/lib/app:v1")
	got := dockerRun("", "image", "inspect", "--format", "{{range .RepoDigests}}{{.}} {{end}}", r.Addr+"/up/lib/app:v1")
	if wantRef := r.Addr + "/up/lib/app@" + digestOf(t, app).String(); !strings.Contains(got, wantRef) {
		t.Fatalf("docker's repo digests %q, want %s", got, wantRef)
	}
	for _, e := range c.Replicas {
		ecrdtest.NoServerErrors(t, e)
	}
}
