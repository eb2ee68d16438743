package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// wireError is how one registry error code appears on the wire.
type wireError struct {
	code   string
	status int
}

// wireErrors is the one table from domain codes to distribution-spec error
// codes and HTTP statuses.
var wireErrors = map[registry.Code]wireError{
	registry.CodeInternal:             {"UNKNOWN", http.StatusInternalServerError},
	registry.CodeNameInvalid:          {"NAME_INVALID", http.StatusBadRequest},
	registry.CodeNameUnknown:          {"NAME_UNKNOWN", http.StatusNotFound},
	registry.CodeTagInvalid:           {"TAG_INVALID", http.StatusBadRequest},
	registry.CodeDigestInvalid:        {"DIGEST_INVALID", http.StatusBadRequest},
	registry.CodeBlobUnknown:          {"BLOB_UNKNOWN", http.StatusNotFound},
	registry.CodeBlobUploadUnknown:    {"BLOB_UPLOAD_UNKNOWN", http.StatusNotFound},
	registry.CodeBlobUploadInvalid:    {"BLOB_UPLOAD_INVALID", http.StatusBadRequest},
	registry.CodeRangeInvalid:         {"RANGE_INVALID", http.StatusRequestedRangeNotSatisfiable},
	registry.CodeSizeInvalid:          {"SIZE_INVALID", http.StatusBadRequest},
	registry.CodeManifestInvalid:      {"MANIFEST_INVALID", http.StatusBadRequest},
	registry.CodeManifestUnknown:      {"MANIFEST_UNKNOWN", http.StatusNotFound},
	registry.CodeManifestBlobUnknown:  {"MANIFEST_BLOB_UNKNOWN", http.StatusBadRequest},
	registry.CodeManifestChildUnknown: {"MANIFEST_UNKNOWN", http.StatusBadRequest},
	registry.CodeManifestTooLarge:     {"MANIFEST_INVALID", http.StatusRequestEntityTooLarge},
	registry.CodeManifestReferenced:   {"DENIED", http.StatusConflict},
	registry.CodeUnsupported:          {"UNSUPPORTED", http.StatusMethodNotAllowed},
	registry.CodePaginationInvalid:    {"PAGINATION_NUMBER_INVALID", http.StatusBadRequest},
	registry.CodeUnauthenticated:      {"UNAUTHORIZED", http.StatusUnauthorized},
	registry.CodeAccessDenied:         {"DENIED", http.StatusForbidden},
	registry.CodeTagImmutable:         {"TAG_INVALID", http.StatusBadRequest},
	// An archived image: clients print "denied: <message>", and the message
	// says how to restore it.
	registry.CodeImageArchived: {"DENIED", http.StatusForbidden},
	// A KMS repository whose key is disabled or gone: clients print
	// "denied: KMS key ... is disabled: ...".
	registry.CodeKMS: {"DENIED", http.StatusForbidden},
	// The spec has no code for a full disk; distribution's UNKNOWN with
	// 507 says it is the server's state, and the message says what to do.
	registry.CodeStorageFull: {"UNKNOWN", http.StatusInsufficientStorage},
	// A pull-through cache whose upstream cannot give what is not cached
	// (429, 5xx, unreachable, credentials refused): a gateway's failure,
	// not a missing manifest, so that clients and proxies do not take it
	// for an answer; the message carries the upstream's reason. What the
	// upstream does not have is MANIFEST_UNKNOWN or BLOB_UNKNOWN.
	registry.CodeUpstreamImage: {"UNKNOWN", http.StatusBadGateway},
	registry.CodeUpstreamLayer: {"UNKNOWN", http.StatusBadGateway},
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError answers a request with the wire form of err. Errors that are
// not registry errors are server failures: they are logged in full and the
// client gets a short message. A 401 carries the Basic challenge.
func (h *Handler) writeError(w http.ResponseWriter, req *http.Request, err error) {
	if clientGone(w, req, err) {
		return
	}
	code := registry.CodeOf(err)
	if code == registry.CodeUnauthenticated {
		w.Header().Set("WWW-Authenticate", h.challenge)
	}
	log := h.log
	we, ok := wireErrors[code]
	if !ok {
		we = wireErrors[registry.CodeInternal]
	}
	msg := "internal server error: the registry logged the cause"
	var de registry.DomainError
	if errors.As(err, &de) {
		msg = message(de)
	} else {
		log.Error("request failed", "method", req.Method, "path", req.URL.Path, "err", err)
	}
	info := reqinfo.From(req.Context())
	info.ErrorCode, info.ErrorMessage = we.code, msg
	writeJSONStatus(w, req, we.status, errorBody{Errors: []errorEntry{{Code: we.code, Message: msg}}})
}

// message words one of the core's errors for /v2 clients: the core's own
// words, which name what is wrong and what to do, except for an
// immutable tag, whose sentence docker and crane users know from ECR
// registries.
func message(err registry.DomainError) string {
	if e, ok := err.(*registry.ExistsError); ok && e.Kind == registry.KindImageTag {
		return fmt.Sprintf("The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the tag is immutable.", e.Image.Tag, e.Key.Name)
	}
	return err.Error()
}

// writeJSONStatus writes v as JSON with a status. HEAD answers carry the
// headers only.
func writeJSONStatus(w http.ResponseWriter, req *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", itoa(int64(len(b))))
	w.WriteHeader(status)
	if req.Method != http.MethodHead {
		w.Write(b)
	}
}

// newError builds an adapter-level error (bad query parameters, methods).
func newError(code registry.Code, msg string) error {
	return &registry.Error{Code: code, Message: msg}
}

// statusClientClosed is the status logged for a request whose client went
// away before the answer (nginx's 499): not a server failure.
const statusClientClosed = 499

// clientGone reports, and answers, a request that failed because its
// client cancelled it (crane, for one, cancels its other uploads when one
// fails).
func clientGone(w http.ResponseWriter, req *http.Request, err error) bool {
	if req.Context().Err() == nil || !errors.Is(err, context.Canceled) {
		return false
	}
	w.WriteHeader(statusClientClosed)
	return true
}
