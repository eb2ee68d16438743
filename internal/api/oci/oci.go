// Package oci serves the OCI Distribution Spec v1.1 (/v2/...) over the
// registry core. It is an adapter: it parses requests, calls the core and
// writes answers; rules live in the core.
package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/manifest"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/upstream"
)

// Authenticate says which registry (account and region) a request
// addresses and who makes it (nil: anonymous), or why its credentials are
// refused.
type Authenticate func(*http.Request) (metadata.Scope, *identity.Principal, error)

type scopeKey struct{}

func scopeOf(req *http.Request) metadata.Scope {
	s, _ := req.Context().Value(scopeKey{}).(metadata.Scope)
	return s
}

// Handler serves /v2.
type Handler struct {
	reg          *registry.Registry
	authenticate Authenticate
	// challenge is the WWW-Authenticate value of a 401.
	challenge string
	log       *slog.Logger
	routes    [routeReferrers + 1]methodTable
}

// methodTable maps HTTP methods to handlers for one endpoint.
type methodTable map[string]handlerFunc

type handlerFunc func(http.ResponseWriter, *http.Request, route) error

// New returns a Handler over the registry core. Each request is first
// authenticated; the principal goes into its context for the core to
// authorize. realm names the registry in the Basic challenge of a 401, as
// ECR's does.
func New(reg *registry.Registry, log *slog.Logger, authenticate Authenticate, realm string) *Handler {
	h := &Handler{reg: reg, log: log, authenticate: authenticate,
		challenge: fmt.Sprintf(`Basic realm=%q,service="ecr.amazonaws.com"`, realm)}
	h.routes = [...]methodTable{
		routeBase:      {"GET": h.base, "HEAD": h.base},
		routeCatalog:   {"GET": h.catalog},
		routeTags:      {"GET": h.tags},
		routeManifest:  {"GET": h.getManifest, "HEAD": h.getManifest, "PUT": h.putManifest, "DELETE": h.deleteManifest},
		routeBlob:      {"GET": h.getBlob, "HEAD": h.getBlob, "DELETE": h.deleteBlob},
		routeUploads:   {"POST": h.startUpload},
		routeUpload:    {"GET": h.uploadStatus, "PATCH": h.patchUpload, "PUT": h.finishUpload, "DELETE": h.cancelUpload},
		routeReferrers: {"GET": h.referrers},
	}
	return h
}

const (
	mediaTypeOCIIndex = "application/vnd.oci.image.index.v1+json"
	octetStream       = "application/octet-stream"
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt := parseRoute(req.URL.Path)
	scope, principal, err := h.authenticate(req)
	noteRequest(req, rt, scope, principal)
	if err != nil {
		h.writeError(w, req, &registry.Error{Code: registry.CodeUnauthenticated, Message: err.Error()})
		return
	}
	ctx := context.WithValue(identity.WithOrigin(req.Context(), identity.OriginOf(req)), scopeKey{}, scope)
	if principal != nil {
		ctx = identity.NewContext(ctx, *principal)
	}
	if v := req.Header.Get(registry.OriginHeader); v != "" {
		// Another ecrd replicating into this one (registry/replicate.go):
		// its writes are authorized as ecr:ReplicateImage.
		o, err := registry.ParseOrigin(v)
		if err != nil {
			h.writeError(w, req, &registry.Error{Code: registry.CodeAccessDenied, Message: err.Error()})
			return
		}
		ctx = registry.WithReplicationOrigin(ctx, o)
	}
	if req.Header.Get(upstream.FetchHeader) != "" {
		// Another pull-through cache of this deployment fetching: no
		// upstream behind this registry for it (it can only narrow what
		// a request gets, so anyone may send it).
		ctx = registry.AsCacheFetch(ctx)
	}
	req = req.WithContext(ctx)
	if rt.kind == routeNone {
		err = newError(registry.CodeNameInvalid, "no such endpoint: the path must be /v2/, /v2/_catalog or /v2/<name>/(manifests|blobs|tags|referrers)/...")
	} else if fn, ok := h.routes[rt.kind][req.Method]; ok {
		err = fn(w, req, rt)
	} else {
		err = h.methodNotAllowed(w, req, h.routes[rt.kind])
	}
	if err != nil {
		h.writeError(w, req, err)
	}
}

// methodNotAllowed answers 405 with the Allow header.
func (h *Handler) methodNotAllowed(w http.ResponseWriter, req *http.Request, fns methodTable) error {
	allow := make([]string, 0, len(fns))
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		if fns[m] != nil {
			allow = append(allow, m)
		}
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return newError(registry.CodeUnsupported, req.Method+" is not supported on this endpoint; use "+strings.Join(allow, ", "))
}

func (h *Handler) repo(req *http.Request, rt route) metadata.RepoKey {
	return metadata.RepoKey{Scope: scopeOf(req), Name: rt.name}
}

// base answers the version check, which clients also use to test their
// login: without credentials it is a 401 with the challenge, as ECR's.
func (h *Handler) base(w http.ResponseWriter, req *http.Request, _ route) error {
	if _, ok := identity.FromContext(req.Context()); !ok {
		return newError(registry.CodeUnauthenticated, "authentication required: log in with `aws ecr get-login-password | docker login --username AWS --password-stdin <registry>`")
	}
	writeJSONStatus(w, req, http.StatusOK, struct{}{})
	return nil
}

