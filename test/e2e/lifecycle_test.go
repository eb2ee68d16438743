package e2e

// Lifecycle policies, their previews and runs, the archive storage class
// and pull time update exclusions, through aws-sdk-go-v2 and ecrd's own
// operations, against the real server.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// ecrdTarget is the X-Amz-Target prefix of ecrd's own operations.
const ecrdTarget = "Ecrd_V20261126."

// ecrdCall calls one of ecrd's own operations with the root key and
// decodes its answer into out; it returns the raw answer.
func ecrdCall(t testing.TB, e *ecrd, op string, in, out any) httpAnswer {
	t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", ecrdTarget+op)
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ecr", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	a := ecrDo(t, http.DefaultClient, req)
	if a.Status == http.StatusOK && out != nil {
		if err := json.Unmarshal(a.Body, out); err != nil {
			t.Fatalf("%s: %v in %s", op, err, a.Body)
		}
	}
	return a
}

// epoch writes a time as the JSON protocol does.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// pushAged pushes a new image with tags (by digest if none) and sets its
// push time to age ago.
func pushAged(t *testing.T, e *ecrd, c *http.Client, repo string, age time.Duration, tags ...string) ociImage {
	t.Helper()
	img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 64))
	ociPushImage(t, e, c, repo, img, tags...)
	a := ecrdCall(t, e, "SetImageTimes", map[string]any{
		"repositoryName": repo, "imageId": map[string]string{"imageDigest": img.Digest},
		"imagePushedAt": epoch(time.Now().Add(-age)),
	}, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("SetImageTimes: %d %s", a.Status, a.Body)
	}
	return img
}

const day = 24 * time.Hour

// policyText writes a lifecycle policy of rules.
func policyText(rules ...string) string {
	return `{"rules":[` + strings.Join(rules, ",") + `]}`
}

// survivors returns the tags of a repository's images (a digest for an
// untagged one), sorted.
func survivors(t *testing.T, c *ecr.Client, repo string) []string {
	t.Helper()
	out, err := c.DescribeImages(context.Background(), &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		Filter: &ecrtypes.DescribeImagesFilter{ImageStatus: ecrtypes.ImageStatusFilterAny}})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, d := range out.ImageDetails {
		if len(d.ImageTags) == 0 {
			s = append(s, aws.ToString(d.ImageDigest))
		}
		s = append(s, d.ImageTags...)
	}
	slices.Sort(s)
	return s
}

