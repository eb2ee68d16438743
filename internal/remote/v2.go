package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/reference"
)

// request is one /v2 request, which do may send twice (after a 401).
type request struct {
	op     string // for errors
	method string
	// target is a path ("/v2/...") or an upload Location, relative or
	// absolute, resolved against the session's base.
	target string
	query  url.Values // added to target's own
	header http.Header
	// body opens the body (nil: none); size is its length.
	body func() (io.ReadCloser, error)
	size int64
}

// do sends a /v2 request with the registry login, logging in again once
// if the remote answers 401 (a password expired or the remote's keys
// rotated). Any answer is returned, error statuses too; an error means no
// answer came.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	var stale *session
	for attempt := 0; ; attempt++ {
		s, err := c.session(ctx, stale)
		if err != nil {
			return nil, err
		}
		req, err := c.newRequest(ctx, s, r)
		if err != nil {
			return nil, err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, c.transportError(ctx, r.op, err)
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		drain(resp)
		stale = s
	}
}

func (c *Client) newRequest(ctx context.Context, s *session, r request) (*http.Request, error) {
	ref, err := url.Parse(r.target)
	if err != nil {
		return nil, &Error{Remote: c.name, Op: r.op, Message: "the remote answered an upload location that does not parse"}
	}
	u := s.base.ResolveReference(ref)
	if u.Scheme != s.base.Scheme || u.Host != s.base.Host {
		// The login is for the remote only: never sent anywhere else.
		return nil, &Error{Remote: c.name, Op: r.op, Message: "the remote sent the upload to another host (" + u.Redacted() + "); refused"}
	}
	if len(r.query) > 0 {
		q := u.Query()
		for k, vs := range r.query {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
	}
	var body io.ReadCloser
	if r.body != nil {
		if body, err = r.body(); err != nil {
			return nil, &Error{Remote: c.name, Op: r.op, Message: "opening the content to send: " + err.Error(), Err: err}
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, &Error{Remote: c.name, Op: r.op, Err: err}
	}
	if body != nil {
		req.ContentLength = r.size
		if r.size == 0 {
			req.Body = http.NoBody
			body.Close()
		}
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if s.host != "" {
		req.Host = s.host
	}
	req.Header.Set("Authorization", s.authorization)
	if c.t.Source != "" && r.method != http.MethodGet && r.method != http.MethodHead {
		req.Header.Set(SourceHeader, c.t.Source)
	}
	return req, nil
}

// drain reads what is left of a body (a little), so that the connection
// is reused, and closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func checkRepo(repo string) error {
	if err := reference.ValidateRepository(repo); err != nil {
		return fmt.Errorf("remote: %w", err)
	}
	return nil
}

func checkDigest(d digest.Digest) error {
	if _, err := reference.ParseDigest(string(d)); err != nil {
		return fmt.Errorf("remote: %w", err)
	}
	return nil
}

// BlobExists reports whether the repository holds the blob (HEAD). A
// repository that does not exist holds none: false, nil.
func (c *Client) BlobExists(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	if err := checkRepo(repo); err != nil {
		return false, err
	}
	if err := checkDigest(d); err != nil {
		return false, err
	}
	op := "checking for blob " + string(d) + " in " + repo
	resp, err := c.do(ctx, request{op: op, method: http.MethodHead, target: "/v2/" + repo + "/blobs/" + string(d)})
	if err != nil {
		return false, err
	}
	defer drain(resp)
	switch resp.StatusCode {
	case http.StatusOK, http.StatusTemporaryRedirect, http.StatusFound, http.StatusSeeOther, http.StatusPermanentRedirect:
		// A redirect is to the blob's bytes elsewhere: it exists.
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, c.v2Error(op, resp)
}

// PushBlob puts the blob d of size bytes into the repository, unless it
// is there already: a mount from another repository of the destination
// when one holds it, else an upload (POST, then one PUT streaming the
// bytes open returns, never held in memory). open may be called more
// than once (a retry after a 401); each reader is closed.
func (c *Client) PushBlob(ctx context.Context, repo string, d digest.Digest, size int64, open func() (io.ReadCloser, error)) error {
	if size < 0 {
		return fmt.Errorf("remote: blob %s: negative size %d", d, size)
	}
	// A principal may be allowed to push but not to check
	// (ecr:BatchCheckLayerAvailability): a denied check goes on to the
	// upload, whose refusal, if any, carries the remote's explanation
	// (a HEAD answer has no body).
	ok, err := c.BlobExists(ctx, repo, d)
	if ok || (err != nil && !errors.Is(err, ErrDenied)) {
		return err
	}
	op := "pushing blob " + string(d) + " to " + repo
	// A mount costs no transfer when the blob is in another repository
	// there; a registry that cannot mount it opens an upload instead.
	resp, err := c.do(ctx, request{op: op, method: http.MethodPost, target: "/v2/" + repo + "/blobs/uploads/",
		query: url.Values{"mount": {string(d)}}})
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusCreated:
		drain(resp)
		return nil
	case http.StatusAccepted:
		drain(resp)
	default:
		defer drain(resp)
		return c.v2Error(op, resp)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return &Error{Remote: c.name, Op: op, Status: resp.StatusCode, Message: "the remote opened an upload without a Location"}
	}
	resp, err = c.do(ctx, request{op: op, method: http.MethodPut, target: loc, query: url.Values{"digest": {string(d)}},
		header: http.Header{"Content-Type": {"application/octet-stream"}, "Expect": {"100-continue"}},
		body:   open, size: size})
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusCreated {
		return c.v2Error(op, resp)
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != string(d) {
		return &Error{Remote: c.name, Op: op, Status: resp.StatusCode, Message: "the remote stored digest " + got}
	}
	return nil
}

// PutManifest puts a manifest (an image, an index, an artifact) under ref,
// a tag or its digest. Every blob and child it names must be in the
// repository first.
func (c *Client) PutManifest(ctx context.Context, repo, ref, mediaType string, body []byte) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	if _, err := reference.ParseDigest(ref); err != nil {
		if terr := reference.ValidateTag(ref); terr != nil {
			return fmt.Errorf("remote: %q is neither a tag nor a digest", ref)
		}
	}
	if mediaType == "" {
		return fmt.Errorf("remote: manifest for %s:%s: no media type", repo, ref)
	}
	op := "pushing manifest " + repo + ":" + ref
	if d := digest.FromBytes(body); string(d) != ref {
		op += " (" + string(d) + ")"
	}
	resp, err := c.do(ctx, request{op: op, method: http.MethodPut, target: "/v2/" + repo + "/manifests/" + ref,
		header: http.Header{"Content-Type": {mediaType}},
		body:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }, size: int64(len(body))})
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusCreated {
		return c.v2Error(op, resp)
	}
	return nil
}

// DeleteManifest deletes the image d and all its tags (DELETE by digest).
// An image the repository does not hold is ErrNotFound; one an index
// there lists, ErrReferenced.
func (c *Client) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	if err := checkDigest(d); err != nil {
		return err
	}
	op := "deleting image " + string(d) + " from " + repo
	resp, err := c.do(ctx, request{op: op, method: http.MethodDelete, target: "/v2/" + repo + "/manifests/" + string(d)})
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return c.v2Error(op, resp)
	}
	return nil
}
