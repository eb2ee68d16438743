package sigv4_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ecrd/ecrd/internal/sigv4"
)

const layerPath = "/v2/team/app/blobs/sha256:0123abcd"

// TestSDKPresignedURLsVerify presigns as S3 clients do (UNSIGNED-PAYLOAD,
// path signed once) and as EKS-style STS tokens do (the empty body's hash,
// a session token in the query), then verifies what the server receives.
func TestSDKPresignedURLsVerify(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct {
		name, service, path, query, payload string
		session                             bool
		opts                                func(*v4.SignerOptions)
	}{
		{name: "s3 style", service: "s3", path: layerPath, query: "x-id=GetObject&X-Amz-Expires=900",
			payload: sigv4.UnsignedPayload, opts: func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }},
		{name: "sts token", service: "sts", path: "/", query: "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60",
			payload: sha(nil), session: true, opts: func(*v4.SignerOptions) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.URL+tc.path+"?"+tc.query, nil)
			creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
			if tc.session {
				creds.SessionToken = token
			}
			signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, tc.payload, tc.service, "us-east-1", t0, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			get, _ := http.NewRequest("GET", signed, nil)
			r := s.roundTrip(t, get)
			p, err := sigv4.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Presigned || p.Expires == 0 || p.SecurityToken != creds.SessionToken || p.Credential.Service != tc.service {
				t.Fatalf("parsed %+v", p)
			}
			if err := (&sigv4.Verifier{Now: at(t0.Add(30 * time.Second))}).Verify(r, p, secret); err != nil {
				t.Fatal(err)
			}
			if err := (&sigv4.Verifier{Now: at(t0.Add(p.Expires + time.Second))}).Verify(r, p, secret); sigv4.CodeOf(err) != sigv4.Expired {
				t.Fatalf("after expiry: got %v, want Expired", err)
			}
		})
	}
}

// TestPresignMatchesSDK checks that our presigned URLs carry the signature
// the SDK computes for the same request.
func TestPresignMatchesSDK(t *testing.T) {
	for _, service := range []string{"s3", "ecr"} {
		t.Run(service, func(t *testing.T) {
			r := &sigv4.Request{Method: "GET", Host: "registry.ecrd.test", Path: "/v2/a%20b/blobs/x", RawQuery: "x-id=GetObject"}
			cred := sigv4.Credential{AccessKeyID: keyID, Region: "us-west-2", Service: service}
			ours, err := sigv4.Presign(r, cred, secret, t0, 15*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", "https://registry.ecrd.test/v2/a%20b/blobs/x?x-id=GetObject&X-Amz-Expires=900", nil)
			sdkURL, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret},
				req, sigv4.UnsignedPayload, service, "us-west-2", t0, func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(sdkURL)
			q, _ := url.ParseQuery(ours)
			if got, want := q.Get("X-Amz-Signature"), u.Query().Get("X-Amz-Signature"); got != want {
				t.Fatalf("signature %s, SDK's %s\nours %s\nSDK's %s", got, want, ours, u.RawQuery)
			}
		})
	}
}

