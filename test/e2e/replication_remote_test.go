package e2e

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
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
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ecrd/ecrd/internal/testutil"
)

// credentialsFile writes a shared-credentials file with the test root
// key under profile, as an operator gives the source the remote's key.
func credentialsFile(t testing.TB, profile string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "credentials")
	text := fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", profile, testAccessKey, testSecret)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// remoteRegion is a remote-regions entry: region served by the ecrd at
// url, reached with profile dr of creds.
func remoteRegion(region, url, creds string) string {
	return region + "=" + url + "?profile=dr&credentials-file=" + creds
}

// registryPassword returns a registry password of the test root key in
// region.
func registryPassword(t testing.TB, e *ecrd, region string) string {
	t.Helper()
	tok, err := regionECR(e, region, testAccessKey, testSecret).GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	_, password, _ := strings.Cut(string(raw), ":")
	return password
}

// TestReplicationDisasterRecovery is the seed's disaster-recovery drill
// with two servers: A replicates to a region that B serves (its own data
// folder and port). A batch is pushed through A by concurrent clients and
// A is killed with SIGKILL in the middle, then started again on its data
// folder. Every image A acknowledged must end on B, identical (manifest
// digest, tags, every blob), with no image twice; then A stops for good
// and everything is pulled from B with B's credentials.
func TestReplicationDisasterRecovery(t *testing.T) {
	b := startECRD(t, t.TempDir())
	creds := credentialsFile(t, "dr")
	dataA := t.TempDir()
	args := []string{"--remote-regions", remoteRegion(drRegion, b.URL(), creds)}
	a := startECRD(t, dataA, args...)
	ctx := context.Background()
	putReplication(t, ecrClient(a), ecrtypes.ReplicationRule{
		Destinations: []ecrtypes.ReplicationDestination{{Region: aws.String(drRegion), RegistryId: aws.String(testAccount)}},
	})
	const repo = "dr/app"
	if _, err := ecrClient(a).CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}

	type acked struct{ tag, digest string }
	var (
		mu    sync.Mutex
		done  []acked
		seq   atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
		auth  = remote.WithAuth(&authn.Basic{Username: "AWS", Password: a.Password(t)})
		addrA = a.Addr
	)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				img, err := random.Image(32<<10, 2)
				if err != nil {
					panic(err)
				}
				tag := fmt.Sprintf("i%d", seq.Add(1))
				ref, _ := name.NewTag(addrA+"/"+repo+":"+tag, name.Insecure)
				if err := remote.Write(ref, img, auth); err != nil {
					return // the kill cut it: unacknowledged
				}
				d, _ := img.Digest()
				mu.Lock()
				done = append(done, acked{tag, d.String()})
				mu.Unlock()
			}
		})
	}
	waitFor(t, "twenty pushes acknowledged", func() bool { mu.Lock(); defer mu.Unlock(); return len(done) >= 20 })
	a.Kill()
	stop.Store(true)
	wg.Wait()
	t.Logf("%d images acknowledged before the kill", len(done))
	a = startBareECRD(t, dataA, args...)

	src := ecrClientRetrying(a)
	for _, img := range done {
		if s := waitReplication(t, src, repo, img.digest, drRegion, testAccount); s.Status != ecrtypes.ReplicationStatusComplete {
			t.Errorf("%s:%s: replication %s %q", repo, img.tag, s.Status, aws.ToString(s.FailureCode))
		}
	}
	a.Stop()

	// A is gone: B serves every acknowledged image, with B's credentials.
	bAuth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: registryPassword(t, b, drRegion)})
	dr := regionECR(b, drRegion, testAccessKey, testSecret)
	for _, img := range done {
		ref, _ := name.NewTag(b.Addr+"/"+repo+":"+img.tag, name.Insecure)
		got, err := remote.Image(ref, bAuth)
		if err != nil {
			t.Errorf("pulling %s from B: %v", ref, err)
			continue
		}
		if d, _ := got.Digest(); d.String() != img.digest {
			t.Errorf("%s on B is %s, A acknowledged %s", ref, d, img.digest)
		}
		if err := validate.Image(got); err != nil {
			t.Errorf("%s on B is incomplete: %v", ref, err)
		}
		if tags, _ := imageTags(t, dr, repo, img.digest); strings.Join(tags, ",") != img.tag {
			t.Errorf("%s on B has tags %v", img.digest, tags)
		}
	}
	seen := map[string]bool{}
	pages := ecr.NewDescribeImagesPaginator(dr, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range out.ImageDetails {
			if seen[aws.ToString(d.ImageDigest)] {
				t.Errorf("B lists %s twice", aws.ToString(d.ImageDigest))
			}
			seen[aws.ToString(d.ImageDigest)] = true
		}
	}
	if len(seen) < len(done) {
		t.Errorf("B holds %d images, A acknowledged %d", len(seen), len(done))
	}
	noServerErrors(t, b)
}

