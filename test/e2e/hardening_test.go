package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// TestListingsHideDeniedRepositories: a repository an IAM user is
// explicitly denied does not appear in its DescribeRepositories without
// names or in its /v2/_catalog, while the others do, page after page.
func TestListingsHideDeniedRepositories(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	root := ecrClient(e)
	names := []string{"a/one", "b/secret", "c/three", "d/four"}
	for _, n := range names {
		_, err := root.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(n)})
		ecrMust(t, "CreateRepository "+n, err)
	}
	creds := newUser(t, iamClient(e), "lister", `{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Action":"ecr:*","Resource":"*"},
{"Effect":"Deny","Action":"ecr:*","Resource":"`+repoARN(testAccount, "b/secret")+`"}]}`)
	c := ecr.New(ecr.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Credentials: creds, Retryer: closedConnRetryer()})
	var seen []string
	p := ecr.NewDescribeRepositoriesPaginator(c, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		ecrMust(t, "DescribeRepositories", err)
		for _, r := range out.Repositories {
			seen = append(seen, aws.ToString(r.RepositoryName))
		}
	}
	want := []string{"a/one", "c/three", "d/four"}
	if !slices.Equal(seen, want) {
		t.Errorf("DescribeRepositories listed %v, want %v", seen, want)
	}
	tok, err := c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	ecrMust(t, "GetAuthorizationToken", err)
	password := basicPassword(t, aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	hc := &http.Client{Transport: authTransport{Password: password, Base: http.DefaultTransport}}
	var catalog []string
	for url := e.URL() + "/v2/_catalog?n=2"; url != ""; {
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		var page struct{ Repositories []string }
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		catalog = append(catalog, page.Repositories...)
		url = ""
		if link := resp.Header.Get("Link"); link != "" {
			url = e.URL() + strings.TrimSuffix(strings.TrimPrefix(strings.Split(link, ";")[0], "<"), ">")
		}
	}
	if !slices.Equal(catalog, want) {
		t.Errorf("/v2/_catalog listed %v, want %v", catalog, want)
	}
}

// TestManifestsMustBeUTF8: a manifest with bytes that are not UTF-8 is
// refused on both APIs, so that what is pulled is always what was
// pushed.
func TestManifestsMustBeUTF8(t *testing.T) {
	e := startECRD(t, t.TempDir())
	hc := e.HTTPClient(t)
	img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 64))
	ociPushImage(t, e, hc, "utf8/app", img, "v1")
	bad := strings.Replace(string(img.Manifest), `"schemaVersion"`, `"annotations":{"note":"`+"\xff\xfe"+`"},"schemaVersion"`, 1)
	a := ociPutManifest(t, e, hc, "utf8/app", "bad", img.MediaType, []byte(bad))
	if a.Status != http.StatusBadRequest || !strings.Contains(string(a.Body), "MANIFEST_INVALID") || !strings.Contains(string(a.Body), "UTF-8") {
		t.Errorf("/v2 push of a manifest that is not UTF-8: %d %s, want 400 MANIFEST_INVALID", a.Status, a.Body)
	}
	body := `{"repositoryName":"utf8/app","imageTag":"bad","imageManifest":"` + strings.ReplaceAll(bad, `"`, `\"`) + `"}`
	r := rawECR(t, e, "PutImage", []byte(body), testAccessKey, testSecret)
	if r.Status != http.StatusBadRequest || r.errorType() != "SerializationException" || !strings.Contains(string(r.Body), "UTF-8") {
		t.Errorf("PutImage of a manifest that is not UTF-8: %d %s, want SerializationException", r.Status, r.Body)
	}
	out, err := ecrClient(e).ListImages(context.Background(), &ecr.ListImagesInput{RepositoryName: aws.String("utf8/app")})
	ecrMust(t, "ListImages", err)
	if len(out.ImageIds) != 1 {
		t.Errorf("the repository holds %d images, want the one valid push", len(out.ImageIds))
	}
	noServerErrors(t, e)
}

