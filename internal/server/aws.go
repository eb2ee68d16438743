package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/api/ecr"
	kmsapi "github.com/ecrd/ecrd/internal/api/kms"
	"github.com/ecrd/ecrd/internal/api/sts"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/sigv4"
)

// serveAWS routes an AWS API call: JSON protocols by X-Amz-Target, query
// protocols (form bodies) by the service their signature is scoped to.
// It reads the body (bounded), authenticates, and hands the request to
// the service's adapter; errors are written in the protocol's own shape.
func (s *Server) serveAWS(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	w.Header().Set("x-amzn-RequestId", requestID)
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.serveJSON(w, r, target)
		return
	}
	s.serveQuery(w, r, requestID)
}

func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request, target string) {
	if strings.HasPrefix(target, kmsapi.TargetPrefix) {
		s.serveKMS(w, r, target)
		return
	}
	if !s.ecr.Known(target) {
		ecr.WriteError(w, "UnknownOperationException", "", http.StatusBadRequest)
		return
	}
	body, err := readBody(r, ecr.MaxBodySize)
	if err != nil {
		ecr.WriteError(w, "SerializationException", err.Error(), http.StatusBadRequest)
		return
	}
	caller, err := s.authenticate(r, body, "ecr")
	if err != nil {
		s.writeJSONAuthError(w, r, err)
		return
	}
	s.ecr.Serve(w, r, caller, target, body)
}

// serveKMS serves a KMS call: the same JSON protocol and SigV4, scoped to
// the service "kms".
func (s *Server) serveKMS(w http.ResponseWriter, r *http.Request, target string) {
	if s.kms == nil || !s.kms.Known(target) {
		ecr.WriteError(w, "UnknownOperationException", "", http.StatusBadRequest)
		return
	}
	body, err := readBody(r, kmsapi.MaxBodySize)
	if err != nil {
		ecr.WriteError(w, "SerializationException", err.Error(), http.StatusBadRequest)
		return
	}
	caller, err := s.authenticate(r, body, "kms")
	if err != nil {
		s.writeJSONAuthError(w, r, err)
		return
	}
	s.kms.Serve(w, r, caller, target, body)
}

func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, requestID string) {
	body, err := readBody(r, awsquery.MaxBodySize)
	if err != nil {
		awsquery.WriteError(w, sts.XMLNS, "ValidationError", err.Error(), http.StatusBadRequest, requestID)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Action") == "" {
		awsquery.WriteError(w, sts.XMLNS, "MissingAction", "the request must be a form with an Action", http.StatusBadRequest, requestID)
		return
	}
	// IAM and STS share the protocol: the signature's scope says which.
	service := "sts"
	p, perr := sigv4.Parse(sigv4.FromHTTP(r, nil))
	if perr == nil && p.Credential.Service == "iam" {
		service = "iam"
	}
	var caller auth.Caller
	unsigned := service == "sts" && sts.Unsigned(form.Get("Action")) && r.Header.Get("Authorization") == "" && r.URL.Query().Get("X-Amz-Signature") == ""
	if !unsigned {
		caller, err = s.authenticate(r, body, service)
		if err != nil {
			s.writeQueryAuthError(w, r, err, requestID)
			return
		}
	}
	if service == "iam" {
		s.iam.Serve(w, r, caller, form, requestID)
		return
	}
	s.sts.Serve(w, r, caller, form, requestID)
}

// authenticate verifies a request's signature, scoped to service.
func (s *Server) authenticate(r *http.Request, body []byte, service string) (auth.Caller, error) {
	parsed, err := auth.ParseAWS(r, service)
	if err != nil {
		return auth.Caller{}, err
	}
	return s.auth.AWS(r.Context(), r, parsed, body)
}

// JSON-protocol names and statuses of authentication failures.
var jsonAuthErrors = map[auth.Code]struct {
	exception string
	status    int
}{
	auth.CodeMissing:      {"MissingAuthenticationTokenException", http.StatusForbidden},
	auth.CodeMalformed:    {"IncompleteSignatureException", http.StatusBadRequest},
	auth.CodeUnknownKey:   {"UnrecognizedClientException", http.StatusBadRequest},
	auth.CodeSignature:    {"InvalidSignatureException", http.StatusBadRequest},
	auth.CodeExpired:      {"InvalidSignatureException", http.StatusBadRequest},
	auth.CodeExpiredToken: {"ExpiredTokenException", http.StatusBadRequest},
}

// Query-protocol codes and statuses of authentication failures.
var queryAuthErrors = map[auth.Code]struct {
	code   string
	status int
}{
	auth.CodeMissing:      {"MissingAuthenticationToken", http.StatusForbidden},
	auth.CodeMalformed:    {"IncompleteSignature", http.StatusBadRequest},
	auth.CodeUnknownKey:   {"InvalidClientTokenId", http.StatusForbidden},
	auth.CodeSignature:    {"SignatureDoesNotMatch", http.StatusForbidden},
	auth.CodeExpired:      {"SignatureDoesNotMatch", http.StatusForbidden},
	auth.CodeExpiredToken: {"ExpiredToken", http.StatusForbidden},
}

func (s *Server) writeJSONAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *auth.Error
	if errors.As(err, &ae) {
		if e, ok := jsonAuthErrors[ae.Code]; ok {
			ecr.WriteError(w, e.exception, ae.Message, e.status)
			return
		}
	}
	s.log.Error("authenticating an AWS API call", "path", r.URL.Path, "err", err)
	ecr.WriteError(w, "ServerException", "internal server error: the registry logged the cause", http.StatusInternalServerError)
}

func (s *Server) writeQueryAuthError(w http.ResponseWriter, r *http.Request, err error, requestID string) {
	var ae *auth.Error
	if errors.As(err, &ae) {
		if e, ok := queryAuthErrors[ae.Code]; ok {
			awsquery.WriteError(w, sts.XMLNS, e.code, ae.Message, e.status, requestID)
			return
		}
	}
	s.log.Error("authenticating an AWS API call", "path", r.URL.Path, "err", err)
	awsquery.WriteError(w, sts.XMLNS, "ServiceFailure", "internal server error: the registry logged the cause", http.StatusInternalServerError, requestID)
}

// readBody reads a request body of at most limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("the request body is %d bytes; the limit is %d", r.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the request body exceeds the limit of %d bytes", limit)
	}
	return b, nil
}

// newRequestID returns a request ID shaped like AWS's (a UUID).
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return strings.Join([]string{h[:8], h[8:12], h[12:16], h[16:20], h[20:]}, "-")
}