// TestLifecyclePolicyAPI sets up E10 of the ECR documentation (every rule
// type combined), previews it now and in the future, runs it, and checks
// the survivors, lastEvaluatedAt and the policy operations' errors.
func TestLifecyclePolicyAPI(t *testing.T) {
	e := startECRD(t, t.TempDir(), "--lifecycle-interval", "-1s")
	c, hc := ecrClient(e), e.HTTPClient(t)
	ctx := context.Background()
	const repo = "lifecycle/e10"

	// E10: A [alpha-1, beta-1] 4 days, B untagged 3 days, C [alpha-2] 2
	// days, D [git-hash] 1 day, E untagged 1 day, pushed after D. "N days
	// ago" is N days less an hour, so that E is not yet older than 1 day.
	ago := func(n int) time.Duration { return time.Duration(n)*day - time.Hour }
	pushAged(t, e, hc, repo, ago(4), "alpha-1", "beta-1")
	b := pushAged(t, e, hc, repo, ago(3))
	pushAged(t, e, hc, repo, ago(2), "alpha-2")
	pushAged(t, e, hc, repo, ago(1), "git-hash")
	eImg := pushAged(t, e, hc, repo, ago(1))
	policy := policyText(
		`{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["alpha*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`,
		`{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}`,
		`{"rulePriority":3,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`,
	)

	_, err := c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(repo)})
	wantAPIError(t, "GetLifecyclePolicy before a put", err, "LifecyclePolicyNotFoundException", 400,
		"Lifecycle policy does not exist for the repository with name '"+repo+"' in the registry with id '"+testAccount+"'")
	_, err = c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)})
	wantAPIError(t, "GetLifecyclePolicyPreview before a preview", err, "LifecyclePolicyPreviewNotFoundException", 400, "There is no dry run for this repository.")
	_, err = c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)})
	wantAPIError(t, "StartLifecyclePolicyPreview without a policy", err, "LifecyclePolicyNotFoundException", 400, "")

	put, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(policy)})
	ecrMust(t, "PutLifecyclePolicy", err)
	if aws.ToString(put.LifecyclePolicyText) != policy || aws.ToString(put.RegistryId) != testAccount {
		t.Errorf("PutLifecyclePolicy answered %+v", put)
	}

	// The preview of the repository's policy.
	start, err := c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)})
	ecrMust(t, "StartLifecyclePolicyPreview", err)
	if aws.ToString(start.LifecyclePolicyText) != policy {
		t.Errorf("the preview's policy is %q", aws.ToString(start.LifecyclePolicyText))
	}
	waiter := ecr.NewLifecyclePolicyPreviewCompleteWaiter(c)
	if err := waiter.Wait(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)}, time.Minute); err != nil {
		t.Fatalf("waiting for the preview: %v", err)
	}
	prev, err := c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)})
	ecrMust(t, "GetLifecyclePolicyPreview", err)
	got := map[string]int32{}
	for _, r := range prev.PreviewResults {
		key := aws.ToString(r.ImageDigest)
		if len(r.ImageTags) > 0 {
			key = strings.Join(r.ImageTags, ",")
		}
		got[key] = aws.ToInt32(r.AppliedRulePriority)
		if r.Action.Type != ecrtypes.ImageActionTypeExpire || r.StorageClass != ecrtypes.LifecyclePolicyStorageClassStandard || r.ImagePushedAt == nil {
			t.Errorf("preview result %+v", r)
		}
	}
	want := map[string]int32{"alpha-1,beta-1": 1, b.Digest: 2, "git-hash": 3}
	if len(got) != len(want) {
		t.Errorf("preview acts on %v, want %v (A by rule 1, B by rule 2, D by rule 3)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("preview: %s by rule %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if prev.Summary == nil || aws.ToInt32(prev.Summary.ExpiringImageTotalCount) != 3 {
		t.Errorf("preview summary %+v, want 3 expiring", prev.Summary)
	}
	// Filters and pages.
	tagged, err := c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo),
		Filter: &ecrtypes.LifecyclePolicyPreviewFilter{TagStatus: ecrtypes.TagStatusUntagged}})
	ecrMust(t, "GetLifecyclePolicyPreview untagged", err)
	if len(tagged.PreviewResults) != 1 || aws.ToString(tagged.PreviewResults[0].ImageDigest) != b.Digest {
		t.Errorf("untagged preview results %+v, want only B", tagged.PreviewResults)
	}
	var paged []string
	in := &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo), MaxResults: aws.Int32(1)}
	for pages := 0; ; pages++ {
		out, err := c.GetLifecyclePolicyPreview(ctx, in)
		ecrMust(t, "GetLifecyclePolicyPreview page", err)
		for _, r := range out.PreviewResults {
			paged = append(paged, aws.ToString(r.ImageDigest))
		}
		if out.NextToken == nil || pages > 5 {
			break
		}
		in.NextToken = out.NextToken
	}
	if len(paged) != 3 {
		t.Errorf("pages of one result gave %d results, want 3", len(paged))
	}

	// Previewed two days ahead, E is older than a day, so rule 2 marks it
	// too; rule 3 still marks only D (C and E are identified by higher
	// rules): A, B, D and E.
	var startAt struct{ Status string }
	a := ecrdCall(t, e, "StartLifecyclePolicyPreview", map[string]any{"repositoryName": repo, "evaluateAt": epoch(time.Now().Add(2 * day))}, &startAt)
	if a.Status != http.StatusOK {
		t.Fatalf("ecrd StartLifecyclePolicyPreview: %d %s", a.Status, a.Body)
	}
	if err := waiter.Wait(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	future, err := c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String(repo)})
	ecrMust(t, "GetLifecyclePolicyPreview of the future", err)
	if n := aws.ToInt32(future.Summary.ExpiringImageTotalCount); n != 4 ||
		!slices.ContainsFunc(future.PreviewResults, func(r ecrtypes.LifecyclePolicyPreviewResult) bool { return aws.ToString(r.ImageDigest) == eImg.Digest }) {
		t.Errorf("two days ahead the preview expires %d images %+v, want 4 with E", n, future.PreviewResults)
	}
	a = ecrdCall(t, e, "StartLifecyclePolicyPreview", map[string]any{"repositoryName": repo, "evaluateAt": epoch(time.Now().Add(-2 * day))}, nil)
	wantRawError(t, "a preview in the past", a, 400, "InvalidParameterException", "")

	// Nothing has been deleted by previews.
	before := survivors(t, c, repo)
	if len(before) != 6 { // five images, A with two tags
		t.Fatalf("after previews the repository holds %v", before)
	}

	// The real run, on demand.
	var run struct{ ExpiredImageCount, RepositoryCount int }
	a = ecrdCall(t, e, "RunLifecyclePolicy", map[string]any{"repositoryName": repo}, &run)
	if a.Status != http.StatusOK || run.ExpiredImageCount != 3 || run.RepositoryCount != 1 {
		t.Fatalf("RunLifecyclePolicy: %d %s", a.Status, a.Body)
	}
	if got, want := survivors(t, c, repo), ecrSorted([]string{"alpha-2", eImg.Digest}); !slices.Equal(got, want) {
		t.Errorf("after the run the repository holds %v, want %v (C and E)", got, want)
	}
	pol, err := c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(repo)})
	ecrMust(t, "GetLifecyclePolicy", err)
	if pol.LastEvaluatedAt == nil || time.Since(*pol.LastEvaluatedAt) > time.Minute {
		t.Errorf("lastEvaluatedAt %v, want the run's time", pol.LastEvaluatedAt)
	}
	// A second run finds nothing more to do.
	a = ecrdCall(t, e, "RunLifecyclePolicy", map[string]any{"repositoryName": repo}, &run)
	if a.Status != http.StatusOK || run.ExpiredImageCount != 0 {
		t.Errorf("a second run: %d %s", a.Status, a.Body)
	}

	del, err := c.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: aws.String(repo)})
	ecrMust(t, "DeleteLifecyclePolicy", err)
	if aws.ToString(del.LifecyclePolicyText) != policy || del.LastEvaluatedAt == nil {
		t.Errorf("DeleteLifecyclePolicy answered %+v", del)
	}
	_, err = c.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: aws.String(repo)})
	wantAPIError(t, "a second DeleteLifecyclePolicy", err, "LifecyclePolicyNotFoundException", 400, "")
	a = ecrdCall(t, e, "RunLifecyclePolicy", map[string]any{"repositoryName": repo}, nil)
	wantRawError(t, "RunLifecyclePolicy without a policy", a, 400, "LifecyclePolicyNotFoundException", "")
	noServerErrors(t, e)
}

