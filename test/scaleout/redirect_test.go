package scaleout

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// TestBlobRedirect: with --blob-redirect, a blob GET is answered, after
// authorization, with a redirect to a presigned URL of the bucket, which
// serves the blob (ranges too) without the registry's credentials and
// stops serving it when tampered with; clients that follow redirects
// pull as before; a KMS repository's blobs,
// stored encrypted, still stream through ecrd; HEAD stays with ecrd.
func TestBlobRedirect(t *testing.T) {
	c := startCluster(t, 1, "--blob-redirect", "5m")
	r := c.Replicas[0]
	pw := r.Password(t)
	opts := remoteOptions(pw)
	img := randomImage(t, 1<<20, 1)
	if err := remote.Write(ref(t, r, "redirect/plain:v1"), img, opts...); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	rc, _ := layers[0].Compressed()
	want, _ := io.ReadAll(rc)
	rc.Close()

	noFollow := &http.Client{
		Transport:     ecrdtest.AuthTransport{Password: pw, Base: http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(repo string) *http.Response {
		t.Helper()
		resp, err := noFollow.Get(r.URL() + "/v2/" + repo + "/blobs/" + ld.String())
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get("redirect/plain")
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	s3Endpoint := endpointOf(c.Blobs)
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, s3Endpoint+"/") || resp.Header.Get("Docker-Content-Digest") != ld.String() {
		t.Fatalf("blob GET = %s, Location %q, want 307 to %s", resp.Status, loc, s3Endpoint)
	}
	fetch := func(u string, header ...string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, b := fetch(loc); code != http.StatusOK || sha(b) != sha(want) {
		t.Fatalf("the presigned URL: %d, %d bytes; want the blob's %d", code, len(b), len(want))
	}
	if code, b := fetch(loc, "Range", "bytes=10-19"); code != http.StatusPartialContent || string(b) != string(want[10:20]) {
		t.Fatalf("a range of the presigned URL: %d %q", code, b)
	}
	tampered := strings.Replace(loc, ld.Hex[:8], "00000000", 1)
	if code, _ := fetch(tampered); code != http.StatusForbidden {
		t.Fatalf("a tampered presigned URL: %d, want 403", code)
	}
	// Without credentials there is no redirect.
	if resp, err := http.Get(r.URL() + "/v2/redirect/plain/blobs/" + ld.String()); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an anonymous blob GET: %v %v, want 401", resp, err)
	}
	// HEAD is answered by ecrd.
	head, _ := http.NewRequest(http.MethodHead, r.URL()+"/v2/redirect/plain/blobs/"+ld.String(), nil)
	if resp, err := noFollow.Do(head); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("blob HEAD: %v %v", resp, err)
	}
	// Clients follow the redirect.
	got, err := remote.Image(ref(t, r, "redirect/plain:v1"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	gl, _ := got.Layers()
	if err := verifyLayer(gl[0]); err != nil {
		t.Fatalf("pulling through the redirect: %v", err)
	}

	// A KMS repository's blobs stream, decrypted.
	if _, err := r.ECR().CreateRepository(bg, &ecr.CreateRepositoryInput{RepositoryName: aws.String("redirect/kms"),
		EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms}}); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, r, "redirect/kms:v1"), img, opts...); err != nil {
		t.Fatal(err)
	}
	resp = get("redirect/kms")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || sha(b) != sha(want) {
		t.Fatalf("a KMS repository's blob: %s, %d bytes; want it streamed", resp.Status, len(b))
	}
	ecrdtest.NoServerErrors(t, r)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// endpointOf returns the endpoint parameter of an s3:// URL.
func endpointOf(s3URL string) string {
	u, _ := url.Parse(s3URL)
	return u.Query().Get("endpoint")
}