// TestReplicationBackfill: images pushed before replication was
// configured are not copied until a backfill is started; a backfill
// reports its progress and results, runs one per destination region and
// ten per registry, and stops on request. The backfills that stay in
// progress go to remote regions whose server is down.
func TestReplicationBackfill(t *testing.T) {
	creds := credentialsFile(t, "dr")
	port, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	down := fmt.Sprintf("http://127.0.0.1:%d", port)
	var remotes []string
	var downRegions []string
	for i := range 10 {
		region := fmt.Sprintf("ap-down-%d", i+1)
		downRegions = append(downRegions, region)
		remotes = append(remotes, remoteRegion(region, down, creds))
	}
	e := startECRD(t, t.TempDir(), "--remote-regions", strings.Join(remotes, ","))
	ctx := context.Background()
	src, hc := ecrClient(e), e.HTTPClient(t)
	dr := regionECR(e, drRegion, testAccessKey, testSecret)
	var before []ociImage
	for i, repo := range []string{"old/a", "old/a", "old/b"} {
		if i != 1 {
			if _, err := src.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
				t.Fatal(err)
			}
		}
		img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 256))
		ociPushImage(t, e, hc, repo, img, fmt.Sprintf("v%d", i))
		before = append(before, img)
	}
	dests := []ecrtypes.ReplicationDestination{{Region: aws.String(drRegion), RegistryId: aws.String(testAccount)}}
	for _, region := range downRegions {
		dests = append(dests, ecrtypes.ReplicationDestination{Region: aws.String(region), RegistryId: aws.String(testAccount)})
	}
	putReplication(t, src, ecrtypes.ReplicationRule{Destinations: dests})
	time.Sleep(1500 * time.Millisecond) // more than the replication poll: nothing old is copied
	if _, there := imageTags(t, dr, "old/a", before[0].Digest); there {
		t.Fatal("an image pushed before the configuration was replicated without a backfill")
	}

	start := func(region string) (*ecr.StartReplicationBackfillOutput, error) {
		return src.StartReplicationBackfill(ctx, &ecr.StartReplicationBackfillInput{
			Destination: &ecrtypes.ReplicationDestination{Region: aws.String(region), RegistryId: aws.String(testAccount)}})
	}
	bf, err := start(drRegion)
	if err != nil {
		t.Fatal(err)
	}
	if bf.Status != ecrtypes.ReplicationBackfillStatusPreparing || aws.ToString(bf.RegistryId) != testAccount {
		t.Errorf("a new backfill: %s %s", bf.Status, aws.ToString(bf.RegistryId))
	}
	res := waitBackfill(t, src, aws.ToString(bf.ReplicationBackfillId))
	if res.Status != ecrtypes.ReplicationBackfillStatusComplete || aws.ToInt32(res.Progress.TotalReplicationCount) != 3 ||
		aws.ToInt32(res.Progress.CompletedReplicationCount) != 3 || len(res.Results) != 3 || res.EndedAt == nil {
		t.Fatalf("finished backfill: %s %+v %d results", res.Status, res.Progress, len(res.Results))
	}
	for _, img := range before {
		if _, there := imageTags(t, dr, map[bool]string{true: "old/b", false: "old/a"}[img.Digest == before[2].Digest], img.Digest); !there {
			t.Errorf("the backfill did not copy %s", img.Digest)
		}
	}
	failed, err := src.DescribeReplicationBackfillResults(ctx, &ecr.DescribeReplicationBackfillResultsInput{
		ReplicationBackfillId: bf.ReplicationBackfillId, ResultStatusFilter: ecrtypes.ReplicationBackfillResultStatusFailed})
	if err != nil || len(failed.Results) != 0 {
		t.Errorf("FAILED results of a backfill that copied everything: %v %+v", err, failed)
	}
	page, err := src.DescribeReplicationBackfillResults(ctx, &ecr.DescribeReplicationBackfillResultsInput{
		ReplicationBackfillId: bf.ReplicationBackfillId, MaxResults: aws.Int32(2)})
	if err != nil || len(page.Results) != 2 || page.NextToken == nil {
		t.Fatalf("a page of results: %v %+v", err, page)
	}
	rest, err := src.DescribeReplicationBackfillResults(ctx, &ecr.DescribeReplicationBackfillResultsInput{
		ReplicationBackfillId: bf.ReplicationBackfillId, MaxResults: aws.Int32(2), NextToken: page.NextToken})
	if err != nil || len(rest.Results) != 1 || rest.NextToken != nil {
		t.Errorf("the last page of results: %v %+v", err, rest)
	}

	// Ten at once to servers that are down; one per region.
	var running []string
	for _, region := range downRegions {
		out, err := start(region)
		if err != nil {
			t.Fatalf("backfill to %s: %v", region, err)
		}
		running = append(running, aws.ToString(out.ReplicationBackfillId))
	}
	waitFor(t, "a backfill to a server that is down in progress", func() bool {
		out, err := src.DescribeReplicationBackfillResults(ctx, &ecr.DescribeReplicationBackfillResultsInput{ReplicationBackfillId: aws.String(running[0])})
		return err == nil && out.Status == ecrtypes.ReplicationBackfillStatusInProgress && out.Progress != nil &&
			aws.ToInt32(out.Progress.TotalReplicationCount) == 3 && len(out.Results) == 0
	})
	_, err = start(downRegions[0])
	wantTyped[*ecrtypes.ReplicationBackfillInProgressException](t, "a second backfill to one region", err)
	_, err = start(drRegion)
	wantTyped[*ecrtypes.LimitExceededException](t, "an eleventh backfill", err)
	_, err = start("sa-east-1")
	if err == nil {
		t.Error("a backfill to a destination outside the configuration started")
	}
	list, err := src.ListReplicationBackfills(ctx, &ecr.ListReplicationBackfillsInput{})
	if err != nil || len(list.Backfills) != 11 {
		t.Fatalf("ListReplicationBackfills: %v %d", err, len(list.Backfills))
	}

	// Stopping: STOPPING (or at once STOPPED), then STOPPED; a stopped one
	// cannot be stopped again.
	stopped, err := src.StopReplicationBackfill(ctx, &ecr.StopReplicationBackfillInput{ReplicationBackfillId: aws.String(running[0])})
	if err != nil || (stopped.Status != ecrtypes.ReplicationBackfillStatusStopping && stopped.Status != ecrtypes.ReplicationBackfillStatusStopped) {
		t.Fatalf("StopReplicationBackfill: %v %+v", err, stopped)
	}
	if end := waitBackfill(t, src, running[0]); end.Status != ecrtypes.ReplicationBackfillStatusStopped {
		t.Fatalf("stopped backfill ended %s", end.Status)
	}
	_, err = src.StopReplicationBackfill(ctx, &ecr.StopReplicationBackfillInput{ReplicationBackfillId: aws.String(running[0])})
	wantTyped[*ecrtypes.ReplicationBackfillInvalidStatusException](t, "stopping a stopped backfill", err)
	_, err = src.StopReplicationBackfill(ctx, &ecr.StopReplicationBackfillInput{ReplicationBackfillId: aws.String("00000000-0000-4000-8000-000000000000")})
	wantTyped[*ecrtypes.ReplicationBackfillNotFoundException](t, "stopping a backfill that does not exist", err)
	// With one stopped, another region's backfill may start.
	if _, err := start(downRegions[0]); err != nil {
		t.Errorf("a backfill after the region's last one stopped: %v", err)
	}
	var nf *ecrtypes.ReplicationBackfillNotFoundException
	if _, err := src.DescribeReplicationBackfillResults(ctx, &ecr.DescribeReplicationBackfillResultsInput{
		ReplicationBackfillId: aws.String("00000000-0000-4000-8000-000000000000")}); !errors.As(err, &nf) {
		t.Errorf("results of a backfill that does not exist: %v", err)
	}
	noServerErrors(t, e)
}

