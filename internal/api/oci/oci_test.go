package oci_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/api/oci"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
)

var scope = registrytest.Scope

// asRoot authenticates every request as the root of the test account.
func asRoot(*http.Request) (metadata.Scope, *identity.Principal, error) {
	p := identity.Root(scope.Account)
	return scope, &p, nil
}

// newServer serves the OCI API over real embedded stores in a temp dir,
// with pushes creating repositories.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	reg, _ := registrytest.New(t, registry.Options{})
	registrytest.CreateOnPush(t, reg)
	log := testutil.Logger()
	srv := httptest.NewServer(oci.New(reg, log, asRoot, "http://registry.test/"))
	t.Cleanup(srv.Close)
	return srv
}

type client struct {
	t   *testing.T
	url string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// code returns the first error code of an error body.
func (r response) code() string {
	var body struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if json.Unmarshal(r.body, &body) != nil || len(body.Errors) == 0 {
		return ""
	}
	return body.Errors[0].Code
}

func (c client) do(method, path string, header map[string]string, body []byte) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (c client) pushBlob(repo string, content []byte) digest.Digest {
	c.t.Helper()
	d := digest.FromBytes(content)
	r := c.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), nil, content)
	if r.status != http.StatusCreated {
		c.t.Fatalf("pushing blob: %d %s", r.status, r.body)
	}
	return d
}