func TestPresignRoundTrip(t *testing.T) {
	s := newServer(t)
	host := strings.TrimPrefix(s.URL, "http://")
	cred := sigv4.Credential{AccessKeyID: keyID, Region: "us-west-2", Service: "ecr"}
	base := &sigv4.Request{Method: "GET", Host: host, Path: layerPath, RawQuery: "X-Amz-Security-Token=" + url.QueryEscape(token)}
	query, err := sigv4.Presign(base, cred, secret, t0, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	get, _ := http.NewRequest("GET", s.URL+layerPath+"?"+query, nil)
	signedReq := s.roundTrip(t, get)

	for _, m := range []mutation{
		{name: "valid", mutate: func(*sigv4.Request) {}},
		{name: "at expiry", mutate: func(*sigv4.Request) {}, now: 10 * time.Minute},
		{name: "expired", mutate: func(*sigv4.Request) {}, now: 10*time.Minute + time.Second, want: sigv4.Expired,
			message: "Request has expired: it was valid until 20260304T121000Z (X-Amz-Date 20260304T120000Z + X-Amz-Expires 600) and it is now 20260304T121001Z."},
		{name: "not yet valid", mutate: func(*sigv4.Request) {}, now: -16 * time.Minute, want: sigv4.NotYetCurrent},
		{name: "other path", mutate: func(r *sigv4.Request) { r.Path += "0" }, want: sigv4.SignatureMismatch},
		{name: "other method", mutate: func(r *sigv4.Request) { r.Method = "HEAD" }, want: sigv4.SignatureMismatch},
		{name: "other host", mutate: func(r *sigv4.Request) { r.Host = "attacker.test" }, want: sigv4.SignatureMismatch},
		{name: "longer expiry", mutate: func(r *sigv4.Request) {
			r.RawQuery = strings.Replace(r.RawQuery, "X-Amz-Expires=600", "X-Amz-Expires=6000", 1)
		}, want: sigv4.SignatureMismatch},
		{name: "expiry over a week", mutate: func(r *sigv4.Request) {
			r.RawQuery = strings.Replace(r.RawQuery, "X-Amz-Expires=600", "X-Amz-Expires=604801", 1)
		}, want: sigv4.IncompleteSignature, message: "X-Amz-Expires must be less than a week (in seconds) that is 604800"},
		{name: "token", mutate: func(r *sigv4.Request) { r.RawQuery = strings.Replace(r.RawQuery, "EXAMPLE", "EXAMPLF", 1) },
			want: sigv4.SignatureMismatch},
		{name: "extra parameter", mutate: func(r *sigv4.Request) { r.RawQuery += "&response-content-type=text/html" },
			want: sigv4.SignatureMismatch},
		{name: "signature twice", mutate: func(r *sigv4.Request) { r.RawQuery += "&X-Amz-Signature=00" },
			want: sigv4.IncompleteSignature},
		{name: "Authorization too", mutate: func(r *sigv4.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 x") },
			want: sigv4.IncompleteSignature},
		{name: "unsigned x-amz header", mutate: func(r *sigv4.Request) { r.Header.Set("X-Amz-Date", "20260304T120000Z") },
			want: sigv4.SignatureMismatch},
		{name: "body", mutate: func(r *sigv4.Request) { r.Body = []byte("x") }}, // UNSIGNED-PAYLOAD
	} {
		t.Run(m.name, func(t *testing.T) {
			r := cloneRequest(signedReq)
			m.mutate(r)
			err := parseAndVerify(&sigv4.Verifier{Now: at(t0.Add(m.now))}, r, secret)
			if sigv4.CodeOf(err) != m.want {
				t.Fatalf("got %v, want code %v", err, m.want)
			}
			if m.message != "" && err.(*sigv4.Error).Message != m.message {
				t.Fatalf("message %q", err.(*sigv4.Error).Message)
			}
		})
	}
}

func TestPresignRejects(t *testing.T) {
	cred := sigv4.Credential{AccessKeyID: keyID, Region: "us-west-2", Service: "ecr"}
	r := &sigv4.Request{Method: "GET", Host: "h", Path: "/"}
	for _, d := range []time.Duration{0, time.Second / 2, 1500 * time.Millisecond, sigv4.MaxPresignExpiry + time.Second} {
		if _, err := sigv4.Presign(r, cred, secret, t0, d); err == nil {
			t.Errorf("expiry %v accepted", d)
		}
	}
	if _, err := sigv4.Presign(&sigv4.Request{Method: "GET", Host: "h", RawQuery: "X-Amz-Expires=5"}, cred, secret, t0, time.Minute); err == nil {
		t.Error("existing X-Amz-Expires accepted")
	}
	if _, err := sigv4.Presign(&sigv4.Request{Method: "GET", Path: "/"}, cred, secret, t0, time.Minute); err == nil {
		t.Error("empty Host accepted")
	}
	if _, err := sigv4.Presign(r, sigv4.Credential{AccessKeyID: keyID, Region: "US", Service: "ecr"}, secret, t0, time.Minute); err == nil {
		t.Error("invalid region accepted")
	}
}
