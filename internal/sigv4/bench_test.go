package sigv4_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ecrd/ecrd/internal/sigv4"
)

// BenchmarkVerify parses and verifies a typical ECR call (a JSON 1.1 POST
// with a session token, signed by the SDK) with the key cache warm.
func BenchmarkVerify(b *testing.B) {
	body := `{"registryId":"123456789012","repositoryName":"team/app","layerDigests":["sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]}`
	req, _ := http.NewRequest("POST", "https://api.ecr.us-west-2.amazonaws.com/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.BatchCheckLayerAvailability")
	req.Header.Set("Amz-Sdk-Invocation-Id", "5c1f4f3e-4b8a-4d1b-9a57-1f2d3c4b5a69")
	req.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret, SessionToken: strings.Repeat("T", 800)}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha([]byte(body)), "ecr", "us-west-2", t0); err != nil {
		b.Fatal(err)
	}
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.41.0 os/linux lang/go#1.26 api/ecr#1.50.0")
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	req.Header.Set("Accept-Encoding", "gzip")
	r := sigv4.FromHTTP(req, []byte(body))
	r.Path = "/"
	v := &sigv4.Verifier{Now: at(t0)}
	if err := parseAndVerify(v, r, secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := parseAndVerify(v, r, secret); err != nil {
			b.Fatal(err)
		}
	}
}
