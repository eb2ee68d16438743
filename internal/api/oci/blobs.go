package oci

import (
	"errors"
	"io"
	"net/http"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
)

// getBlob serves GET and HEAD of a blob, with single byte ranges. The body
// is copied from the store's reader straight to the connection; for the
// filesystem store that is an *os.File, which net/http sends with
// sendfile(2), never through user space.
func (h *Handler) getBlob(w http.ResponseWriter, req *http.Request, rt route) error {
	key := h.repo(req, rt)
	if req.Method == http.MethodHead {
		b, err := h.reg.StatBlob(req.Context(), key, rt.arg)
		if err != nil {
			return err
		}
		setBlobHeaders(w, b)
		w.Header().Set("Content-Length", itoa(b.Size))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	// With redirects on, the client reads the blob from the blob store,
	// as ECR sends layer downloads to S3; Range goes there with it.
	b, u, err := h.reg.BlobURL(req.Context(), key, rt.arg)
	if err != nil {
		return err
	}
	if u != "" {
		w.Header().Set("Docker-Content-Digest", string(b.Digest))
		http.Redirect(w, req, u, http.StatusTemporaryRedirect)
		return nil
	}
	b, rc, err := h.reg.OpenBlob(req.Context(), key, rt.arg)
	if err != nil {
		return err
	}
	defer rc.Close()
	setBlobHeaders(w, b)
	hd := w.Header()
	r, partial, err := parseRange(req.Header.Get("Range"), b.Size)
	if errors.Is(err, errRangeUnsatisfiable) {
		hd.Set("Content-Range", "bytes */"+itoa(b.Size))
		return newError(registry.CodeRangeInvalid, "the requested range is outside the blob's "+itoa(b.Size)+" bytes")
	}
	if !partial {
		hd.Set("Content-Length", itoa(b.Size))
		w.WriteHeader(http.StatusOK)
		io.Copy(w, rc) // a failure here is the client going away
		return nil
	}
	if _, err := rc.Seek(r.start, io.SeekStart); err != nil {
		return err
	}
	hd.Set("Content-Range", "bytes "+itoa(r.start)+"-"+itoa(r.end)+"/"+itoa(b.Size))
	hd.Set("Content-Length", itoa(r.length()))
	w.WriteHeader(http.StatusPartialContent)
	io.Copy(w, io.LimitReader(rc, r.length()))
	return nil
}

func setBlobHeaders(w http.ResponseWriter, b metadata.Blob) {
	hd := w.Header()
	hd.Set("Content-Type", octetStream)
	hd.Set("Docker-Content-Digest", string(b.Digest))
	hd.Set("Etag", `"`+string(b.Digest)+`"`)
	hd.Set("Accept-Ranges", "bytes")
	// Content-addressed: the bytes behind a digest never change.
	hd.Set("Cache-Control", "max-age=31536000")
}

func (h *Handler) deleteBlob(w http.ResponseWriter, req *http.Request, rt route) error {
	if err := h.reg.DeleteBlob(req.Context(), h.repo(req, rt), rt.arg); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// blobCreated answers a finished push or mount.
func blobCreated(w http.ResponseWriter, name string, b metadata.Blob) {
	hd := w.Header()
	hd.Set("Location", "/v2/"+name+"/blobs/"+string(b.Digest))
	hd.Set("Docker-Content-Digest", string(b.Digest))
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// uploadAccepted answers a request that leaves an upload open, saying
// where to continue and how much was received.
func uploadAccepted(w http.ResponseWriter, status int, name string, u registry.Upload) {
	setUploadHeaders(w, name, u)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

func setUploadHeaders(w http.ResponseWriter, name string, u registry.Upload) {
	hd := w.Header()
	hd.Set("Location", "/v2/"+name+"/blobs/uploads/"+u.ID)
	hd.Set("Docker-Upload-UUID", u.ID)
	// An empty upload still answers 0-0, as the reference registry does and
	// clients expect.
	hd.Set("Range", "0-"+itoa(max(u.Size-1, 0)))
}

// startUpload handles POST .../blobs/uploads/: a mount, a whole blob in
// one request, or the start of an upload session.
func (h *Handler) startUpload(w http.ResponseWriter, req *http.Request, rt route) error {
	ctx := req.Context()
	key := h.repo(req, rt)
	q := req.URL.Query()
	if mount := q.Get("mount"); mount != "" {
		var from *metadata.RepoKey
		if name := q.Get("from"); name != "" {
			from = &metadata.RepoKey{Scope: key.Scope, Name: name}
		}
		b, ok, err := h.reg.MountBlob(ctx, key, from, mount)
		if err != nil {
			return err
		}
		if ok {
			blobCreated(w, rt.name, b)
			return nil
		}
		// Nothing to mount: open a session, as the spec asks.
	}
	if d := q.Get("digest"); d != "" {
		b, err := h.reg.PutBlob(ctx, key, d, req.Body, req.ContentLength)
		if err != nil {
			return err
		}
		blobCreated(w, rt.name, b)
		return nil
	}
	u, err := h.reg.StartUpload(ctx, key)
	if err != nil {
		return err
	}
	uploadAccepted(w, http.StatusAccepted, rt.name, u)
	return nil
}

func (h *Handler) uploadStatus(w http.ResponseWriter, req *http.Request, rt route) error {
	u, err := h.reg.UploadStatus(req.Context(), h.repo(req, rt), rt.arg)
	if err != nil {
		return err
	}
	uploadAccepted(w, http.StatusNoContent, rt.name, u)
	return nil
}

// chunk reads where a request's chunk starts and how long it is: from
// Content-Range when present (-1 otherwise), checked against
// Content-Length.
func chunk(req *http.Request) (start, length int64, err error) {
	start, length = -1, req.ContentLength
	if cr := req.Header.Get("Content-Range"); cr != "" {
		r, err := parseContentRange(cr)
		if err != nil {
			return 0, 0, newError(registry.CodeBlobUploadInvalid, err.Error())
		}
		if length >= 0 && length != r.length() {
			return 0, 0, newError(registry.CodeSizeInvalid, "Content-Range covers "+itoa(r.length())+" bytes but Content-Length is "+itoa(length))
		}
		start, length = r.start, r.length()
	}
	return start, length, nil
}

func (h *Handler) patchUpload(w http.ResponseWriter, req *http.Request, rt route) error {
	start, length, err := chunk(req)
	if err != nil {
		return err
	}
	u, err := h.reg.AppendUpload(req.Context(), h.repo(req, rt), rt.arg, start, length, req.Body)
	if err != nil {
		if registry.CodeOf(err) == registry.CodeRangeInvalid {
			setUploadHeaders(w, rt.name, u)
		}
		return err
	}
	uploadAccepted(w, http.StatusAccepted, rt.name, u)
	return nil
}

func (h *Handler) finishUpload(w http.ResponseWriter, req *http.Request, rt route) error {
	d := req.URL.Query().Get("digest")
	if d == "" {
		return newError(registry.CodeDigestInvalid, "the digest query parameter is required to finish an upload: PUT <location>?digest=<algorithm>:<hex>")
	}
	start, length, err := chunk(req)
	if err != nil {
		return err
	}
	var body io.Reader
	if req.ContentLength != 0 && req.Body != nil && req.Body != http.NoBody {
		body = req.Body
	}
	b, err := h.reg.FinishUpload(req.Context(), h.repo(req, rt), rt.arg, d, start, length, body)
	if registry.CodeOf(err) == registry.CodeRangeInvalid {
		if u, serr := h.reg.UploadStatus(req.Context(), h.repo(req, rt), rt.arg); serr == nil {
			setUploadHeaders(w, rt.name, u)
		}
	}
	if err != nil {
		return err
	}
	blobCreated(w, rt.name, b)
	return nil
}

func (h *Handler) cancelUpload(w http.ResponseWriter, req *http.Request, rt route) error {
	if err := h.reg.CancelUpload(req.Context(), h.repo(req, rt), rt.arg); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
