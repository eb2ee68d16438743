package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// curlStatus runs curl with args against the server and returns the
// HTTP status and body. No credentials are sent unless args carry them.
func curlStatus(t *testing.T, args ...string) (int, string) {
	t.Helper()
	full := append([]string{"-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "30"}, args...)
	out, err := exec.Command(tool(t, "curl"), full...).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", strings.Join(args, " "), err)
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	code, err := strconv.Atoi(s[i+1:])
	if err != nil {
		t.Fatalf("curl %s: no status in %q", strings.Join(args, " "), s)
	}
	return code, s[:i]
}

// TestAnonymousCallersOnlyPull: a repository policy that grants ecr:* to
// "*" on a repository that also opts in to anonymous pulls lets an
// anonymous client pull and nothing else: every write route of /v2
// answers 401, tag listing needs credentials, and a repository with the
// same policy that did not opt in refuses even pulls. Every ECR write
// operation without a signature is refused before it is looked at.
func TestAnonymousCallersOnlyPull(t *testing.T) {
	e := startECRD(t, t.TempDir())
	c, hc := ecrClient(e), e.HTTPClient(t)
	ctx := context.Background()
	everything := `{"Version":"2012-10-17","Statement":[{"Sid":"Everyone","Effect":"Allow","Principal":"*","Action":"ecr:*"}]}`
	img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 64))
	for _, repo := range []string{"open/app", "closed/app"} {
		ociPushImage(t, e, hc, repo, img, "v1")
		_, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo), PolicyText: aws.String(everything)})
		ecrMust(t, "SetRepositoryPolicy", err)
	}
	_, err := c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(repoARN(testAccount, "open/app")),
		Tags: []ecrtypes.Tag{{Key: aws.String("ecrd:anonymous-pull"), Value: aws.String("true")}}})
	ecrMust(t, "TagResource", err)

	// An upload started with credentials, which anonymous callers then
	// try to continue, finish and cancel.
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/v2/open/app/blobs/uploads/", nil)
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("starting an upload with credentials: %v %v", resp, err)
	}
	resp.Body.Close()
	upload := e.URL() + resp.Header.Get("Location")
	if strings.HasPrefix(resp.Header.Get("Location"), "http") {
		upload = resp.Header.Get("Location")
	}
	sep := "?"
	if strings.Contains(upload, "?") {
		sep = "&"
	}
	layer := sha256Digest(img.Blobs[len(img.Blobs)-1])
	base := e.URL() + "/v2/open/app"
	writes := []struct {
		what string
		args []string
	}{
		{"start an upload", []string{"-X", "POST", base + "/blobs/uploads/"}},
		{"monolithic upload", []string{"-X", "POST", "--data-binary", "x", "-H", "Content-Type: application/octet-stream",
			base + "/blobs/uploads/?digest=" + sha256Digest([]byte("x"))}},
		{"mount a blob", []string{"-X", "POST", base + "/blobs/uploads/?mount=" + layer + "&from=closed/app"}},
		{"upload a chunk", []string{"-X", "PATCH", "--data-binary", "abc", "-H", "Content-Type: application/octet-stream", upload}},
		{"finish an upload", []string{"-X", "PUT", "--data-binary", "abc", upload + sep + "digest=" + sha256Digest([]byte("abc"))}},
		{"cancel an upload", []string{"-X", "DELETE", upload}},
		{"push a manifest", []string{"-X", "PUT", "-H", "Content-Type: " + img.MediaType, "--data-binary", string(img.Manifest), base + "/manifests/v2"}},
		{"delete a manifest", []string{"-X", "DELETE", base + "/manifests/" + img.Digest}},
		{"delete a tag", []string{"-X", "DELETE", base + "/manifests/v1"}},
		{"delete a blob", []string{"-X", "DELETE", base + "/blobs/" + layer}},
		{"list tags", []string{base + "/tags/list"}},
		{"list repositories", []string{e.URL() + "/v2/_catalog"}},
	}
	for _, w := range writes {
		if code, body := curlStatus(t, w.args...); code != http.StatusUnauthorized {
			t.Errorf("anonymous %s: %d %s, want 401", w.what, code, body)
		}
	}
	if code, body := curlStatus(t, base+"/manifests/v1", "-H", "Accept: "+img.MediaType); code != http.StatusOK {
		t.Errorf("anonymous pull from the opted-in repository: %d %s", code, body)
	}
	if code, body := curlStatus(t, base+"/blobs/"+layer); code != http.StatusOK {
		t.Errorf("anonymous blob pull from the opted-in repository: %d %s", code, body)
	}
	if code, body := curlStatus(t, e.URL()+"/v2/closed/app/manifests/v1", "-H", "Accept: "+img.MediaType); code != http.StatusUnauthorized {
		t.Errorf(`anonymous pull where only a "*" policy allows it: %d %s, want 401`, code, body)
	}

	// Nothing changed.
	imgs, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("open/app")})
	ecrMust(t, "DescribeImages", err)
	if len(imgs.ImageDetails) != 1 || len(imgs.ImageDetails[0].ImageTags) != 1 {
		t.Errorf("the repository changed under anonymous writes: %+v", imgs.ImageDetails)
	}

	// The ECR API without a signature: every write operation is refused
	// with ECR's error, whatever the policy says.
	for _, op := range []string{"CreateRepository", "DeleteRepository", "PutImage", "BatchDeleteImage", "InitiateLayerUpload",
		"UploadLayerPart", "CompleteLayerUpload", "SetRepositoryPolicy", "DeleteRepositoryPolicy", "PutLifecyclePolicy",
		"DeleteLifecyclePolicy", "PutImageTagMutability", "PutImageScanningConfiguration", "TagResource", "UntagResource",
		"StartImageScan", "PutRegistryPolicy", "PutAccountSetting", "UpdateImageStorageClass", "BatchGetImage"} {
		code, body := curlStatus(t, "-X", "POST", e.URL()+"/", "-H", "X-Amz-Target: "+ecrTarget+op,
			"-H", "Content-Type: application/x-amz-json-1.1", "--data-binary", `{"repositoryName":"open/app"}`)
		if code != http.StatusForbidden || !strings.Contains(body, "MissingAuthenticationTokenException") {
			t.Errorf("unsigned %s: %d %s, want 403 MissingAuthenticationTokenException", op, code, body)
		}
	}
	noServerErrors(t, e)
}
