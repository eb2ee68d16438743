package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// client speaks the OCI distribution API over plain net/http. It is kept
// thin on purpose: the point is to measure the registry, so the client
// must never be the bottleneck.
//
// With several registry URLs (replicas) there is one client per URL, all
// sharing the transport and the counters; at picks one per operation.
type client struct {
	base string // scheme://host[:port], no trailing slash
	hc   *http.Client

	// auth is the Authorization header value for -u, nil without it. It
	// is a ready-made slice so that setting it allocates nothing.
	auth []string
	// preempt says whether to send auth before being asked. It starts
	// true unless -lazy-auth, and turns true at the first Basic challenge.
	preempt atomic.Bool

	requests  *atomic.Int64 // HTTP requests sent to any replica, for req/s
	fallbacks *atomic.Int64 // single-request uploads the registry turned into monolithic ones
	sent      atomic.Int64  // HTTP requests sent to this replica

	// replicas are the clients of every registry URL, this one first
	// (set on the first client only).
	replicas []*client
}

func newClient(cfg *config) *client {
	transport := &http.Transport{
		Proxy: nil, // a benchmark on 127.0.0.1 must not detour through $HTTP_PROXY
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		// Keep one idle connection per worker (and some spare) so that
		// every request reuses a kept-alive connection.
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 2*cfg.concurrency + 8,
		IdleConnTimeout:     90 * time.Second,
		// Generous: a registry may fsync and rename a 2 GB blob before
		// answering the final PUT.
		ResponseHeaderTimeout: 5 * time.Minute,
		TLSHandshakeTimeout:   10 * time.Second,
		DisableCompression:    true,
		ReadBufferSize:        64 << 10,
		WriteBufferSize:       64 << 10,
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: cfg.insecure},
	}
	hc := &http.Client{Transport: transport}
	var requests, fallbacks atomic.Int64
	var auth []string
	if cfg.user != "" || cfg.password != "" {
		token := base64.StdEncoding.EncodeToString([]byte(cfg.user + ":" + cfg.password))
		auth = []string{"Basic " + token}
	}
	replicas := make([]*client, len(cfg.registries))
	for i, u := range cfg.registries {
		c := &client{base: strings.TrimSuffix(u.String(), "/"), hc: hc, auth: auth, requests: &requests, fallbacks: &fallbacks}
		c.preempt.Store(auth != nil && !cfg.lazyAuth)
		replicas[i] = c
	}
	replicas[0].replicas = replicas
	return replicas[0]
}

// at returns the client of the replica that operation i goes to: round
// robin over the registry URLs.
func (c *client) at(i int64) *client {
	if len(c.replicas) < 2 {
		return c
	}
	return c.replicas[i%int64(len(c.replicas))]
}

// do sends req and counts it. If the registry answers 401 with a Basic
// challenge and we hold credentials not yet sent, it resends once with
// them and sends them up front from then on, as docker does.
func (c *client) do(req *http.Request) (*http.Response, error) {
	if c.auth != nil && c.preempt.Load() && req.Header["Authorization"] == nil {
		req.Header["Authorization"] = c.auth
	}
	c.requests.Add(1)
	c.sent.Add(1)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized || c.auth == nil ||
		req.Header["Authorization"] != nil || !isBasicChallenge(resp.Header) {
		return resp, nil
	}
	finish(resp)
	if req.GetBody != nil {
		if req.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	c.preempt.Store(true)
	req.Header["Authorization"] = c.auth
	c.requests.Add(1)
	c.sent.Add(1)
	return c.hc.Do(req)
}

func isBasicChallenge(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		if strings.EqualFold(scheme, "Basic") {
			return true
		}
	}
	return false
}

// finish drains a little of the body and closes it so that the
// connection goes back to the pool instead of being torn down.
func finish(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// statusError reports an unexpected answer with the start of the
// registry's error body, which names the OCI error code.
type statusError struct {
	method, path string
	status       string
	body         string
}

func (e *statusError) Error() string {
	msg := fmt.Sprintf("%s %s: %s", e.method, e.path, e.status)
	if e.body != "" {
		msg += ": " + e.body
	}
	return msg
}

// expect returns nil if resp has one of the wanted status codes; otherwise
// it consumes the body into an error. The caller still closes the body.
func expect(resp *http.Response, want ...int) error {
	for _, code := range want {
		if resp.StatusCode == code {
			return nil
		}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &statusError{
		method: resp.Request.Method,
		path:   resp.Request.URL.Path, // not the query: it may hold upload state
		status: resp.Status,
		body:   strings.TrimSpace(string(body)),
	}
}

// drain reads r to the end through buf, which should be large (hundreds
// of KiB) so that a fast registry costs few read calls; io.Copy to
// io.Discard would use 8 KiB reads.
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (c *client) url(repo, rest string) string {
	return c.base + "/v2/" + repo + "/" + rest
}

// newRequest builds a request with the body bytes [off, end) of b, or an
// empty body when end == off.
func newRequest(ctx context.Context, method, target string, b blob, off, end int64) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if end <= off {
		req.Body, req.ContentLength = http.NoBody, 0
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return req, nil
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(b.open(off, end)), nil }
	req.Body, _ = req.GetBody()
	req.ContentLength = end - off
	return req, nil
}

// location reads the Location header of an upload answer and resolves it
// against the request URL. The whole URL is kept, query included:
// distribution keeps its upload state there (?_state=...), and clients
// that keep only the path get "invalid secret" on the next request.
func location(resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("%s %s: %s without a Location header", resp.Request.Method, resp.Request.URL.Path, resp.Status)
	}
	return resp.Request.URL.Parse(loc)
}