// TestLifecyclePolicyValidation checks that each policy ECR refuses is
// refused with ECR's exception and message, and nothing is stored.
func TestLifecyclePolicyValidation(t *testing.T) {
	e := startECRD(t, t.TempDir(), "--lifecycle-interval", "-1s")
	c := ecrClient(e)
	ctx := context.Background()
	const repo = "lifecycle/validation"
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	rule := func(priority int, selection, action string) string {
		return `{"rulePriority":` + itoa(priority) + `,"selection":` + selection + `,"action":` + action + `}`
	}
	const expire = `{"type":"expire"}`
	untagged := func(n int) string {
		return `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":` + itoa(n) + `}`
	}
	pad := func(s string) string { return s + strings.Repeat(" ", max(0, 100-len(s))) }
	prefix := "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: "
	for _, tc := range []struct{ name, text, detail string }{
		{"not JSON", pad(`{"rules": [`), "Could not map policyString into LifecyclePolicy."},
		{"no rules", pad(`{"ruls":[]}`), `object instance has properties which are not allowed by the schema: (["ruls"])`},
		{"unknown property", pad(policyText(`{"rulePriority":1,"selection":` + untagged(1) + `,"action":` + expire + `,"foo":1}`)),
			`object instance has properties which are not allowed by the schema: (["foo"])`},
		{"missing action", pad(policyText(`{"rulePriority":1,"selection":` + untagged(1) + `}`)), `object has missing required properties (["action"])`},
		{"bad action", pad(policyText(rule(1, untagged(1), `{"type":"delete"}`))),
			`instance value (delete) not found in enum (possible values: ["expire","transition"])`},
		{"countNumber 0", pad(policyText(rule(1, untagged(0), expire))), `numeric instance is lower than the required minimum (minimum: 1, found: 0)`},
		{"countUnit with a count", pad(policyText(rule(1, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":1}`, expire))),
			`countUnit is not allowed when countType is imageCountMoreThan`},
		{"duplicate priority", policyText(rule(1, untagged(1), expire), rule(1, `{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1}`, expire)),
			`rulePriority must be unique: 1`},
		{"any not last", policyText(rule(1, `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`, expire), rule(2, untagged(1), expire)),
			`Rule with tagStatus 'any' must have the highest rulePriority for its storage class`},
		{"five wildcards", policyText(rule(1, `{"tagStatus":"tagged","tagPatternList":["test*1*2*3*4*5*6"],"countType":"imageCountMoreThan","countNumber":1}`, expire)),
			`tagPatternList can have a maximum of four wildcards per pattern: test*1*2*3*4*5*6`},
		{"sinceImagePulled with expire", policyText(rule(1, `{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90}`, expire)),
			`countType sinceImagePulled cannot be used with action type expire`},
	} {
		_, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(tc.text)})
		wantAPIError(t, tc.name, err, "InvalidParameterException", 400, prefix+tc.detail+"'")
	}
	_, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(`{"rules":[]}`)})
	wantAPIError(t, "a text under 100 characters", err, "InvalidParameterException", 400,
		"Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: 'must have length greater than or equal to 100'")
	_, err = c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(repo)})
	wantAPIError(t, "GetLifecyclePolicy after refusals", err, "LifecyclePolicyNotFoundException", 400, "")

	// The ecrd extension: sinceImagePulled may expire once the registry
	// turns it on.
	pulled := policyText(rule(1, `{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90}`, expire))
	_, err = c.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("ECRD_LIFECYCLE_EXPIRE_SINCE_PULLED"), Value: aws.String("ENABLED")})
	ecrMust(t, "PutAccountSetting", err)
	_, err = c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(pulled)})
	ecrMust(t, "PutLifecyclePolicy sinceImagePulled expire, enabled", err)
	_, err = c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("lifecycle/missing"), LifecyclePolicyText: aws.String(pulled)})
	wantAPIError(t, "PutLifecyclePolicy on a missing repository", err, "RepositoryNotFoundException", 400, "")
	noServerErrors(t, e)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestArchiveStorageClass archives and restores images, and checks that
