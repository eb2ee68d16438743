package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/api/cloudtrail"
	cwapi "github.com/ecrd/ecrd/internal/api/cloudwatch"
	ebapi "github.com/ecrd/ecrd/internal/api/eventbridge"
	kmsapi "github.com/ecrd/ecrd/internal/api/kms"
	smapi "github.com/ecrd/ecrd/internal/api/secretsmanager"
	"github.com/ecrd/ecrd/internal/api/sts"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/reqinfo"
	"github.com/ecrd/ecrd/internal/sigv4"
)

// serveAWS routes an AWS API call: JSON protocols by X-Amz-Target, query
// protocols (form bodies) by the service their signature is scoped to.
// Credentials are found from the headers before the body is read, so a
// request from nobody costs no memory; the body is then read within the
// operation's limit, hashed as it streams in, and the signature checked.
// Errors are written in the protocol's own shape.
func (s *Server) serveAWS(w http.ResponseWriter, r *http.Request) {
	requestID := awsid.NewUUID() // as AWS's request IDs are
	w.Header().Set("x-amzn-RequestId", requestID)
	reqinfo.From(r.Context()).RequestID = requestID
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.serveJSON(w, r, target)
		return
	}
	s.serveQuery(w, r, requestID)
}

func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request, target string) {
	q := awsjson.Writer{W: w}
	service, limit, known := "ecr", int64(0), false
	if strings.HasPrefix(target, kmsapi.TargetPrefix) {
		service = "kms"
		if s.kms != nil && s.kms.Known(target) {
			limit, known = kmsapi.MaxBodySize, true
		}
	} else if strings.HasPrefix(target, ebapi.TargetPrefix) {
		service = "events"
		if s.events != nil && s.events.Known(target) {
			limit, known = ebapi.MaxBodySize, true
		}
	} else if strings.HasPrefix(target, smapi.TargetPrefix) {
		service = "secretsmanager"
		if s.secrets != nil && s.secrets.Known(target) {
			limit, known = smapi.MaxBodySize, true
		}
	} else if cloudtrail.Targets(target) {
		service = "cloudtrail"
		if s.cloudtrail != nil && s.cloudtrail.Known(target) {
			limit, known = cloudtrail.MaxBodySize, true
		}
	} else {
		limit, known = s.ecr.BodyLimit(target)
	}
	if !known {
		closeUnread(w, r)
		q.UnknownOperation(target)
		return
	}
	pending, err := s.auth.Begin(r.Context(), r, service)
	if err != nil {
		closeUnread(w, r)
		s.writeAuthError(q, r, err, jsonFault)
		return
	}
	body, hash, err := readBody(r, limit)
	if err != nil {
		closeUnread(w, r)
		q.Error("SerializationException", err.Error(), http.StatusBadRequest)
		return
	}
	caller, err := s.auth.Finish(r, pending, body, hash)
	if err != nil {
		s.writeAuthError(q, r, err, jsonFault)
		return
	}
	switch service {
	case "kms":
		s.kms.Serve(w, r, caller, target, body)
		return
	case "events":
		s.events.Serve(w, r, caller, target, body)
		return
	case "secretsmanager":
		s.secrets.Serve(w, r, caller, target, body)
		return
	case "cloudtrail":
		s.cloudtrail.Serve(w, r, caller, target, body)
		return
	}
	s.ecr.Serve(w, r, caller, target, body)
}

// unsignedQueryBodyLimit bounds the body of an unsigned query request:
// only STS's web-identity call is unsigned, and its token is at most
// 20,000 characters.
const unsignedQueryBodyLimit = 64 << 10

func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, requestID string) {
	// Errors answered before the call reaches its service are in STS's
	// namespace, whichever of the two it is for.
	q := awsquery.Writer{W: w, XMLNS: sts.XMLNS, RequestID: requestID}
	// IAM and STS share the protocol: the signature's scope says which.
	signed := r.Header.Get("Authorization") != "" || r.URL.Query().Get("X-Amz-Signature") != ""
	var (
		pending *auth.Pending
		service = "sts"
		limit   = int64(unsignedQueryBodyLimit)
	)
	if signed {
		if p, err := sigv4.Parse(sigv4.FromHTTP(r, nil)); err == nil && (p.Credential.Service == "iam" || p.Credential.Service == "monitoring") {
			service = p.Credential.Service
		}
		var err error
		if pending, err = s.auth.Begin(r.Context(), r, service); err != nil {
			closeUnread(w, r)
			s.writeAuthError(q, r, err, queryFault)
			return
		}
		limit = awsquery.MaxBodySize
	}
	body, hash, err := readBody(r, limit)
	if err != nil {
		closeUnread(w, r)
		q.Error("ValidationError", err.Error(), http.StatusBadRequest)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Action") == "" {
		q.Error("MissingAction", "the request must be a form with an Action", http.StatusBadRequest)
		return
	}
	var caller auth.Caller
	if !signed {
		if !sts.Unsigned(form.Get("Action")) {
			_, err := s.auth.Begin(r.Context(), r, service) // says what is missing
			s.writeAuthError(q, r, err, queryFault)
			return
		}
	} else if caller, err = s.auth.Finish(r, pending, body, hash); err != nil {
		s.writeAuthError(q, r, err, queryFault)
		return
	}
	switch service {
	case "iam":
		s.iam.Serve(w, r, caller, form, requestID)
		return
	case "monitoring":
		if s.cw == nil {
			awsquery.Writer{W: w, XMLNS: cwapi.XMLNS, RequestID: requestID}.Error("InvalidAction",
				"Could not find operation "+form.Get("Action")+" for version "+form.Get("Version"), http.StatusBadRequest)
			return
		}
		s.cw.ServeQuery(w, r, caller, form, requestID)
		return
	}
	s.sts.Serve(w, r, caller, form, requestID)
}

