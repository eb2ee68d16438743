package sigv4_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ecrd/ecrd/internal/sigv4"
)

var (
	fuzzMethods  = []string{"GET", "POST", "PUT", "HEAD", "DELETE", "PATCH"}
	fuzzServices = []string{"ecr", "iam", "sts", "kms", "s3"}
)

// FuzzVerify signs random requests with the AWS SDK and checks that ours
// accepts each one as a server would receive it, and rejects it once a bit
// of the signature or of the body is flipped.
func FuzzVerify(f *testing.F) {
	f.Add(uint8(1), "", "Action", "GetCallerIdentity", "X-Amz-Target", "TrentService.DescribeKey", []byte(`{}`), false, uint8(0), uint16(7))
	f.Add(uint8(0), "v2/a b/./../%2F", "a+b", "c=d&e", "X-Odd", "  x   y  ", []byte{}, true, uint8(4), uint16(0))
	f.Add(uint8(2), "\u1234/~", "", "", "Content-Type", "\tapplication/json ; x", []byte("Action=ListRoles"), true, uint8(1), uint16(600))
	f.Fuzz(func(t *testing.T, method uint8, path, qName, qValue, hName, hValue string, body []byte, session bool, service uint8, flip uint16) {
		svc := fuzzServices[int(service)%len(fuzzServices)]
		u := &url.URL{Scheme: "https", Host: "api.ecrd.test", Path: "/" + path,
			RawQuery: url.Values{qName: {qValue, qValue + "~"}, "z": {""}}.Encode()}
		req := &http.Request{Method: fuzzMethods[int(method)%len(fuzzMethods)], URL: u, Host: u.Host,
			Header: http.Header{}, ContentLength: int64(len(body))}
		if signableFuzzHeader(hName, hValue) {
			req.Header.Add(hName, hValue)
			req.Header.Add(hName, hValue+" 2")
		}
		creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
		if session {
			creds.SessionToken = token
		}
		err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha(body), svc, "us-east-1", t0,
			func(o *v4.SignerOptions) { o.DisableURIPathEscaping = svc == "s3" })
		if err != nil {
			t.Fatal(err)
		}
		// What a net/http server would hand the adapter.
		r := &sigv4.Request{Method: req.Method, Host: req.Host, Path: u.EscapedPath(), RawQuery: u.RawQuery,
			Header: req.Header.Clone(), Body: body}
		if len(body) > 0 {
			r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		}
		v := &sigv4.Verifier{Now: at(t0)}
		if err := parseAndVerify(v, r, secret); err != nil {
			t.Fatalf("SDK-signed request rejected: %v\npath %q query %q headers %q", err, r.Path, r.RawQuery, r.Header)
		}

		bad := cloneRequest(r)
		auth := bad.Header.Get("Authorization")
		i := len(auth) - 64 + int(flip)%64
		bad.Header.Set("Authorization", auth[:i]+flipHex(auth[i])+auth[i+1:])
		if err := parseAndVerify(v, bad, secret); sigv4.CodeOf(err) != sigv4.SignatureMismatch {
			t.Fatalf("flipped signature: got %v", err)
		}
		if len(body) > 0 {
			bad = cloneRequest(r)
			bad.Body[int(flip)%len(body)] ^= 1 << (flip % 8)
			if err := parseAndVerify(v, bad, secret); sigv4.CodeOf(err) != sigv4.SignatureMismatch {
				t.Fatalf("flipped body bit: got %v", err)
			}
		}
	})
}

// flipHex changes one hex digit into another.
func flipHex(c byte) string {
	const digits = "0123456789abcdef"
	return string(digits[(strings.IndexByte(digits, c)+1)%16])
}

// signableFuzzHeader keeps headers a net/http server would deliver unchanged
// and that the SDK signs as given (it sets or skips the others itself).
func signableFuzzHeader(name, value string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	switch strings.ToLower(name) {
	case "authorization", "user-agent", "x-amzn-trace-id", "expect", "transfer-encoding", "host",
		"content-length", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256":
		return false
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
