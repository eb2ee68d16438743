package e2e

// Helpers of the ECR API end-to-end tests (ecrapi_test.go): SDK clients
// with chosen keys, error checks, raw signed requests, and images built
// and pushed through the OCI API byte by byte.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
	smithymiddleware "github.com/aws/smithy-go/middleware"
)

// ecrTarget is the X-Amz-Target prefix of every ECR operation.
const ecrTarget = "AmazonEC2ContainerRegistry_V20150921."

// requestIDRE is the shape of the request IDs ecrd gives (a UUID).
var requestIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ecrClientWith returns an ECR client for the server signed with the given
// key, which does not retry (every answer is checked as it comes).
func ecrClientWith(e *ecrd, accessKey, secret string) *ecr.Client {
	return ecr.New(ecr.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(e.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
		Retryer:      closedConnRetryer(),
	})
}

// ecrClientRetrying is an ECR client of the root test key with the SDK's
// default retryer, for checks that only read.
func ecrClientRetrying(e *ecrd) *ecr.Client {
	return ecr.New(ecr.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, "")})
}

// ecrClient is ecrClientWith the root test key.
func ecrClient(e *ecrd) *ecr.Client { return ecrClientWith(e, testAccessKey, testSecret) }

// wantAPIError checks that err is the AWS error code with HTTP status
// status and, unless message is empty, exactly that message; and that the
// answer carried a request ID.
func wantAPIError(t *testing.T, what string, err error, code string, status int, message string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want %s", what, code)
		return
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: %v, want the API error %s", what, err, code)
		return
	}
	if ae.ErrorCode() != code {
		t.Errorf("%s: error code %q (%v), want %q", what, ae.ErrorCode(), err, code)
	}
	if got := ae.ErrorMessage(); message != "" && got != message && withoutEncoded(got) != message {
		t.Errorf("%s: message\n  %q\nwant\n  %q", what, got, message)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Errorf("%s: %v carries no HTTP response", what, err)
		return
	}
	if re.HTTPStatusCode() != status {
		t.Errorf("%s: HTTP status %d, want %d", what, re.HTTPStatusCode(), status)
	}
	if !requestIDRE.MatchString(re.ServiceRequestID()) {
		t.Errorf("%s: x-amzn-RequestId %q is not a request ID", what, re.ServiceRequestID())
	}
}

// wantMessagePrefix checks that err is an API error whose message starts
// with prefix.
func wantMessagePrefix(t *testing.T, what string, err error, prefix string) {
	t.Helper()
	var ae smithy.APIError
	if errors.As(err, &ae) && !strings.HasPrefix(ae.ErrorMessage(), prefix) {
		t.Errorf("%s: message %q, want it to start with %q", what, ae.ErrorMessage(), prefix)
	}
}

// wantTyped checks that err is (or wraps) the SDK's typed exception T.
func wantTyped[T error](t *testing.T, what string, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Errorf("%s: %v (%T), want %T", what, err, err, target)
	}
	return target
}

// ecrMust fails the test at once on an error of a call that must work.
func ecrMust(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sdkRequestID returns the request ID of a successful SDK answer.
func sdkRequestID(md smithymiddleware.Metadata) string {
	id, _ := awsmiddleware.GetRequestIDMetadata(md)
	return id
}

// httpAnswer is an HTTP answer, read.
type httpAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// errorType returns __type of an AWS JSON error body.
func (a httpAnswer) errorType() string {
	var b struct {
		Type string `json:"__type"`
	}
	json.Unmarshal(a.Body, &b)
	return b.Type
}

// rawECR sends an ECR request by hand: target (the operation's name, or
// anything else), body as is, signed with accessKey/secret unless
// accessKey is empty.
func rawECR(t testing.TB, e *ecrd, target string, body []byte, accessKey, secret string) httpAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL()+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", ecrTarget+target)
	if accessKey != "" {
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ecr", testRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return ecrDo(t, http.DefaultClient, req)
}

func ecrDo(t testing.TB, c *http.Client, req *http.Request) httpAnswer {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL, err)
	}
	return httpAnswer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// wantRawError checks a hand-made request's AWS JSON error answer.