// withDigest adds digest=<d> to an upload URL, keeping its existing query
// byte for byte rather than re-encoding it.
func withDigest(u *url.URL, digest string) string {
	v := *u
	param := "digest=" + url.QueryEscape(digest)
	if v.RawQuery == "" {
		v.RawQuery = param
	} else {
		v.RawQuery += "&" + param
	}
	return v.String()
}

// startUpload opens an upload session and returns where to send data.
func (c *client) startUpload(ctx context.Context, repo string) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(repo, "blobs/uploads/"), http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer finish(resp)
	if err := expect(resp, http.StatusAccepted); err != nil {
		return nil, err
	}
	return location(resp)
}

// Upload modes, as named by -mode.
const (
	modeMonolithic = "monolithic"
	modeSingle     = "single"
	modeChunked    = "chunked"
)

// pushBlob uploads b to repo the way -mode says.
func (c *client) pushBlob(ctx context.Context, repo string, b blob, mode string, chunk int64) error {
	switch mode {
	case modeSingle:
		return c.pushSingle(ctx, repo, b)
	case modeChunked:
		return c.pushChunked(ctx, repo, b, chunk)
	default:
		return c.pushMonolithic(ctx, repo, b)
	}
}

// pushMonolithic: POST for a session, then one PUT ?digest= with the
// whole blob.
func (c *client) pushMonolithic(ctx context.Context, repo string, b blob) error {
	loc, err := c.startUpload(ctx, repo)
	if err != nil {
		return err
	}
	return c.putUpload(ctx, loc, b, 0, b.size)
}

// putUpload closes an upload with PUT ?digest=, sending bytes [off, end).
func (c *client) putUpload(ctx context.Context, loc *url.URL, b blob, off, end int64) error {
	req, err := newRequest(ctx, http.MethodPut, withDigest(loc, b.digest), b, off, end)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer finish(resp)
	return expect(resp, http.StatusCreated)
}

// pushSingle sends the whole blob with the POST ?digest= that opens the
// session. The spec lets a registry decline by answering 202 with a
// Location; the client must then PUT the blob there, which we do and
// count, so the output shows the registry did not take the one-shot.
func (c *client) pushSingle(ctx context.Context, repo string, b blob) error {
	target := c.url(repo, "blobs/uploads/") + "?digest=" + url.QueryEscape(b.digest)
	req, err := newRequest(ctx, http.MethodPost, target, b, 0, b.size)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer finish(resp)
	if resp.StatusCode == http.StatusCreated {
		return nil
	}
	if err := expect(resp, http.StatusAccepted); err != nil {
		return err
	}
	loc, err := location(resp)
	if err != nil {
		return err
	}
	c.fallbacks.Add(1)
	return c.putUpload(ctx, loc, b, 0, b.size)
}

// pushChunked sends the blob as PATCHes of chunk bytes with Content-Range,
// following the Location of each answer (it may change: distribution
// re-signs its state every time), then closes with an empty PUT ?digest=.
func (c *client) pushChunked(ctx context.Context, repo string, b blob, chunk int64) error {
	loc, err := c.startUpload(ctx, repo)
	if err != nil {
		return err
	}
	for off := int64(0); off < b.size; off += chunk {
		end := min(off+chunk, b.size)
		req, err := newRequest(ctx, http.MethodPatch, loc.String(), b, off, end)
		if err != nil {
			return err
		}
		// OCI spelling: inclusive range without the "bytes " unit.
		req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, end-1))
		resp, err := c.do(req)
		if err != nil {
			return err
		}
		err = expect(resp, http.StatusAccepted)
		if err == nil {
			loc, err = location(resp)
		}
		finish(resp)
		if err != nil {
			return err
		}
	}
	return c.putUpload(ctx, loc, b, 0, 0)
}

// putManifest stores a manifest under ref (a tag or a digest).
func (c *client) putManifest(ctx context.Context, repo, ref, mediaType string, body []byte) error {
	m := bytesBlob(body)
	req, err := newRequest(ctx, http.MethodPut, c.url(repo, "manifests/"+ref), m, 0, m.size)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer finish(resp)
	return expect(resp, http.StatusCreated)
}

// headBlob checks that a blob exists and has the expected size.
func (c *client) headBlob(ctx context.Context, repo string, b blob) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.url(repo, "blobs/"+b.digest), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer finish(resp)
	if err := expect(resp, http.StatusOK); err != nil {
		return err
	}
	if resp.ContentLength != b.size {
		return fmt.Errorf("HEAD %s: Content-Length %d, want %d", b.digest, resp.ContentLength, b.size)
	}
	return nil
}

// getBlob fetches a blob, drains it through buf and checks its length.
// It returns the number of body bytes received.
func (c *client) getBlob(ctx context.Context, repo string, b blob, buf []byte) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(repo, "blobs/"+b.digest), nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if err := expect(resp, http.StatusOK); err != nil {
		return 0, err
	}
	n, err := drain(resp.Body, buf)
	if err != nil {
		return n, fmt.Errorf("GET %s: after %d bytes: %w", b.digest, n, err)
	}
	if n != b.size {
		return n, fmt.Errorf("GET %s: got %d bytes, want %d", b.digest, n, b.size)
	}
	return n, nil
}