// an archived image is refused to pulls through both APIs and moves with
// its referrers, and that listings filter by image status.
func TestArchiveStorageClass(t *testing.T) {
	e := startECRD(t, t.TempDir(), "--lifecycle-interval", "-1s")
	c, hc := ecrClient(e), e.HTTPClient(t)
	ctx := context.Background()
	const repo = "lifecycle/archive"
	img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 64))
	ociPushImage(t, e, hc, repo, img, "v1")
	sbom := newOCIArtifact(t, "application/spdx+json", img.Descriptor(), nil)
	ociPushImage(t, e, hc, repo, sbom)
	other := newOCIImage(t, mtOCIManifest, ecrRandom(t, 64))
	ociPushImage(t, e, hc, repo, other, "v2")

	up, err := c.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String(repo),
		ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}, TargetStorageClass: ecrtypes.TargetStorageClassArchive})
	ecrMust(t, "UpdateImageStorageClass ARCHIVE", err)
	if up.ImageStatus != ecrtypes.ImageStatusArchived || aws.ToString(up.ImageId.ImageDigest) != img.Digest {
		t.Errorf("archive answered %+v", up)
	}
	// Listings show active images unless asked.
	list, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String(repo)})
	ecrMust(t, "ListImages", err)
	if len(list.ImageIds) != 1 || aws.ToString(list.ImageIds[0].ImageTag) != "v2" {
		t.Errorf("ListImages by default lists %+v, want only v2 (the referrer went to archive with its subject)", list.ImageIds)
	}
	archived, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), Filter: &ecrtypes.DescribeImagesFilter{ImageStatus: ecrtypes.ImageStatusFilterArchived}})
	ecrMust(t, "DescribeImages ARCHIVED", err)
	if len(archived.ImageDetails) != 2 {
		t.Errorf("archived images %+v, want the image and its SBOM", archived.ImageDetails)
	}
	for _, d := range archived.ImageDetails {
		if d.ImageStatus != ecrtypes.ImageStatusArchived || d.LastArchivedAt == nil {
			t.Errorf("archived image %s: status %s, lastArchivedAt %v", aws.ToString(d.ImageDigest), d.ImageStatus, d.LastArchivedAt)
		}
	}
	// Pulls are refused through both APIs.
	_, err = c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	wantAPIError(t, "BatchGetImage of an archived image", err, "ImageArchivedException", 400, "")
	a := ociGet(t, hc, e.URL()+"/v2/"+repo+"/manifests/v1", mtOCIManifest)
	if code, msg := ociError(a); a.Status != http.StatusForbidden || code != "DENIED" || !strings.Contains(msg, "archived") {
		t.Errorf("OCI pull of an archived image: %d %s %s", a.Status, code, msg)
	}
	if a := ociGet(t, hc, e.URL()+"/v2/"+repo+"/manifests/v2", mtOCIManifest); a.Status != http.StatusOK {
		t.Errorf("pulling the active image: %d", a.Status)
	}
	// A child of an index cannot move alone; a missing image is not found.
	_, err = c.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String(repo),
		ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("nope")}, TargetStorageClass: ecrtypes.TargetStorageClassArchive})
	wantAPIError(t, "archiving a missing image", err, "ImageNotFoundException", 400, "")

	// Restore.
	up, err = c.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String(repo),
		ImageId: &ecrtypes.ImageIdentifier{ImageDigest: aws.String(img.Digest)}, TargetStorageClass: ecrtypes.TargetStorageClassStandard})
	ecrMust(t, "UpdateImageStorageClass STANDARD", err)
	if up.ImageStatus != ecrtypes.ImageStatusActive {
		t.Errorf("restore answered status %s, want ACTIVE (no restore delay)", up.ImageStatus)
	}
	if a := ociGet(t, hc, e.URL()+"/v2/"+repo+"/manifests/v1", mtOCIManifest); a.Status != http.StatusOK {
		t.Errorf("pulling the restored image: %d %s", a.Status, a.Body)
	}
	d, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(img.Digest)}}})
	ecrMust(t, "DescribeImages", err)
	if d.ImageDetails[0].LastActivatedAt == nil || d.ImageDetails[0].ImageStatus != ecrtypes.ImageStatusActive {
		t.Errorf("restored image %+v", d.ImageDetails[0])
	}
	noServerErrors(t, e)

	// With a restore delay, the image is ACTIVATING and still refused.
	slow := startECRD(t, t.TempDir(), "--restore-delay", "1h")
	sc, shc := ecrClient(slow), slow.HTTPClient(t)
	ociPushImage(t, slow, shc, repo, img, "v1")
	for _, target := range []ecrtypes.TargetStorageClass{ecrtypes.TargetStorageClassArchive, ecrtypes.TargetStorageClassStandard} {
		up, err = sc.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String(repo),
			ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}, TargetStorageClass: target})
		ecrMust(t, "UpdateImageStorageClass "+string(target), err)
	}
	if up.ImageStatus != ecrtypes.ImageStatusActivating {
		t.Errorf("a slow restore answered %s, want ACTIVATING", up.ImageStatus)
	}
	_, err = sc.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	wantAPIError(t, "BatchGetImage while activating", err, "ImageArchivedException", 400, "")
	act, err := sc.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String(repo), Filter: &ecrtypes.ListImagesFilter{ImageStatus: ecrtypes.ImageStatusFilterActivating}})
	ecrMust(t, "ListImages ACTIVATING", err)
	if len(act.ImageIds) != 1 {
		t.Errorf("activating images %+v", act.ImageIds)
	}
	noServerErrors(t, slow)
}