// closeUnread makes the connection close after an answer given without
// reading the request's body, so that net/http does not wait to drain it.
func closeUnread(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
}

// errorWriter writes an error in a call's protocol: awsjson.Writer or
// awsquery.Writer.
type errorWriter interface {
	// AuthError answers a failed authentication, and is false for one
	// the protocol has no name for.
	AuthError(e *auth.Error) bool
	Error(code, message string, status int)
}

// The codes of a server fault in each protocol.
const (
	jsonFault  = "ServerException"
	queryFault = "ServiceFailure"
)

// writeAuthError answers a call whose authentication failed, or, when
// authenticating it failed for another reason, logs the cause and
// answers fault.
func (s *Server) writeAuthError(q errorWriter, r *http.Request, err error, fault string) {
	var ae *auth.Error
	if errors.As(err, &ae) && q.AuthError(ae) {
		return
	}
	s.log.Error("authenticating an AWS API call", "path", r.URL.Path, "err", err)
	q.Error(fault, "internal server error: the registry logged the cause", http.StatusInternalServerError)
}

// readBody reads a request body of at most limit bytes and returns it
// with its hex SHA-256, computed as it streams in.
func readBody(r *http.Request, limit int64) ([]byte, string, error) {
	if r.ContentLength > limit {
		return nil, "", fmt.Errorf("the request body is %d bytes; the limit is %d", r.ContentLength, limit)
	}
	h := sha256.New()
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := io.Copy(io.MultiWriter(&buf, h), io.LimitReader(r.Body, limit+1))
	if err != nil {
		if IsSlowBody(err) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("reading the request body: %w", err)
	}
	if n > limit {
		return nil, "", fmt.Errorf("the request body exceeds the limit of %d bytes", limit)
	}
	return buf.Bytes(), hex.EncodeToString(h.Sum(nil)), nil
}

// serveRPC routes a Smithy RPC v2 CBOR call (POST
// /service/NAME/operation/OP): CloudWatch's, as aws-sdk-go-v2 sends
// them. As serveAWS, it finds the caller before reading the body.
func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	requestID := awsid.NewUUID()
	w.Header().Set("x-amzn-RequestId", requestID)
	reqinfo.From(r.Context()).RequestID = requestID
	op := r.PathValue("operation")
	if r.PathValue("service") != cwapi.ServiceID || !s.cw.Known(op) {
		closeUnread(w, r)
		cwapi.WriteCBORError(w, "UnknownOperationException", "", "Unknown operation "+r.PathValue("service")+"."+op, http.StatusNotFound)
		return
	}
	q := cborErrors{w}
	pending, err := s.auth.Begin(r.Context(), r, "monitoring")
	if err != nil {
		closeUnread(w, r)
		s.writeAuthError(q, r, err, "InternalServiceFault")
		return
	}
	body, hash, err := readBody(r, cwapi.MaxBodySize)
	if err != nil {
		closeUnread(w, r)
		q.Error("SerializationException", err.Error(), http.StatusBadRequest)
		return
	}
	caller, err := s.auth.Finish(r, pending, body, hash)
	if err != nil {
		s.writeAuthError(q, r, err, "InternalServiceFault")
		return
	}
	s.cw.ServeCBOR(w, r, caller, op, body)
}

// cborErrors writes the errors answered before a CBOR call reaches its
// service: authentication's, with the query protocol's codes.
type cborErrors struct{ w http.ResponseWriter }

func (c cborErrors) AuthError(e *auth.Error) bool {
	code, status, ok := awsquery.AuthCode(e)
	if ok {
		cwapi.WriteCBORError(c.w, code, code, e.Message, status)
	}
	return ok
}

func (c cborErrors) Error(code, message string, status int) {
	cwapi.WriteCBORError(c.w, code, code, message, status)
}