// basicPassword returns the password of a GetAuthorizationToken token
// (base64 of "AWS:<password>").
func basicPassword(t *testing.T, token string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	_, pw, _ := strings.Cut(string(b), ":")
	return pw
}

// TestECRAnswersAsECR: what moto's ECR test suite, run against ecrd,
// showed answering otherwise than ECR.
func TestECRAnswersAsECR(t *testing.T) {
	e := startECRD(t, t.TempDir())
	c, hc := ecrClient(e), e.HTTPClient(t)
	ctx := context.Background()
	img := newOCIImage(t, mtDockerManifest, ecrRandom(t, 64))
	ociPushImage(t, e, hc, "moto/app", img, "v1")

	// imageManifestMediaType stands in for a Docker manifest's missing
	// mediaType; with neither, the push is refused.
	var m map[string]any
	json.Unmarshal(img.Manifest, &m)
	delete(m, "mediaType")
	bare, _ := json.Marshal(m)
	_, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("moto/app"), ImageTag: aws.String("declared"),
		ImageManifest: aws.String(string(bare)), ImageManifestMediaType: aws.String(mtDockerManifest)})
	ecrMust(t, "PutImage of a Docker manifest without mediaType, with imageManifestMediaType", err)
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("moto/app"), ImageTag: aws.String("neither"),
		ImageManifest: aws.String(string(bare))})
	wantAPIError(t, "PutImage with no media type anywhere", err, "InvalidParameterException", 400,
		"image manifest mediatype not provided in manifest or parameter")

	// Repeated Sids, which ECR takes and Terraform modules produce.
	_, err = c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("moto/app"), PolicyText: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow","Principal":{"AWS":"210987654321"},"Action":"ecr:BatchGetImage"},` +
			`{"Sid":"Pull","Effect":"Allow","Principal":{"AWS":"210987654321"},"Action":"ecr:GetDownloadUrlForLayer"}]}`)})
	ecrMust(t, "SetRepositoryPolicy with a repeated Sid", err)

	// lastEvaluatedAt is there, 0 for a policy that never ran.
	_, err = c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("moto/app"), LifecyclePolicyText: aws.String(
		`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}`)})
	ecrMust(t, "PutLifecyclePolicy", err)
	got, err := c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("moto/app")})
	ecrMust(t, "GetLifecyclePolicy", err)
	if got.LastEvaluatedAt == nil || got.LastEvaluatedAt.Unix() != 0 {
		t.Errorf("GetLifecyclePolicy lastEvaluatedAt = %v, want 0", got.LastEvaluatedAt)
	}
	del, err := c.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: aws.String("moto/app")})
	ecrMust(t, "DeleteLifecyclePolicy", err)
	if del.LastEvaluatedAt == nil || del.LastEvaluatedAt.Unix() != 0 {
		t.Errorf("DeleteLifecyclePolicy lastEvaluatedAt = %v, want 0", del.LastEvaluatedAt)
	}

	// StartImageScan answers the status alone.
	scan, err := c.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: aws.String("moto/app"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}})
	ecrMust(t, "StartImageScan", err)
	if scan.ImageScanStatus == nil || scan.ImageScanStatus.Status != ecrtypes.ScanStatusInProgress || scan.ImageScanStatus.Description != nil {
		t.Errorf("StartImageScan's imageScanStatus = %+v, want IN_PROGRESS and no description", scan.ImageScanStatus)
	}

	// An unknown operation says which.
	a := rawECR(t, e, "NoSuchOperation", []byte("{}"), testAccessKey, testSecret)
	var body struct{ Message string }
	json.Unmarshal(a.Body, &body)
	if a.Status != 400 || a.errorType() != "UnknownOperationException" || !strings.Contains(body.Message, "NoSuchOperation") {
		t.Errorf("an unknown operation: %d %s", a.Status, a.Body)
	}
}