// TestReplicationRemoteFollowsDeletes: replication to another ecrd with
// deleteReplication: a tag removed and an image deleted at the source go
// at the remote too; the remote records the copies as replications, so
// its own replication configuration does not carry them on.
func TestReplicationRemoteFollowsDeletes(t *testing.T) {
	b := startECRD(t, t.TempDir())
	creds := credentialsFile(t, "dr")
	a := startECRD(t, t.TempDir(), "--remote-regions", remoteRegion(drRegion, b.URL(), creds))
	ctx := context.Background()
	src, hc := ecrClient(a), a.HTTPClient(t)
	putReplication(t, src, ecrtypes.ReplicationRule{
		Destinations:      []ecrtypes.ReplicationDestination{{Region: aws.String(drRegion), RegistryId: aws.String(testAccount)}},
		DeleteReplication: &ecrtypes.DeleteReplication{Enabled: true},
	})
	dr := regionECR(b, drRegion, testAccessKey, testSecret)
	putReplication(t, dr, ecrtypes.ReplicationRule{
		Destinations: []ecrtypes.ReplicationDestination{{Region: aws.String(thirdRegion), RegistryId: aws.String(testAccount)}},
	})
	if _, err := src.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("dr/tags")}); err != nil {
		t.Fatal(err)
	}
	img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 1024))
	ociPushImage(t, a, hc, "dr/tags", img, "keep", "drop")
	if s := waitReplication(t, src, "dr/tags", img.Digest, drRegion, testAccount); s.Status != ecrtypes.ReplicationStatusComplete {
		t.Fatalf("replication: %s %q", s.Status, aws.ToString(s.FailureCode))
	}
	if tags, _ := imageTags(t, dr, "dr/tags", img.Digest); strings.Join(tags, ",") != "drop,keep" {
		t.Fatalf("remote tags %v", tags)
	}
	// Not carried on by the remote's own configuration.
	time.Sleep(1500 * time.Millisecond)
	if _, there := imageTags(t, regionECR(b, thirdRegion, testAccessKey, testSecret), "dr/tags", img.Digest); there {
		t.Error("the remote replicated the copy on")
	}
	if _, err := src.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("dr/tags"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("drop")}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the untagging reaching the remote", func() bool {
		tags, _ := imageTags(t, dr, "dr/tags", img.Digest)
		return strings.Join(tags, ",") == "keep"
	})
	if _, err := src.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("dr/tags"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(img.Digest)}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deletion reaching the remote", func() bool {
		_, there := imageTags(t, dr, "dr/tags", img.Digest)
		return !there
	})
	noServerErrors(t, a)
	noServerErrors(t, b)
}