// pagination reads the n and last query parameters.
func pagination(req *http.Request) (n int, last string, err error) {
	q := req.URL.Query()
	last = q.Get("last")
	if s := q.Get("n"); s != "" {
		n, err = strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, "", newError(registry.CodePaginationInvalid, "n must be a non-negative integer")
		}
		if n == 0 {
			return 0, last, nil
		}
	} else {
		n = registry.MaxPageSize
	}
	return n, last, nil
}

// setNextLink adds the Link header of the next page.
func setNextLink(w http.ResponseWriter, path string, n int, last string) {
	q := url.Values{}
	q.Set("n", strconv.Itoa(n))
	q.Set("last", last)
	w.Header().Set("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
}

func (h *Handler) catalog(w http.ResponseWriter, req *http.Request, _ route) error {
	n, last, err := pagination(req)
	if err != nil {
		return err
	}
	names := []string{}
	if n > 0 {
		var more bool
		if names, more, err = h.reg.Repositories(req.Context(), scopeOf(req), last, n); err != nil {
			return err
		}
		if more {
			setNextLink(w, req.URL.Path, n, names[len(names)-1])
		}
	}
	writeJSONStatus(w, req, http.StatusOK, struct {
		Repositories []string `json:"repositories"`
	}{names})
	return nil
}

func (h *Handler) tags(w http.ResponseWriter, req *http.Request, rt route) error {
	n, last, err := pagination(req)
	if err != nil {
		return err
	}
	key := h.repo(req, rt)
	tags, more, err := h.reg.Tags(req.Context(), key, last, max(n, 1))
	if err != nil {
		return err
	}
	if n == 0 {
		tags, more = []string{}, false
	}
	if more {
		setNextLink(w, req.URL.Path, n, tags[len(tags)-1])
	}
	writeJSONStatus(w, req, http.StatusOK, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.name, tags})
	return nil
}

func (h *Handler) getManifest(w http.ResponseWriter, req *http.Request, rt route) error {
	img, err := h.reg.Manifest(req.Context(), h.repo(req, rt), rt.arg, req.Method == http.MethodGet)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", img.MediaType)
	hd.Set("Content-Length", itoa(img.Size))
	hd.Set("Docker-Content-Digest", string(img.Digest))
	hd.Set("Etag", `"`+string(img.Digest)+`"`)
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodGet {
		w.Write(img.Content)
	}
	return nil
}

func (h *Handler) putManifest(w http.ResponseWriter, req *http.Request, rt route) error {
	if req.ContentLength > manifest.MaxSize {
		return newError(registry.CodeManifestTooLarge, "the manifest is "+itoa(req.ContentLength)+" bytes; the limit is "+itoa(manifest.MaxSize))
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, manifest.MaxSize+1))
	if err != nil {
		return newError(registry.CodeManifestInvalid, "reading the manifest failed: "+err.Error())
	}
	key := h.repo(req, rt)
	tags := req.URL.Query()["tag"] // OCI 1.1+: extra tags on a push by digest
	img, err := h.reg.PutManifest(req.Context(), key, rt.arg, tags, req.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	hd := w.Header()
	for _, t := range tags {
		hd.Add("OCI-Tag", t)
	}
	hd.Set("Location", "/v2/"+rt.name+"/manifests/"+string(img.Digest))
	hd.Set("Docker-Content-Digest", string(img.Digest))
	if img.Subject != "" {
		hd.Set("OCI-Subject", string(img.Subject))
	}
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (h *Handler) deleteManifest(w http.ResponseWriter, req *http.Request, rt route) error {
	if err := h.reg.DeleteManifest(req.Context(), h.repo(req, rt), rt.arg); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (h *Handler) referrers(w http.ResponseWriter, req *http.Request, rt route) error {
	artifactType := req.URL.Query().Get("artifactType")
	imgs, err := h.reg.Referrers(req.Context(), h.repo(req, rt), rt.arg, artifactType)
	if err != nil {
		return err
	}
	type descriptor struct {
		MediaType    string            `json:"mediaType"`
		Digest       string            `json:"digest"`
		Size         int64             `json:"size"`
		ArtifactType string            `json:"artifactType,omitempty"`
		Annotations  map[string]string `json:"annotations,omitempty"`
	}
	index := struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}{SchemaVersion: 2, MediaType: mediaTypeOCIIndex, Manifests: make([]descriptor, 0, len(imgs))}
	for _, img := range imgs {
		index.Manifests = append(index.Manifests, descriptor{
			MediaType: img.MediaType, Digest: string(img.Digest), Size: img.Size,
			ArtifactType: img.ArtifactType, Annotations: img.Annotations,
		})
	}
	b, err := json.Marshal(index)
	if err != nil {
		return err
	}
	hd := w.Header()
	if artifactType != "" {
		hd.Set("OCI-Filters-Applied", "artifactType")
	}
	hd.Set("Content-Type", mediaTypeOCIIndex)
	hd.Set("Content-Length", itoa(int64(len(b))))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
