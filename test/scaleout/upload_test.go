package scaleout

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// upload is a chunked blob upload driven request by request, each
// request to any replica.
type upload struct {
	hc   *http.Client
	repo string
	loc  string // where the next request goes, as the last answer said
	h    hash.Hash
	off  int
}

// do sends one request to replica r and returns its answer, body read.
func (u *upload) do(t *testing.T, r *ecrdtest.Server, method, path string, body []byte, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, r.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, r.Addr, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// startChunks starts an upload to repo through replica r and sends it
// chunks, each acknowledged.
func startChunks(t *testing.T, hc *http.Client, r *ecrdtest.Server, repo string, chunks [][]byte) *upload {
	t.Helper()
	u := &upload{hc: hc, repo: repo, h: sha256.New()}
	resp := u.do(t, r, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("starting an upload through %s: %s", r.Addr, resp.Status)
	}
	u.loc = resp.Header.Get("Location")
	for _, c := range chunks {
		u.patch(t, r, c)
	}
	return u
}

// patch sends one chunk through replica r.
func (u *upload) patch(t *testing.T, r *ecrdtest.Server, c []byte) {
	t.Helper()
	resp := u.do(t, r, http.MethodPatch, u.loc, c, "Content-Type", "application/octet-stream",
		"Content-Range", fmt.Sprintf("%d-%d", u.off, u.off+len(c)-1))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a chunk at %d through %s: %s", u.off, r.Addr, resp.Status)
	}
	if want := fmt.Sprintf("0-%d", u.off+len(c)-1); resp.Header.Get("Range") != want {
		t.Fatalf("a chunk through %s: Range %q, want %q", r.Addr, resp.Header.Get("Range"), want)
	}
	u.loc = resp.Header.Get("Location")
	u.h.Write(c)
	u.off += len(c)
}

// finish sends the last chunk through the first of rs and the request
// that finishes the upload through the last, checks that every replica
// of rs serves the blob whole, and returns its digest.
func (u *upload) finish(t *testing.T, rs []*ecrdtest.Server, last []byte) string {
	t.Helper()
	u.patch(t, rs[0], last)
	d := "sha256:" + hex.EncodeToString(u.h.Sum(nil))
	sep := "?"
	if strings.Contains(u.loc, "?") {
		sep = "&"
	}
	end := rs[len(rs)-1]
	if resp := u.do(t, end, http.MethodPut, u.loc+sep+"digest="+d, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("finishing the upload through %s: %s", end.Addr, resp.Status)
	}
	for _, r := range rs {
		resp, err := u.hc.Get(r.URL() + "/v2/" + u.repo + "/blobs/" + d)
		if err != nil {
			t.Fatal(err)
		}
		g := sha256.New()
		n, err := io.Copy(g, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || n != int64(u.off) || "sha256:"+hex.EncodeToString(g.Sum(nil)) != d {
			t.Fatalf("GET of the blob through %s: %s, %d bytes of %d, %v", r.Addr, resp.Status, n, u.off, err)
		}
	}
	return d
}

// chunkedUpload pushes one blob made of chunks into repo: the upload
// starts on the first replica, each chunk goes to the next replica in
// turn, and the request that finishes it to the last; every replica then
// serves the blob whole. It returns the blob's digest.
func chunkedUpload(t *testing.T, hc *http.Client, rs []*ecrdtest.Server, repo string, chunks [][]byte) string {
	t.Helper()
	u := startChunks(t, hc, rs[0], repo, nil)
	for i, c := range chunks[:len(chunks)-1] {
		u.patch(t, rs[(i+1)%len(rs)], c)
	}
	return u.finish(t, rs, chunks[len(chunks)-1])
}

// verifyLayer reads a layer whole and checks it against its digest.
func verifyLayer(l v1.Layer) error {
	want, err := l.Digest()
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() {
		return fmt.Errorf("layer reads as %s, want %s", got, want)
	}
	return nil
}
