package main

// The test registry: go-containerregistry's in-process registry (a real
// OCI implementation, widely used in tests) behind a few wrappers that
// make it behave like the registries ecrd-load must cope with and count
// what actually crossed the wire, so tests can check the tool's figures.

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

type testRegistryOptions struct {
	// basicAuth, as "user:password", makes every request need Basic auth
	// and answer 401 with a Basic challenge without it.
	basicAuth string
	// declineSingle answers a single-request upload (POST ?digest=) with
	// 202 and a Location without reading the body, as distribution does.
	declineSingle bool
	// failPUT answers every PUT with 500.
	failPUT bool
	// replicas, when above 1, serves the one registry on that many
	// servers, as replicas sharing their stores: url lists them all,
	// separated by commas, and servedBy counts each one's requests.
	replicas int
}

type testRegistry struct {
	url      string
	blobs    *countingBlobs
	servedBy []*atomic.Int64

	uploadBytes    atomic.Int64 // request body bytes of POST/PATCH/PUT to uploads
	blobGetBytes   atomic.Int64 // response body bytes of GET /blobs/<digest>
	manifestPuts   atomic.Int64
	unauthorized   atomic.Int64 // 401s sent for missing credentials
	requestsServed atomic.Int64

	// Upload state kept in the Location query, as distribution does: the
	// latest token issued for each upload path. A client that drops the
	// query or reuses an old Location is refused.
	mu     sync.Mutex
	states map[string]string
	tokens int
}

func startTestRegistry(t *testing.T, opts testRegistryOptions) *testRegistry {
	t.Helper()
	r := &testRegistry{
		blobs:  &countingBlobs{inner: registry.NewInMemoryBlobHandler(), sizes: map[string]int64{}},
		states: map[string]string{},
	}
	inner := registry.New(
		registry.Logger(log.New(io.Discard, "", 0)),
		registry.WithBlobHandler(r.blobs),
	)
	handler := r.wrap(inner, opts)
	var urls []string
	for range max(opts.replicas, 1) {
		served := new(atomic.Int64)
		r.servedBy = append(r.servedBy, served)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			served.Add(1)
			handler.ServeHTTP(w, req)
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	r.url = strings.Join(urls, ",")
	return r
}

func (r *testRegistry) wrap(next http.Handler, opts testRegistryOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requestsServed.Add(1)
		if opts.basicAuth != "" && !hasBasicAuth(req, opts.basicAuth) {
			r.unauthorized.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		if opts.failPUT && req.Method == http.MethodPut {
			http.Error(w, `{"errors":[{"code":"UNKNOWN"}]}`, http.StatusInternalServerError)
			return
		}
		isUpload := strings.Contains(req.URL.Path, "/blobs/uploads/")
		if isUpload && !strings.HasSuffix(req.URL.Path, "/blobs/uploads/") && !r.checkState(req) {
			http.Error(w, `{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"invalid secret"}]}`, http.StatusNotFound)
			return
		}
		if opts.declineSingle && req.Method == http.MethodPost && req.URL.Query().Has("digest") {
			req.URL.RawQuery = "" // ggcr then opens a session and ignores the body
		}
		if isUpload && req.Body != nil {
			req.Body = &countingReader{ReadCloser: req.Body, n: &r.uploadBytes}
		}
		if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
			r.manifestPuts.Add(1)
		}
		cw := &stateWriter{ResponseWriter: w, reg: r}
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/sha256:") {
			cw.count = &r.blobGetBytes
		}
		next.ServeHTTP(cw, req)
	})
}

func hasBasicAuth(req *http.Request, userPass string) bool {
	return req.Header.Get("Authorization") == "Basic "+base64.StdEncoding.EncodeToString([]byte(userPass))
}

// checkState accepts a request to an upload URL only with the latest
// _state issued for that upload.
func (r *testRegistry) checkState(req *http.Request) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	want, ok := r.states[req.URL.Path]
	return ok && req.URL.Query().Get("_state") == want
}

// issueState returns a fresh token for an upload path. It contains "=",
// which must reach us again intact (escaped in the URL as %3D).
func (r *testRegistry) issueState(path string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens++
	token := fmt.Sprintf("tok%d==", r.tokens)
	r.states[path] = token
	return token
}

// stateWriter adds _state to upload Locations and counts body bytes.
type stateWriter struct {
	http.ResponseWriter
	reg   *testRegistry
	count *atomic.Int64
}

func (w *stateWriter) WriteHeader(code int) {
	h := w.Header()
	if loc := h.Get("Location"); strings.Contains(loc, "/blobs/uploads/") {
		token := w.reg.issueState(loc)
		h.Set("Location", loc+"?_state="+url.QueryEscape(token))
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write counts bytes before they go out: the client can have read them
// (and the test compared counts) before a Write returns.
func (w *stateWriter) Write(p []byte) (int, error) {
	if w.count != nil {
		w.count.Add(int64(len(p)))
	}
	n, err := w.ResponseWriter.Write(p)
	if w.count != nil && n < len(p) {
		w.count.Add(int64(n - len(p)))
	}
	return n, err
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingBlobs stores blobs in memory and remembers the size of every
// blob the registry accepted (after verifying its digest).
type countingBlobs struct {
	inner registry.BlobHandler
	mu    sync.Mutex
	sizes map[string]int64
}

func (b *countingBlobs) Get(ctx context.Context, repo string, h v1.Hash) (io.ReadCloser, error) {
	return b.inner.Get(ctx, repo, h)
}

func (b *countingBlobs) Stat(ctx context.Context, repo string, h v1.Hash) (int64, error) {
	return b.inner.(registry.BlobStatHandler).Stat(ctx, repo, h)
}

func (b *countingBlobs) Put(ctx context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	var n atomic.Int64
	if err := b.inner.(registry.BlobPutHandler).Put(ctx, repo, h, &countingReader{ReadCloser: rc, n: &n}); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sizes[h.String()] = n.Load()
	return nil
}

// stored returns how many distinct blobs of size bytes were stored.
func (b *countingBlobs) stored(size int64) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	count := 0
	for _, n := range b.sizes {
		if n == size {
			count++
		}
	}
	return count
}
