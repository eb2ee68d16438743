package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// The replication tests: ECR's replication inside one server (another
// region of the account, another account) through the SDK, as a
// platform team configures and watches it. Replication to another ecrd
// is in replication_remote_test.go.

const (
	drRegion    = "us-west-2"
	thirdRegion = "eu-west-1"
)

// regionECR is an ECR client of a key in another region of the server.
func regionECR(e *ecrd, region, key, secret string) *ecr.Client {
	return ecr.New(ecr.Options{Region: region, BaseEndpoint: aws.String(e.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""), Retryer: closedConnRetryer()})
}

// registryHTTP is an HTTP client logged in to the registry c's region
// and account name.
func registryHTTP(t testing.TB, c *ecr.Client) *http.Client {
	t.Helper()
	tok, err := c.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	_, password, _ := strings.Cut(string(b), ":")
	return &http.Client{Transport: authTransport{Password: password, Base: http.DefaultTransport}}
}

// putReplication sets a registry's replication configuration.
func putReplication(t testing.TB, c *ecr.Client, rules ...ecrtypes.ReplicationRule) {
	t.Helper()
	if rules == nil {
		rules = []ecrtypes.ReplicationRule{}
	}
	if _, err := c.PutReplicationConfiguration(context.Background(), &ecr.PutReplicationConfigurationInput{
		ReplicationConfiguration: &ecrtypes.ReplicationConfiguration{Rules: rules}}); err != nil {
		t.Fatal(err)
	}
}

// waitReplication waits until the image's replication to the destination
// has ended, and returns its status.
func waitReplication(t testing.TB, c *ecr.Client, repo, digest, region, account string) ecrtypes.ImageReplicationStatus {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last []ecrtypes.ImageReplicationStatus
	for time.Now().Before(deadline) {
		out, err := c.DescribeImageReplicationStatus(context.Background(), &ecr.DescribeImageReplicationStatusInput{
			RepositoryName: aws.String(repo), ImageId: &ecrtypes.ImageIdentifier{ImageDigest: aws.String(digest)}})
		if err != nil {
			t.Fatalf("DescribeImageReplicationStatus %s@%s: %v", repo, digest, err)
		}
		last = out.ReplicationStatuses
		for _, s := range out.ReplicationStatuses {
			if aws.ToString(s.Region) == region && aws.ToString(s.RegistryId) == account && s.Status != ecrtypes.ReplicationStatusInProgress {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replication of %s@%s to %s/%s did not end within a minute: %+v", repo, digest, account, region, last)
	return ecrtypes.ImageReplicationStatus{}
}

// waitFor polls cond until it holds, for up to a minute.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within a minute", what)
}

// imageTags returns the tags of an image in a registry (nil, false if
// it is not there).
func imageTags(t testing.TB, c *ecr.Client, repo, digest string) ([]string, bool) {
	t.Helper()
	out, err := c.DescribeImages(context.Background(), &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digest)}}})
	var nf1 *ecrtypes.ImageNotFoundException
	var nf2 *ecrtypes.RepositoryNotFoundException
	if asErr(err, &nf1) || asErr(err, &nf2) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return ecrSorted(out.ImageDetails[0].ImageTags), true
}

// ociIndex builds an OCI image index of the given manifests.
func ociIndex(t testing.TB, children ...ociImage) ociImage {
	t.Helper()
	var ms []map[string]any
	for i, c := range children {
		ms = append(ms, map[string]any{"mediaType": c.MediaType, "digest": c.Digest, "size": len(c.Manifest),
			"platform": map[string]string{"os": "linux", "architecture": []string{"amd64", "arm64", "s390x"}[i%3]}})
	}
	b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": ms})
	return ociImage{Manifest: b, Digest: ecrDigest(b), MediaType: "application/vnd.oci.image.index.v1+json"}
}