func wantRawError(t *testing.T, what string, a httpAnswer, status int, exception, message string) {
	t.Helper()
	if a.Status != status {
		t.Errorf("%s: HTTP status %d (%s), want %d", what, a.Status, a.Body, status)
	}
	if got := a.Header.Get("X-Amzn-ErrorType"); got != exception {
		t.Errorf("%s: X-Amzn-ErrorType %q, want %q", what, got, exception)
	}
	if got := a.errorType(); got != exception {
		t.Errorf("%s: __type %q (%s), want %q", what, got, a.Body, exception)
	}
	if message != "" {
		var b struct {
			Message string `json:"message"`
		}
		json.Unmarshal(a.Body, &b)
		if b.Message != message {
			t.Errorf("%s: message %q, want %q", what, b.Message, message)
		}
	}
	if ct := a.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if id := a.Header.Get("X-Amzn-Requestid"); !requestIDRE.MatchString(id) {
		t.Errorf("%s: x-amzn-RequestId %q is not a request ID", what, id)
	}
}

// Images built by hand.

func ecrDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func ecrRandom(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// ociDescriptor is an OCI content descriptor.
type ociDescriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// ociImage is an image manifest with the blobs it needs.
type ociImage struct {
	Manifest  []byte
	Digest    string
	MediaType string
	// ConfigMediaType is ECR's artifactMediaType of an image.
	ConfigMediaType string
	// Size is ECR's imageSizeInBytes: config plus layers.
	Size  int64
	Blobs [][]byte
}

// Descriptor returns the descriptor that points to the image.
func (img ociImage) Descriptor() ociDescriptor {
	return ociDescriptor{MediaType: img.MediaType, Digest: img.Digest, Size: int64(len(img.Manifest))}
}

const (
	mtOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mtOCIConfig      = "application/vnd.oci.image.config.v1+json"
	mtOCILayer       = "application/vnd.oci.image.layer.v1.tar+gzip"
	mtOCIEmpty       = "application/vnd.oci.empty.v1+json"
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerConfig   = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// newOCIImage builds a unique image manifest of mediaType (OCI or Docker)
// with a config and the given layers.
func newOCIImage(t testing.TB, mediaType string, layers ...[]byte) ociImage {
	t.Helper()
	configMT, layerMT := mtOCIConfig, mtOCILayer
	if mediaType == mtDockerManifest {
		configMT, layerMT = mtDockerConfig, mtDockerLayer
	}
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Labels": map[string]string{"nonce": hex.EncodeToString(ecrRandom(t, 8))}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}},
	})
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaType,
		"config":        ociDescriptor{MediaType: configMT, Digest: ecrDigest(config), Size: int64(len(config))},
	}
	img := ociImage{MediaType: mediaType, ConfigMediaType: configMT, Size: int64(len(config)), Blobs: [][]byte{config}}
	ls := []ociDescriptor{}
	for _, l := range layers {
		ls = append(ls, ociDescriptor{MediaType: layerMT, Digest: ecrDigest(l), Size: int64(len(l))})
		img.Size += int64(len(l))
		img.Blobs = append(img.Blobs, l)
	}
	m["layers"] = ls
	img.Manifest, _ = json.Marshal(m)
	img.Digest = ecrDigest(img.Manifest)
	return img
}

// newOCIArtifact builds an OCI artifact manifest that refers to subject.
func newOCIArtifact(t *testing.T, artifactType string, subject ociDescriptor, annotations map[string]string) ociImage {
	t.Helper()
	empty := []byte("{}")
	payload := ecrRandom(t, 64)
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mtOCIManifest,
		"artifactType":  artifactType,
		"config":        ociDescriptor{MediaType: mtOCIEmpty, Digest: ecrDigest(empty), Size: 2},
		"layers":        []ociDescriptor{{MediaType: "application/octet-stream", Digest: ecrDigest(payload), Size: int64(len(payload))}},
		"subject":       subject,
		"annotations":   annotations,
	}
	b, _ := json.Marshal(m)
	return ociImage{Manifest: b, Digest: ecrDigest(b), MediaType: mtOCIManifest, ConfigMediaType: mtOCIEmpty,
		Size: 2 + int64(len(payload)), Blobs: [][]byte{empty, payload}}
}