// TestPullTimeUpdateExclusions registers, lists and deregisters excluded
// principals. (That an excluded principal's pulls leave pull times alone
// is tested in the registry package: the server has no principal but
// account roots to pull with yet.)
func TestPullTimeUpdateExclusions(t *testing.T) {
	e := startECRD(t, t.TempDir())
	c := ecrClient(e)
	ctx := context.Background()
	const scanner = "arn:aws:iam::123456789012:role/scanner"
	reg, err := c.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(scanner)})
	ecrMust(t, "RegisterPullTimeUpdateExclusion", err)
	if aws.ToString(reg.PrincipalArn) != scanner || reg.CreatedAt == nil {
		t.Errorf("register answered %+v", reg)
	}
	_, err = c.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(scanner)})
	wantAPIError(t, "registering twice", err, "ExclusionAlreadyExistsException", 400, "")
	_, err = c.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String("arn:aws:s3:::bucket")})
	wantAPIError(t, "a principal that is not an ARN of a user or role", err, "InvalidParameterException", 400, "")
	list, err := c.ListPullTimeUpdateExclusions(ctx, &ecr.ListPullTimeUpdateExclusionsInput{})
	ecrMust(t, "ListPullTimeUpdateExclusions", err)
	if !slices.Equal(list.PullTimeUpdateExclusions, []string{scanner}) {
		t.Errorf("exclusions %v", list.PullTimeUpdateExclusions)
	}

	root := "arn:aws:iam::" + testAccount + ":root"
	_, err = c.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(root)})
	wantAPIError(t, "the root is not a user or role", err, "InvalidParameterException", 400, "")

	_, err = c.DeregisterPullTimeUpdateExclusion(ctx, &ecr.DeregisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(scanner)})
	ecrMust(t, "DeregisterPullTimeUpdateExclusion", err)
	_, err = c.DeregisterPullTimeUpdateExclusion(ctx, &ecr.DeregisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(scanner)})
	wantAPIError(t, "deregistering twice", err, "ExclusionNotFoundException", 400, "")
	list, err = c.ListPullTimeUpdateExclusions(ctx, &ecr.ListPullTimeUpdateExclusionsInput{})
	ecrMust(t, "ListPullTimeUpdateExclusions", err)
	if len(list.PullTimeUpdateExclusions) != 0 {
		t.Errorf("exclusions after deregistering %v", list.PullTimeUpdateExclusions)
	}
	noServerErrors(t, e)
}

