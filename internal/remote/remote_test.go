package remote

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

const testSecret = "remote-unit-test-secret-0123456789abcdef"

// isolate keeps the developer's own AWS files and variables out of a test,
// and writes a shared credentials file with one profile, "replicator".
func isolate(t *testing.T) (credsFile string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	for _, v := range []string{"AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL"} {
		t.Setenv(v, "")
	}
	credsFile = filepath.Join(dir, "credentials")
	if err := os.WriteFile(credsFile, []byte("[replicator]\naws_access_key_id = AKIAREMOTEUNITTEST00\naws_secret_access_key = "+testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return credsFile
}

// TestCAFile: a TLS server whose certificate only the CA file vouches for
// is trusted with the file and refused without it, and the refusal says
// what to do and is not retried as temporary.
func TestCAFile(t *testing.T) {
	creds := isolate(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello over TLS") }))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	target := Target{URL: srv.URL, Region: "eu-west-1", Profile: "replicator", CredentialsFile: creds}

	withCA := target
	withCA.CAFile = caFile
	c, err := New(withCA)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.http.Get(srv.URL + "/")
	if err != nil {
		t.Fatalf("with the CA file: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello over TLS" {
		t.Fatalf("with the CA file: read %q", b)
	}

	c, err = New(target)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.http.Get(srv.URL + "/"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA file: %v, want a certificate error", err)
	}
	// Through an operation: the login fails on the certificate.
	_, err = c.BlobExists(context.Background(), "app/web", digest.FromString("x"))
	var e *Error
	if !errors.As(err, &e) || Temporary(err) || !strings.Contains(err.Error(), "not trusted (give its CA with ca-file)") ||
		!strings.Contains(err.Error(), "remote eu-west-1 at "+srv.URL) {
		t.Fatalf("BlobExists without the CA file: %v (temporary %v), want a TLS error naming the remote", err, Temporary(err))
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Fatalf("the error shows the secret: %v", err)
	}
	t.Logf("without the CA file: %v", err)
}

func TestNewRejects(t *testing.T) {
	creds := isolate(t)
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	ok := Target{URL: "https://ecrd.example.com", Region: "eu-west-1", Profile: "replicator", CredentialsFile: creds}
	tests := []struct {
		edit func(*Target)
		want string
	}{
		{func(t *Target) { t.URL = "ftp://x" }, "must be http(s)://host[:port]"},
		{func(t *Target) { t.URL = "https://k:s@x" }, "must be http(s)://host[:port]"},
		{func(t *Target) { t.URL = "https://x/path" }, "must be http(s)://host[:port]"},
		{func(t *Target) { t.Region = "mars" }, `"mars" is not a region`},
		{func(t *Target) { t.Account = "12" }, "not a 12-digit registry ID"},
		{func(t *Target) { t.Source = "123456789012" }, "is not ACCOUNT/REGION"},
		{func(t *Target) { t.CAFile = notPEM }, "holds no PEM certificate"},
		{func(t *Target) { t.CAFile = notPEM + ".missing" }, "reading the CA file"},
		{func(t *Target) { t.Profile = "nobody" }, `loading credentials profile "nobody"`},
		{func(t *Target) { t.CredentialsFile = creds + ".missing" }, `loading credentials profile "replicator"`},
	}
	for _, tt := range tests {
		target := ok
		tt.edit(&target)
		_, err := New(target)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", target, err, tt.want)
		} else if strings.Contains(err.Error(), testSecret) {
			t.Errorf("New's error shows the secret: %v", err)
		}
	}
	c, err := New(ok)
	if err != nil {
		t.Fatalf("New(%+v): %v", ok, err)
	}
	c.Close()
}

// TestArguments: names a remote would refuse are refused before any
// request.
func TestArguments(t *testing.T) {
	creds := isolate(t)
	c, err := New(Target{URL: "http://127.0.0.1:1", Region: "eu-west-1", Profile: "replicator", CredentialsFile: creds})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := digest.FromString("x")
	for what, err := range map[string]error{
		"a bad repository": c.PutManifest(ctx, "Bad/Name", "v1", "application/vnd.oci.image.manifest.v1+json", []byte("{}")),
		"a bad reference":  c.PutManifest(ctx, "app", "v1:x", "application/vnd.oci.image.manifest.v1+json", []byte("{}")),
		"no media type":    c.PutManifest(ctx, "app", "v1", "", []byte("{}")),
		"a bad digest":     c.DeleteManifest(ctx, "app", "sha256:abc"),
		"a bad tag":        c.DeleteTag(ctx, "app", "-x"),
		"a negative size":  c.PushBlob(ctx, "app", d, -1, nil),
	} {
		var e *Error
		if err == nil || errors.As(err, &e) {
			t.Errorf("%s: %v, want a local error", what, err)
		}
	}
}