func imageManifest(config, layer []byte) []byte {
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}`,
		digest.FromBytes(config), len(config), digest.FromBytes(layer), len(layer)))
}

const manifestType = "application/vnd.oci.image.manifest.v1+json"

func TestErrors(t *testing.T) {
	srv := newServer(t)
	c := client{t, srv.URL}
	config, layer := []byte(`{"architecture":"amd64","os":"linux"}`), []byte("layer")
	c.pushBlob("app", config)
	c.pushBlob("app", layer)
	good := imageManifest(config, layer)
	if r := c.do("PUT", "/v2/app/manifests/v1", map[string]string{"Content-Type": manifestType}, good); r.status != http.StatusCreated {
		t.Fatalf("pushing the manifest: %d %s", r.status, r.body)
	}
	missingBlob := imageManifest(config, []byte("never pushed"))
	zero := "sha256:" + strings.Repeat("0", 64)
	otherRepoBlob := c.pushBlob("other", []byte("only in other"))

	tests := []struct {
		name, method, path string
		header             map[string]string
		body               []byte
		status             int
		code               string
	}{
		{"bad repository name", "GET", "/v2/Bad_Name/tags/list", nil, nil, 400, "NAME_INVALID"},
		{"name too short", "GET", "/v2/a/manifests/latest", nil, nil, 400, "NAME_INVALID"},
		{"unknown repository", "GET", "/v2/nope/tags/list", nil, nil, 404, "NAME_UNKNOWN"},
		{"unknown endpoint", "GET", "/v2/app/things/x", nil, nil, 400, "NAME_INVALID"},
		{"method not allowed", "POST", "/v2/app/manifests/v1", nil, nil, 405, "UNSUPPORTED"},
		{"unknown tag", "GET", "/v2/app/manifests/v9", nil, nil, 404, "MANIFEST_UNKNOWN"},
		{"bad tag", "GET", "/v2/app/manifests/-bad", nil, nil, 400, "TAG_INVALID"},
		{"bad digest", "GET", "/v2/app/manifests/sha256:xyz", nil, nil, 400, "DIGEST_INVALID"},
		{"unsupported digest algorithm", "GET", "/v2/app/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", nil, nil, 400, "DIGEST_INVALID"},
		{"unknown blob", "GET", "/v2/app/blobs/" + zero, nil, nil, 404, "BLOB_UNKNOWN"},
		{"blob of another repository", "GET", "/v2/app/blobs/" + otherRepoBlob.String(), nil, nil, 404, "BLOB_UNKNOWN"},
		{"unknown upload", "GET", "/v2/app/blobs/uploads/0123456789abcdef", nil, nil, 404, "BLOB_UPLOAD_UNKNOWN"},
		{"hostile upload id", "PATCH", "/v2/app/blobs/uploads/..%5c..%5cetc", nil, []byte("x"), 404, "BLOB_UPLOAD_UNKNOWN"},
		{"encoded slash in upload id", "PATCH", "/v2/app/blobs/uploads/..%2f..%2fetc", nil, []byte("x"), 400, "NAME_INVALID"},
		{"monolithic digest mismatch", "POST", "/v2/app/blobs/uploads/?digest=" + zero, nil, []byte("data"), 400, "DIGEST_INVALID"},
		{"manifest not json", "PUT", "/v2/app/manifests/x", map[string]string{"Content-Type": manifestType}, []byte("{"), 400, "MANIFEST_INVALID"},
		{"manifest type mismatch", "PUT", "/v2/app/manifests/x", map[string]string{"Content-Type": "application/vnd.oci.image.index.v1+json"}, good, 400, "MANIFEST_INVALID"},
		{"schema 1", "PUT", "/v2/app/manifests/x", map[string]string{"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"}, []byte(`{"schemaVersion":1}`), 400, "MANIFEST_INVALID"},
		{"missing blob", "PUT", "/v2/app/manifests/x", map[string]string{"Content-Type": manifestType}, missingBlob, 400, "MANIFEST_BLOB_UNKNOWN"},
		{"digest mismatch", "PUT", "/v2/app/manifests/" + zero, map[string]string{"Content-Type": manifestType}, good, 400, "DIGEST_INVALID"},
		{"manifest too large", "PUT", "/v2/app/manifests/x", map[string]string{"Content-Type": manifestType}, bytes.Repeat([]byte(" "), 4<<20+1), 413, "MANIFEST_INVALID"},
		{"bad page size", "GET", "/v2/app/tags/list?n=-1", nil, nil, 400, "PAGINATION_NUMBER_INVALID"},
		{"delete unknown manifest", "DELETE", "/v2/app/manifests/" + zero, nil, nil, 404, "MANIFEST_UNKNOWN"},
		{"delete unknown blob", "DELETE", "/v2/app/blobs/" + zero, nil, nil, 404, "BLOB_UNKNOWN"},
		{"range outside the blob", "GET", "/v2/app/blobs/" + digest.FromBytes(layer).String(), map[string]string{"Range": "bytes=100-200"}, nil, 416, "RANGE_INVALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(tt.method, tt.path, tt.header, tt.body)
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("%s %s = %d %s, want %d %s", tt.method, tt.path, r.status, r.body, tt.status, tt.code)
			}
			if r.header.Get("Content-Type") != "application/json" {
				t.Errorf("error Content-Type = %q", r.header.Get("Content-Type"))
			}
		})
	}
	// A HEAD error has the status and no body.
	if r := c.do("HEAD", "/v2/app/manifests/v9", nil, nil); r.status != 404 || len(r.body) != 0 {
		t.Errorf("HEAD of a missing manifest = %d with %d body bytes", r.status, len(r.body))
	}
}

func TestChunkedUploadAndResume(t *testing.T) {
	srv := newServer(t)
	c := client{t, srv.URL}
	content := bytes.Repeat([]byte("0123456789"), 1000)
	start := c.do("POST", "/v2/team/app/blobs/uploads/", nil, nil)
	if start.status != http.StatusAccepted || start.header.Get("Range") != "0-0" {
		t.Fatalf("POST = %d, Range %q", start.status, start.header.Get("Range"))
	}
	loc := start.header.Get("Location")
	if !strings.HasPrefix(loc, "/v2/team/app/blobs/uploads/") || strings.Contains(loc, "?") {
		t.Fatalf("upload location %q must keep the session in the path", loc)
	}
	r := c.do("PATCH", loc, map[string]string{"Content-Range": "0-3999"}, content[:4000])
	if r.status != http.StatusAccepted || r.header.Get("Range") != "0-3999" {
		t.Fatalf("first chunk = %d, Range %q", r.status, r.header.Get("Range"))
	}
	// A chunk that skips ahead is refused with where to resume.
	r = c.do("PATCH", loc, map[string]string{"Content-Range": "5000-5999"}, content[5000:6000])
	if r.status != http.StatusRequestedRangeNotSatisfiable || r.header.Get("Range") != "0-3999" || r.header.Get("Location") == "" {
		t.Fatalf("out-of-order chunk = %d, Range %q, Location %q", r.status, r.header.Get("Range"), r.header.Get("Location"))
	}
	if r := c.do("GET", loc, nil, nil); r.status != http.StatusNoContent || r.header.Get("Range") != "0-3999" {
		t.Fatalf("status = %d, Range %q", r.status, r.header.Get("Range"))
	}
	// A streamed chunk (no Content-Range) appends.
	if r := c.do("PATCH", loc, nil, content[4000:9000]); r.status != http.StatusAccepted || r.header.Get("Range") != "0-8999" {
		t.Fatalf("streamed chunk = %d, Range %q", r.status, r.header.Get("Range"))
	}
	d := digest.FromBytes(content)
	r = c.do("PUT", loc+"?digest="+d.String(), map[string]string{"Content-Range": "9000-9999"}, content[9000:])
	if r.status != http.StatusCreated || r.header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("PUT = %d %s", r.status, r.body)
	}
	got := c.do("GET", "/v2/team/app/blobs/"+d.String(), nil, nil)
	if got.status != http.StatusOK || !bytes.Equal(got.body, content) {
		t.Fatalf("GET blob = %d, %d bytes", got.status, len(got.body))
	}
	if r := c.do("GET", loc, nil, nil); r.status != http.StatusNotFound {
		t.Fatalf("finished upload still answers: %d", r.status)
	}
	ranged := c.do("GET", "/v2/team/app/blobs/"+d.String(), map[string]string{"Range": "bytes=10-19"}, nil)
	if ranged.status != http.StatusPartialContent || string(ranged.body) != "0123456789" || ranged.header.Get("Content-Range") != "bytes 10-19/10000" {
		t.Fatalf("ranged GET = %d %q %q", ranged.status, ranged.body, ranged.header.Get("Content-Range"))
	}
}

func TestUploadWithWrongDigestIsRemoved(t *testing.T) {
	srv := newServer(t)
	c := client{t, srv.URL}
	loc := c.do("POST", "/v2/app/blobs/uploads/", nil, nil).header.Get("Location")
	c.do("PATCH", loc, nil, []byte("abc"))
	wrong := digest.FromString("xyz")
	if r := c.do("PUT", loc+"?digest="+wrong.String(), nil, nil); r.status != 400 || r.code() != "DIGEST_INVALID" {
		t.Fatalf("PUT with a wrong digest = %d %s", r.status, r.body)
	}
	if r := c.do("GET", loc, nil, nil); r.status != 404 {
		t.Fatalf("upload survived a digest mismatch: %d", r.status)
	}
	if r := c.do("HEAD", "/v2/app/blobs/"+wrong.String(), nil, nil); r.status != 404 {
		t.Fatalf("blob exists after a failed upload: %d", r.status)
	}
}

func TestMount(t *testing.T) {
	srv := newServer(t)
	c := client{t, srv.URL}
	d := c.pushBlob("src", []byte("shared layer"))
	r := c.do("POST", "/v2/dst/blobs/uploads/?mount="+d.String()+"&from=src", nil, nil)
	if r.status != http.StatusCreated || r.header.Get("Location") != "/v2/dst/blobs/"+d.String() {
		t.Fatalf("mount = %d, Location %q", r.status, r.header.Get("Location"))
	}
	// Without from, a blob of another repository of the registry is found.
	if r := c.do("POST", "/v2/dst2/blobs/uploads/?mount="+d.String(), nil, nil); r.status != http.StatusCreated {
		t.Fatalf("anonymous mount = %d", r.status)
	}
	// A blob that is nowhere starts an upload instead.
	missing := digest.FromString("nowhere")
	if r := c.do("POST", "/v2/dst/blobs/uploads/?mount="+missing.String()+"&from=src", nil, nil); r.status != http.StatusAccepted {
		t.Fatalf("mount of a missing blob = %d, want 202", r.status)
	}
	// Deleting the mounted link leaves the source's.
	c.do("DELETE", "/v2/dst/blobs/"+d.String(), nil, nil)
	if r := c.do("HEAD", "/v2/dst/blobs/"+d.String(), nil, nil); r.status != 404 {
		t.Fatalf("deleted mount still answers HEAD: %d", r.status)
	}
	if r := c.do("HEAD", "/v2/src/blobs/"+d.String(), nil, nil); r.status != 200 {
		t.Fatalf("source lost the blob: %d", r.status)
	}
}

func TestTagsPagination(t *testing.T) {
	srv := newServer(t)
	c := client{t, srv.URL}
	config, layer := []byte("{}"), []byte("l")
	c.pushBlob("app", config)
	c.pushBlob("app", layer)
	m := imageManifest(config, layer)
	for _, tag := range []string{"c", "a", "b"} {
		if r := c.do("PUT", "/v2/app/manifests/"+tag, map[string]string{"Content-Type": manifestType}, m); r.status != 201 {
			t.Fatal(r.status)
		}
	}
	r := c.do("GET", "/v2/app/tags/list?n=2", nil, nil)
	if string(r.body) != `{"name":"app","tags":["a","b"]}` || r.header.Get("Link") != `</v2/app/tags/list?last=b&n=2>; rel="next"` {
		t.Fatalf("first page = %s, Link %q", r.body, r.header.Get("Link"))
	}
	r = c.do("GET", "/v2/app/tags/list?n=2&last=b", nil, nil)
	if string(r.body) != `{"name":"app","tags":["c"]}` || r.header.Get("Link") != "" {
		t.Fatalf("last page = %s, Link %q", r.body, r.header.Get("Link"))
	}
	r = c.do("GET", "/v2/_catalog?n=1", nil, nil)
	if string(r.body) != `{"repositories":["app"]}` {
		t.Fatalf("catalog = %s", r.body)
	}
}

func TestManifestHeaders(t *testing.T) {
	srv := newServer(t)
	c := client{t, srv.URL}
	config, layer := []byte("{}"), []byte("l")
	c.pushBlob("app", config)
	c.pushBlob("app", layer)
	m := imageManifest(config, layer)
	d := fmt.Sprintf("sha256:%x", sha256.Sum256(m))
	r := c.do("PUT", "/v2/app/manifests/v1?tag=extra", map[string]string{"Content-Type": manifestType}, m)
	if r.status != 201 || r.header.Get("Docker-Content-Digest") != d || r.header.Get("Location") != "/v2/app/manifests/"+d {
		t.Fatalf("PUT = %d %v", r.status, r.header)
	}
	for _, ref := range []string{"v1", "extra", d} {
		g := c.do("GET", "/v2/app/manifests/"+ref, nil, nil)
		if g.status != 200 || !bytes.Equal(g.body, m) || g.header.Get("Content-Type") != manifestType ||
			g.header.Get("Docker-Content-Digest") != d || g.header.Get("Content-Length") != fmt.Sprint(len(m)) {
			t.Fatalf("GET %s = %d %v", ref, g.status, g.header)
		}
	}
}

func TestAuthentication(t *testing.T) {
	reg, _ := registrytest.New(t, registry.Options{})
	registrytest.CreateOnPush(t, reg)
	log := testutil.Logger()
	var refuse bool
	authn := func(r *http.Request) (metadata.Scope, *identity.Principal, error) {
		if refuse {
			return scope, nil, errors.New("bad password")
		}
		if r.Header.Get("Authorization") == "" {
			return scope, nil, nil
		}
		return asRoot(r)
	}
	srv := httptest.NewServer(oci.New(reg, log, authn, "http://registry.test/"))
	defer srv.Close()
	c := client{t, srv.URL}
	// Anonymous: 401 with the Basic challenge, also for the version check.
	for _, p := range []string{"/v2/", "/v2/app/manifests/latest", "/v2/_catalog"} {
		r := c.do("GET", p, nil, nil)
		if r.status != 401 || r.code() != "UNAUTHORIZED" || r.header.Get("WWW-Authenticate") != `Basic realm="http://registry.test/",service="ecr.amazonaws.com"` {
			t.Errorf("anonymous GET %s = %d %s, challenge %q", p, r.status, r.body, r.header.Get("WWW-Authenticate"))
		}
	}
	if r := c.do("GET", "/v2/", map[string]string{"Authorization": "Basic x"}, nil); r.status != 200 {
		t.Errorf("authenticated GET /v2/ = %d", r.status)
	}
	refuse = true
	if r := c.do("GET", "/v2/", map[string]string{"Authorization": "Basic x"}, nil); r.status != 401 || !strings.Contains(string(r.body), "bad password") {
		t.Errorf("refused credentials = %d %s", r.status, r.body)
	}
}