// TestLifecycleSchedule checks that a policy runs on its own: a server
// whose lifecycle interval is a second expires what the policy selects.
func TestLifecycleSchedule(t *testing.T) {
	e := startECRD(t, t.TempDir(), "--lifecycle-interval", "1s")
	c, hc := ecrClient(e), e.HTTPClient(t)
	ctx := context.Background()
	const repo = "lifecycle/scheduled"
	old := pushAged(t, e, hc, repo, 10*day, "old")
	pushAged(t, e, hc, repo, time.Hour, "new")
	policy := policyText(`{"rulePriority":1,"description":"keep one","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}`)
	_, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(policy)})
	ecrMust(t, "PutLifecyclePolicy", err)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got := survivors(t, c, repo); slices.Equal(got, []string{"new"}) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the scheduled run did not expire %s: the repository holds %v", old.Digest, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Who and why: the expiry is logged with the rule.
	found := false
	for _, l := range e.LogLines() {
		if l["msg"] == "lifecycle policy action" && l["digest"] == old.Digest && l["rulePriority"] == float64(1) {
			found = true
		}
	}
	if !found {
		t.Error("no log line records the expiry with its rule")
	}
	noServerErrors(t, e)
}

// TestLifecycleTransition runs a transition rule: an image pushed 40 days
// ago moves to the archive with its referrer, a newer one stays, and the
// archived image can no longer be pulled until it is restored.
func TestLifecycleTransition(t *testing.T) {
	e := startECRD(t, t.TempDir(), "--lifecycle-interval", "-1s")
	c, hc := ecrClient(e), e.HTTPClient(t)
	ctx := context.Background()
	const repo = "lifecycle/transition"
	old := pushAged(t, e, hc, repo, 40*day, "old")
	sig := newOCIArtifact(t, "application/vnd.dev.cosign.artifact.sig.v1+json", old.Descriptor(), nil)
	ociPushImage(t, e, hc, repo, sig)
	pushAged(t, e, hc, repo, 10*day, "new")
	policy := policyText(`{"rulePriority":1,"description":"archive after 30 days","selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}}`)
	if _, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(repo), LifecyclePolicyText: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	var run struct{ ArchivedImageCount int }
	if a := ecrdCall(t, e, "RunLifecyclePolicy", map[string]any{"repositoryName": repo}, &run); a.Status != http.StatusOK || run.ArchivedImageCount != 2 {
		t.Fatalf("RunLifecyclePolicy: %d %s, want the image and its signature archived", a.Status, a.Body)
	}
	archived, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), Filter: &ecrtypes.DescribeImagesFilter{ImageStatus: ecrtypes.ImageStatusFilterArchived}})
	ecrMust(t, "DescribeImages ARCHIVED", err)
	var got []string
	for _, d := range archived.ImageDetails {
		got = append(got, aws.ToString(d.ImageDigest))
	}
	if want := ecrSorted([]string{old.Digest, sig.Digest}); !slices.Equal(ecrSorted(got), want) {
		t.Errorf("archived %v, want %v", got, want)
	}
	if got := survivors(t, c, repo); len(got) != 3 {
		t.Errorf("a transition deleted images: %v", got)
	}
	_, err = c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("old")}}})
	wantAPIError(t, "pulling an image the policy archived", err, "ImageArchivedException", 400, "")
	noServerErrors(t, e)
}
