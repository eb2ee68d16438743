package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// replicationLag pushes a burst of n images (4 clients) to repo of e,
// which replicates them to dest (served by target), and returns how long
// each took from its push to its copy, sorted: the difference between
// the image's push time in the destination (when its manifest and tags
// were committed there) and in the source (when the push was
// acknowledged), both as the servers' DescribeImages report them, so
// that watching does not slow what it measures.
func replicationLag(b *testing.B, e, target *ecrd, repo string, n int, destRegion string) []time.Duration {
	b.Helper()
	auth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(b)})
	imgs := make([]v1.Image, n)
	for i := range imgs {
		img, err := random.Image(16<<10, 2)
		if err != nil {
			b.Fatal(err)
		}
		imgs[i] = img
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				ref, _ := name.NewTag(fmt.Sprintf("%s/%s:b%d", e.Addr, repo, i), name.Insecure)
				if err := remote.Write(ref, imgs[i], auth); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	pushedAt := func(c *ecr.Client) map[string]time.Time {
		out := map[string]time.Time{}
		pages := ecr.NewDescribeImagesPaginator(c, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(context.Background())
			var nf *ecrtypes.RepositoryNotFoundException
			if errors.As(err, &nf) {
				return out
			}
			if err != nil {
				b.Fatal(err)
			}
			for _, d := range page.ImageDetails {
				out[aws.ToString(d.ImageDigest)] = aws.ToTime(d.ImagePushedAt)
			}
		}
		return out
	}
	dest := regionECR(target, destRegion, testAccessKey, testSecret)
	var copies map[string]time.Time
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if copies = pushedAt(dest); len(copies) >= n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d images replicated within two minutes", len(copies), n)
		}
	}
	var lags []time.Duration
	for d, at := range pushedAt(ecrClient(e)) {
		lags = append(lags, copies[d].Sub(at))
	}
	slices.Sort(lags)
	return lags
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// BenchmarkReplicationLag measures replication lag, from a push's
// acknowledgement to its copy's commit in the destination, for a burst
// of 100 images pushed by 4 clients, inside one server (to another
// region) and to another ecrd.
//
//	go test ./test/e2e -run '^$' -bench BenchmarkReplicationLag -benchtime 1x -count 3
func BenchmarkReplicationLag(b *testing.B) {
	target := startECRD(b, b.TempDir())
	creds := credentialsFile(b, "dr")
	e := startECRD(b, b.TempDir(), "--remote-regions", remoteRegion("eu-west-1", target.URL(), creds))
	c := ecrClient(e)
	putReplication(b, c, ecrtypes.ReplicationRule{Destinations: []ecrtypes.ReplicationDestination{
		{Region: aws.String(drRegion), RegistryId: aws.String(testAccount)}}, RepositoryFilters: []ecrtypes.RepositoryFilter{
		{Filter: aws.String("local"), FilterType: ecrtypes.RepositoryFilterTypePrefixMatch}}},
		ecrtypes.ReplicationRule{Destinations: []ecrtypes.ReplicationDestination{
			{Region: aws.String("eu-west-1"), RegistryId: aws.String(testAccount)}}, RepositoryFilters: []ecrtypes.RepositoryFilter{
			{Filter: aws.String("remote"), FilterType: ecrtypes.RepositoryFilterTypePrefixMatch}}})
	for i := 0; i < b.N; i++ {
		for _, kind := range []struct{ repo, region string }{{"local", drRegion}, {"remote", "eu-west-1"}} {
			repo := fmt.Sprintf("%s/lag%d", kind.repo, i)
			if _, err := c.CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
				b.Fatal(err)
			}
			dest := e
			if kind.repo == "remote" {
				dest = target
			}
			lags := replicationLag(b, e, dest, repo, 100, kind.region)
			b.ReportMetric(float64(percentile(lags, 0.5).Milliseconds()), kind.repo+"-p50-ms")
			b.ReportMetric(float64(percentile(lags, 0.99).Milliseconds()), kind.repo+"-p99-ms")
		}
	}
}

// BenchmarkReplicationThroughput replicates an image of 8 layers of
// 16 MiB to another ecrd and, in the same run, copies the same image
// between the same two servers with crane copy, and reports both rates
// and their ratio (replication / crane).
//
//	go test ./test/e2e -run '^$' -bench BenchmarkReplicationThroughput -benchtime 3x
func BenchmarkReplicationThroughput(b *testing.B) {
	crane := tool(b, "crane")
	target := startECRD(b, b.TempDir())
	creds := credentialsFile(b, "dr")
	e := startECRD(b, b.TempDir(), "--remote-regions", remoteRegion(drRegion, target.URL(), creds))
	c := ecrClient(e)
	putReplication(b, c, ecrtypes.ReplicationRule{Destinations: []ecrtypes.ReplicationDestination{
		{Region: aws.String(drRegion), RegistryId: aws.String(testAccount)}}, RepositoryFilters: []ecrtypes.RepositoryFilter{
		{Filter: aws.String("rep"), FilterType: ecrtypes.RepositoryFilterTypePrefixMatch}}})
	auth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(b)})
	const layers, layerSize = 8, 16 << 20
	var repTotal, craneTotal time.Duration
	for i := 0; i < b.N; i++ {
		img, err := random.Image(layerSize, layers)
		if err != nil {
			b.Fatal(err)
		}
		d, _ := img.Digest()
		for _, repo := range []string{fmt.Sprintf("rep/t%d", i), fmt.Sprintf("crane/t%d", i)} {
			if _, err := c.CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
				b.Fatal(err)
			}
		}
		// The crane copy's source: pushed to a repository that does not
		// replicate.
		ref, _ := name.NewTag(e.Addr+"/crane/"+fmt.Sprintf("t%d:v1", i), name.Insecure)
		if err := remote.Write(ref, img, auth); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		cmd := exec.Command(crane, "copy", "--insecure", ref.String(), target.Addr+"/crane/"+fmt.Sprintf("t%d:v1", i))
		cmd.Env = append(cmd.Environ(), "DOCKER_CONFIG="+dockerConfigFor(b, map[string]string{
			e.Addr: e.Password(b), target.Addr: registryPassword(b, target, testRegion)}))
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("crane copy: %v\n%s", err, out)
		}
		craneTotal += time.Since(start)

		ref, _ = name.NewTag(e.Addr+"/rep/"+fmt.Sprintf("t%d:v1", i), name.Insecure)
		if err := remote.Write(ref, img, auth); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		if s := waitReplication(b, ecrClientRetrying(e), fmt.Sprintf("rep/t%d", i), d.String(), drRegion, testAccount); s.Status != ecrtypes.ReplicationStatusComplete {
			b.Fatalf("replication: %s %s", s.Status, aws.ToString(s.FailureCode))
		}
		repTotal += time.Since(acked)
	}
	mb := float64(b.N*layers*layerSize) / (1 << 20)
	b.ReportMetric(mb/repTotal.Seconds(), "replication-MB/s")
	b.ReportMetric(mb/craneTotal.Seconds(), "crane-copy-MB/s")
	b.ReportMetric(craneTotal.Seconds()/repTotal.Seconds(), "ratio")
}

// dockerConfigFor writes a docker config folder with the registry
// passwords of the given hosts.
func dockerConfigFor(b testing.TB, passwords map[string]string) string {
	b.Helper()
	auths := map[string]any{}
	for host, password := range passwords {
		auths[host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte("AWS:" + password))}
	}
	dir := b.TempDir()
	data, _ := json.Marshal(map[string]any{"auths": auths})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		b.Fatal(err)
	}
	return dir
}