// ociPushBlob uploads a blob in one POST and checks it was stored.
func ociPushBlob(t testing.TB, e *ecrd, c *http.Client, repo string, data []byte) {
	t.Helper()
	d := ecrDigest(data)
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/v2/"+repo+"/blobs/uploads/?digest="+d, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	a := ecrDo(t, c, req)
	if a.Status != http.StatusCreated || a.Header.Get("Docker-Content-Digest") != d {
		t.Fatalf("pushing blob %s to %s: %d %s", d, repo, a.Status, a.Body)
	}
}

// ociPutManifest PUTs a manifest under ref (a tag or digest) and returns
// the answer.
func ociPutManifest(t testing.TB, e *ecrd, c *http.Client, repo, ref, mediaType string, body []byte) httpAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, e.URL()+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(body))
	req.Header.Set("Content-Type", mediaType)
	return ecrDo(t, c, req)
}

// ociPushImage pushes an image's blobs and its manifest under each ref
// (a tag, or its digest when there is none).
func ociPushImage(t testing.TB, e *ecrd, c *http.Client, repo string, img ociImage, refs ...string) {
	t.Helper()
	for _, b := range img.Blobs {
		ociPushBlob(t, e, c, repo, b)
	}
	if len(refs) == 0 {
		refs = []string{img.Digest}
	}
	for _, ref := range refs {
		a := ociPutManifest(t, e, c, repo, ref, img.MediaType, img.Manifest)
		if a.Status != http.StatusCreated || a.Header.Get("Docker-Content-Digest") != img.Digest {
			t.Fatalf("pushing manifest %s:%s: %d %s", repo, ref, a.Status, a.Body)
		}
	}
}

// ociGet GETs a registry path and returns the answer.
func ociGet(t *testing.T, c *http.Client, url, accept string) httpAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return ecrDo(t, c, req)
}

// ociError returns the first error code and message of an OCI error body
// (a denial's message without its encoded authorization message).
func ociError(a httpAnswer) (code, message string) {
	var b struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	json.Unmarshal(a.Body, &b)
	if len(b.Errors) == 0 {
		return "", ""
	}
	return b.Errors[0].Code, withoutEncoded(b.Errors[0].Message)
}

// ecrNear reports whether got is within tolerance of want.
func ecrNear(got, want time.Time, tolerance time.Duration) bool {
	d := got.Sub(want)
	return d <= tolerance && d >= -tolerance
}

// matchesModelPattern reports whether s matches a model pattern as a whole.
func matchesModelPattern(pattern, s string) bool {
	return regexp.MustCompile(`^(?:` + pattern + `)$`).MatchString(s)
}

// ecrSorted returns a sorted copy.
func ecrSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// imageIDString formats an image ID for comparisons and messages.
func imageIDString(digest, tag *string) string {
	return fmt.Sprintf("%s|%s", aws.ToString(digest), aws.ToString(tag))
}

// imageNotFound is ECR's ImageNotFoundException message: a member that
// was not given is printed as null.
func imageNotFound(digest, tag, repo, account string) string {
	q := func(s string) string {
		if s == "" {
			return "'null'"
		}
		return "'" + s + "'"
	}
	return fmt.Sprintf("The image with imageId {imageDigest:%s, imageTag:%s} does not exist within the repository with name '%s' in the registry with id '%s'",
		q(digest), q(tag), repo, account)
}

// parseAccessKeyOutput reads the access key that `ecrd access-key create`
// prints.
func parseAccessKeyOutput(t *testing.T, out string) (id, secret string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			id = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secret = strings.TrimSpace(v)
		}
	}
	if id == "" || secret == "" {
		t.Fatalf("no access key in %q", out)
	}
	return id, secret
}

// closedConnRetryer is the tests' retryer: none, as aws.NopRetryer, so
// that every answer is checked as it comes, except once for a read that
// the client's own transport cut under it ("use of closed network
// connection", aws/aws-sdk-go-v2#1825 and #2737): that is the client's
// fault, not the server's answer.
func closedConnRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 2
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if err != nil && strings.Contains(err.Error(), "use of closed network connection") {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
	})
}
