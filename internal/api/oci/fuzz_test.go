package oci_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/api/oci"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
)

// FuzzHandler sends arbitrary requests to the /v2 adapter over real stores
// holding one image. Whatever the input, the answer must not be a server
// error (5xx), and nothing may panic.
func FuzzHandler(f *testing.F) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))
	reg, _ := registrytest.New(f, registry.Options{Logger: log})
	registrytest.CreateOnPush(f, reg)
	h := oci.New(reg, log, asRoot, "http://registry.test/")

	// One image to find, delete, list and mount.
	config, layer := []byte(`{"os":"linux"}`), []byte("layer")
	serve(h, "POST", "/v2/app/blobs/uploads/", "digest="+digest.FromBytes(config).String(), nil, config)
	serve(h, "POST", "/v2/app/blobs/uploads/", "digest="+digest.FromBytes(layer).String(), nil, layer)
	m := imageManifest(config, layer)
	serve(h, "PUT", "/v2/app/manifests/v1", "", map[string]string{"Content-Type": manifestType}, m)
	loc := serve(h, "POST", "/v2/app/blobs/uploads/", "", nil, nil).Header().Get("Location")

	methods := []string{"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"}
	seeds := []struct {
		method                     uint8
		path, query, ctype, crange string
		rng                        string
		body                       []byte
	}{
		{0, "/v2/app/manifests/v1", "", "", "", "", nil},
		{0, "/v2/app/blobs/" + digest.FromBytes(layer).String(), "", "", "", "bytes=1-2", nil},
		{2, "/v2/app/manifests/v2", "tag=a&tag=b", manifestType, "", "", m},
		{2, "/v2/app/manifests/" + digest.FromBytes(m).String(), "", "application/vnd.oci.image.index.v1+json", "", "", []byte(`{"schemaVersion":2,"manifests":[]}`)},
		{3, "/v2/other/blobs/uploads/", "mount=" + digest.FromBytes(layer).String() + "&from=app", "", "", "", nil},
		{4, loc, "", "", "0-2", "", []byte("abc")},
		{2, loc, "digest=" + digest.FromString("abcdef").String(), "", "3-5", "", []byte("def")},
		{5, "/v2/app/manifests/v1", "", "", "", "", nil},
		{0, "/v2/app/tags/list", "n=1&last=a", "", "", "", nil},
		{0, "/v2/_catalog", "n=x", "", "", "", nil},
		{0, "/v2/app/referrers/" + digest.FromBytes(m).String(), "artifactType=a/b", "", "", "", nil},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.ctype, s.crange, s.rng, s.body)
	}
	f.Fuzz(func(t *testing.T, method uint8, path, query, ctype, crange, rng string, body []byte) {
		req := &http.Request{
			Method:        methods[int(method)%len(methods)],
			URL:           &url.URL{Path: path, RawQuery: query},
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		req = req.WithContext(context.Background())
		for k, v := range map[string]string{"Content-Type": ctype, "Content-Range": crange, "Range": rng} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s answered %d: %s\nlog: %s", req.Method, path, query, rec.Code, rec.Body, logs.String())
		}
	})
}

func serve(h http.Handler, method, path, query string, header map[string]string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.URL.RawQuery = query
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