// TestReplicationCrossRegion: a registry replicates the repositories its
// filter selects to another region of the account: a multi-platform
// index arrives with its children, tags and signature, byte for byte;
// other repositories do not; the destination's own replication does not
// carry the copy on; an immutable tag at the destination is kept and the
// image arrives without it; with deleteReplication, untagging, deletion
// and a lifecycle expiry follow.
func TestReplicationCrossRegion(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	src, hc := ecrClient(e), e.HTTPClient(t)
	dr := regionECR(e, drRegion, testAccessKey, testSecret)
	third := regionECR(e, thirdRegion, testAccessKey, testSecret)
	drHTTP := registryHTTP(t, dr)

	putReplication(t, src, ecrtypes.ReplicationRule{
		Destinations:      []ecrtypes.ReplicationDestination{{Region: aws.String(drRegion), RegistryId: aws.String(testAccount)}},
		RepositoryFilters: []ecrtypes.RepositoryFilter{{Filter: aws.String("prod/"), FilterType: ecrtypes.RepositoryFilterTypePrefixMatch}},
		DeleteReplication: &ecrtypes.DeleteReplication{Enabled: true},
	})
	// The destination replicates on to a third region: a copy must not.
	putReplication(t, dr, ecrtypes.ReplicationRule{
		Destinations: []ecrtypes.ReplicationDestination{{Region: aws.String(thirdRegion), RegistryId: aws.String(testAccount)}},
	})
	// Repositories replication creates in the DR region are encrypted
	// with KMS there, as its REPLICATION template says: the blobs are
	// encrypted again under the destination's key.
	if _, err := dr.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("prod"), AppliedFor: []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForReplication},
		EncryptionConfiguration: &ecrtypes.EncryptionConfigurationForRepositoryCreationTemplate{EncryptionType: ecrtypes.EncryptionTypeKms},
		ImageTagMutability:      ecrtypes.ImageTagMutabilityMutable,
	}); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"prod/app", "prod/imm", "dev/app"} {
		if _, err := src.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
			t.Fatal(err)
		}
	}

	// A multi-platform image with a signature.
	amd, arm := newOCIImage(t, mtOCIManifest, ecrRandom(t, 4096)), newOCIImage(t, mtOCIManifest, ecrRandom(t, 4096))
	ociPushImage(t, e, hc, "prod/app", amd)
	ociPushImage(t, e, hc, "prod/app", arm)
	index := ociIndex(t, amd, arm)
	if a := ociPutManifest(t, e, hc, "prod/app", "v1", index.MediaType, index.Manifest); a.Status != http.StatusCreated {
		t.Fatalf("pushing the index: %d %s", a.Status, a.Body)
	}
	sig := newOCIArtifact(t, "application/vnd.dev.cosign.artifact.sig.v1+json", index.Descriptor(), map[string]string{"signed": "yes"})
	ociPushImage(t, e, hc, "prod/app", sig)
	dev := newOCIImage(t, mtOCIManifest, ecrRandom(t, 512))
	ociPushImage(t, e, hc, "dev/app", dev, "v1")

	if s := waitReplication(t, src, "prod/app", index.Digest, drRegion, testAccount); s.Status != ecrtypes.ReplicationStatusComplete {
		t.Fatalf("index replication: %s %s", s.Status, aws.ToString(s.FailureCode))
	}
	waitReplication(t, src, "prod/app", sig.Digest, drRegion, testAccount)
	// Byte for byte, by tag and by digest, children, blobs and referrers.
	for _, ref := range []string{"v1", index.Digest, amd.Digest, arm.Digest, sig.Digest} {
		a := ociGet(t, drHTTP, e.URL()+"/v2/prod/app/manifests/"+ref, "application/vnd.oci.image.index.v1+json, "+mtOCIManifest)
		want := map[string]string{"v1": index.Digest}[ref]
		if want == "" {
			want = ref
		}
		if a.Status != http.StatusOK || ecrDigest(a.Body) != want {
			t.Errorf("destination manifest %s: %d, digest %s, want %s", ref, a.Status, ecrDigest(a.Body), want)
		}
	}
	for _, img := range []ociImage{amd, arm, sig} {
		for _, b := range img.Blobs {
			if a := ociGet(t, drHTTP, e.URL()+"/v2/prod/app/blobs/"+ecrDigest(b), ""); a.Status != http.StatusOK || ecrDigest(a.Body) != ecrDigest(b) {
				t.Errorf("destination blob %s: %d", ecrDigest(b), a.Status)
			}
		}
	}
	refs, err := dr.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("prod/app"),
		SubjectId: &ecrtypes.SubjectIdentifier{ImageDigest: aws.String(index.Digest)}})
	if err != nil || len(refs.Referrers) != 1 || aws.ToString(refs.Referrers[0].Digest) != sig.Digest {
		t.Errorf("destination referrers of the index: %v %+v", err, refs)
	}
	// Settings are not copied: the repository was created from the DR
	// region's REPLICATION template.
	repos, err := dr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"prod/app"}})
	if err != nil || repos.Repositories[0].EncryptionConfiguration.EncryptionType != ecrtypes.EncryptionTypeKms {
		t.Errorf("destination repository: %v %+v", err, repos)
	}
	// Outside the filter, nothing.
	if _, there := imageTags(t, dr, "dev/app", dev.Digest); there {
		t.Error("dev/app was replicated, though the filter selects prod/ only")
	}
	st, err := src.DescribeImageReplicationStatus(ctx, &ecr.DescribeImageReplicationStatusInput{RepositoryName: aws.String("dev/app"),
		ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}})
	if err != nil || len(st.ReplicationStatuses) != 0 || aws.ToString(st.ImageId.ImageDigest) != dev.Digest {
		t.Errorf("status of an image no rule selects: %v %+v", err, st)
	}

	// No chaining: a push made in the destination itself goes on to the
	// third region; the copy that arrived there does not.
	direct := newOCIImage(t, mtOCIManifest, ecrRandom(t, 256))
	if _, err := dr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("prod/direct")}); err != nil {
		t.Fatal(err)
	}
	ociPushImage(t, e, drHTTP, "prod/direct", direct, "v1")
	if s := waitReplication(t, dr, "prod/direct", direct.Digest, thirdRegion, testAccount); s.Status != ecrtypes.ReplicationStatusComplete {
		t.Fatalf("direct push in the destination: %s %s", s.Status, aws.ToString(s.FailureCode))
	}
	if _, there := imageTags(t, third, "prod/app", index.Digest); there {
		t.Error("the copy in the destination was replicated on to a third region")
	}
	st, err = dr.DescribeImageReplicationStatus(ctx, &ecr.DescribeImageReplicationStatusInput{RepositoryName: aws.String("prod/app"),
		ImageId: &ecrtypes.ImageIdentifier{ImageDigest: aws.String(index.Digest)}})
	if err != nil || len(st.ReplicationStatuses) != 0 {
		t.Errorf("the copy has replication statuses of its own: %v %+v", err, st)
	}

	// An immutable tag at the destination stays; the image arrives
	// without it.
	if _, err := dr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("prod/imm"),
		ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable}); err != nil {
		t.Fatal(err)
	}
	old := newOCIImage(t, mtOCIManifest, ecrRandom(t, 256))
	ociPushImage(t, e, drHTTP, "prod/imm", old, "v1")
	newer := newOCIImage(t, mtOCIManifest, ecrRandom(t, 256))
	ociPushImage(t, e, hc, "prod/imm", newer, "v1", "v1-extra")
	if s := waitReplication(t, src, "prod/imm", newer.Digest, drRegion, testAccount); s.Status != ecrtypes.ReplicationStatusComplete {
		t.Fatalf("replication into an immutable tag: %s %s", s.Status, aws.ToString(s.FailureCode))
	}
	if tags, _ := imageTags(t, dr, "prod/imm", newer.Digest); strings.Join(tags, ",") != "v1-extra" {
		t.Errorf("the image arrived with tags %v, want only v1-extra", tags)
	}
	if tags, _ := imageTags(t, dr, "prod/imm", old.Digest); strings.Join(tags, ",") != "v1" {
		t.Errorf("the destination's immutable v1 moved: the old image has %v", tags)
	}

	// Deletions follow: a tag removed, then the image.
	plain := newOCIImage(t, mtOCIManifest, ecrRandom(t, 256))
	ociPushImage(t, e, hc, "prod/app", plain, "keep", "drop")
	waitReplication(t, src, "prod/app", plain.Digest, drRegion, testAccount)
	if tags, _ := imageTags(t, dr, "prod/app", plain.Digest); strings.Join(tags, ",") != "drop,keep" {
		t.Fatalf("destination tags %v, want drop,keep", tags)
	}
	if _, err := src.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("prod/app"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("drop")}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the untagging reaching the destination", func() bool {
		tags, _ := imageTags(t, dr, "prod/app", plain.Digest)
		return strings.Join(tags, ",") == "keep"
	})
	if _, err := src.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("prod/app"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(plain.Digest)}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deletion reaching the destination", func() bool {
		_, there := imageTags(t, dr, "prod/app", plain.Digest)
		return !there
	})

	// A lifecycle expiry is a deletion too.
	if _, err := src.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("prod/expiring")}); err != nil {
		t.Fatal(err)
	}
	first, second := newOCIImage(t, mtOCIManifest, ecrRandom(t, 128)), newOCIImage(t, mtOCIManifest, ecrRandom(t, 128))
	ociPushImage(t, e, hc, "prod/expiring", first, "a")
	time.Sleep(1100 * time.Millisecond) // push times a second apart decide which is newest
	ociPushImage(t, e, hc, "prod/expiring", second, "b")
	waitReplication(t, src, "prod/expiring", first.Digest, drRegion, testAccount)
	waitReplication(t, src, "prod/expiring", second.Digest, drRegion, testAccount)
	if _, err := src.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("prod/expiring"),
		LifecyclePolicyText: aws.String(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`)}); err != nil {
		t.Fatal(err)
	}
	if a := ecrdCall(t, e, "RunLifecyclePolicy", map[string]any{"repositoryName": "prod/expiring"}, nil); a.Status != http.StatusOK {
		t.Fatalf("RunLifecyclePolicy: %d %s", a.Status, a.Body)
	}
	waitFor(t, "the expiry reaching the destination", func() bool {
		_, there := imageTags(t, dr, "prod/expiring", first.Digest)
		return !there
	})
	if _, there := imageTags(t, dr, "prod/expiring", second.Digest); !there {
		t.Error("the image the policy kept is gone from the destination")
	}
	noServerErrors(t, e)
}

// TestReplicationCrossAccount: replication into another account's
// registry fails, saying why, until that registry's policy allows the
// source account ecr:ReplicateImage and ecr:CreateRepository; then
// images arrive, and a backfill copies the one that failed.
func TestReplicationCrossAccount(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	src, hc := ecrClient(e), e.HTTPClient(t)
	const other = "222233334444"
	dst, _ := newAccount(t, e, other)
	dstHTTP := registryHTTP(t, dst)
	putReplication(t, src, ecrtypes.ReplicationRule{
		Destinations: []ecrtypes.ReplicationDestination{{Region: aws.String(testRegion), RegistryId: aws.String(other)}},
	})
	if _, err := src.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/svc")}); err != nil {
		t.Fatal(err)
	}
	refused := newOCIImage(t, mtOCIManifest, ecrRandom(t, 256))
	ociPushImage(t, e, hc, "team/svc", refused, "v1")
	s := waitReplication(t, src, "team/svc", refused.Digest, testRegion, other)
	if s.Status != ecrtypes.ReplicationStatusFailed || !strings.HasPrefix(aws.ToString(s.FailureCode), "ACCESS_DENIED:") ||
		!strings.Contains(aws.ToString(s.FailureCode), "ecr:ReplicateImage") {
		t.Fatalf("replication without a registry policy: %s %q", s.Status, aws.ToString(s.FailureCode))
	}

	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"replication","Effect":"Allow",
		"Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":["ecr:ReplicateImage","ecr:CreateRepository"],
		"Resource":"arn:aws:ecr:%s:%s:repository/*"}]}`, testAccount, testRegion, other)
	if _, err := dst.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	allowed := newOCIImage(t, mtOCIManifest, ecrRandom(t, 256))
	ociPushImage(t, e, hc, "team/svc", allowed, "v2")
	if s := waitReplication(t, src, "team/svc", allowed.Digest, testRegion, other); s.Status != ecrtypes.ReplicationStatusComplete {
		t.Fatalf("replication with the registry policy: %s %q", s.Status, aws.ToString(s.FailureCode))
	}
	if a := ociGet(t, dstHTTP, e.URL()+"/v2/team/svc/manifests/v2", mtOCIManifest); a.Status != http.StatusOK || ecrDigest(a.Body) != allowed.Digest {
		t.Errorf("the other account pulling the copy: %d %s", a.Status, a.Body)
	}
	// The copy is the other account's: the source account cannot read it
	// through the policy, which grants replication only.
	if _, err := src.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: aws.String(other), RepositoryName: aws.String("team/svc")}); err == nil {
		t.Error("the source account read the other account's repository with a policy that grants only replication")
	}

	// A backfill copies the image whose replication failed.
	bf, err := src.StartReplicationBackfill(ctx, &ecr.StartReplicationBackfillInput{
		Destination: &ecrtypes.ReplicationDestination{Region: aws.String(testRegion), RegistryId: aws.String(other)}})
	if err != nil {
		t.Fatal(err)
	}
	done := waitBackfill(t, src, aws.ToString(bf.ReplicationBackfillId))
	if done.Status != ecrtypes.ReplicationBackfillStatusComplete || done.Progress == nil ||
		aws.ToInt32(done.Progress.TotalReplicationCount) != 2 || aws.ToInt32(done.Progress.CompletedReplicationCount) != 2 {
		t.Fatalf("backfill: %s %+v", done.Status, done.Progress)
	}
	if tags, there := imageTags(t, dst, "team/svc", refused.Digest); !there || strings.Join(tags, ",") != "v1" {
		t.Errorf("the backfill did not bring the image that failed: %v %v", there, tags)
	}
	noServerErrors(t, e)
}

// waitBackfill waits until a backfill ends and returns its results.
func waitBackfill(t testing.TB, c *ecr.Client, id string) *ecr.DescribeReplicationBackfillResultsOutput {
	t.Helper()
	var out *ecr.DescribeReplicationBackfillResultsOutput
	waitFor(t, "backfill "+id+" ending", func() bool {
		var err error
		out, err = c.DescribeReplicationBackfillResults(context.Background(), &ecr.DescribeReplicationBackfillResultsInput{ReplicationBackfillId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		switch out.Status {
		case ecrtypes.ReplicationBackfillStatusComplete, ecrtypes.ReplicationBackfillStatusFailed, ecrtypes.ReplicationBackfillStatusStopped:
			return true
		}
		return false
	})
	return out
}

// asErr is errors.As for the typed ECR exceptions.
func asErr[T error](err error, target *T) bool {
	return err != nil && errors.As(err, target)
}
