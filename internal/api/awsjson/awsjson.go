// Package awsjson speaks the AWS JSON 1.1 protocol that ECR and KMS share:
// a POST whose X-Amz-Target names the operation, a JSON body read strictly
// into the operation's input (Decode), a JSON answer with timestamps in
// epoch seconds (Timestamp), and errors as {"__type":..., "message":...}
// with the exception's name also in X-Amzn-ErrorType. A Service holds a
// service's operations by target and says how its own errors read; each
// adapter (internal/api/ecr, internal/api/kms) keeps its model's shapes,
// validation and exception names.
package awsjson

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"strings"

	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// ContentType is the media type of AWS JSON 1.1 requests and answers.
const ContentType = "application/x-amz-json-1.1"

// Op runs one operation on a request body for an authenticated caller and
// returns the output to encode.
type Op func(ctx context.Context, c auth.Caller, body []byte) (any, error)

// Operation makes an Op from a typed operation: decode the body into a new
// I, check it against the service's model (when check is not nil), run fn.
func Operation[I, O any](fn func(context.Context, auth.Caller, *I) (*O, error), check func(*I) error) Op {
	return func(ctx context.Context, c auth.Caller, body []byte) (any, error) {
		in := new(I)
		if err := Decode(body, in); err != nil {
			return nil, err
		}
		reqinfo.From(ctx).Params = Params(in)
		if check != nil {
			if err := check(in); err != nil {
				return nil, err
			}
		}
		return fn(ctx, c, in)
	}
}

// Operations are a service's operations under one X-Amz-Target prefix
// ("TrentService."), by name.
type Operations struct {
	Prefix string
	Ops    map[string]Op
}

// Error is an exception as a service answers it.
type Error struct {
	Type    string // the exception's name, e.g. RepositoryNotFoundException
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Service is one AWS JSON 1.1 service.
type Service struct {
	// Name names the service in log lines ("ECR").
	Name string
	// Targets are the service's operations; no prefix is another's prefix.
	Targets []Operations
	// Errors returns the exception for one of the service's own errors,
	// or nil for any other error, which is a server fault. A 5xx it
	// returns is a state the service is in (its storage is full), not a
	// fault: the request log shows it as a warning.
	Errors func(error) *Error
	// Fault is the exception (status 500) of a server fault, whose cause
	// is logged, not answered.
	Fault Error
	// EmptyLists writes a nil list member of an output that has no
	// omitempty as [] rather than null (presentLists).
	EmptyLists bool
	// Prepare, if set, adds what the service reads from a request's
	// headers to its context; its error is the answer.
	Prepare func(ctx context.Context, r *http.Request) (context.Context, error)
	Log     *slog.Logger
	// EventSource names the service in the request's info
	// (ecr.amazonaws.com); Describe, if set, adds what the service knows
	// of a call from its parameters (the registry, repository and
	// resources it addressed) once it ran.
	EventSource string
	Describe    func(info *reqinfo.Info, c auth.Caller)
}

// Lookup returns the operation an X-Amz-Target names, if the service has
// it.
func (s *Service) Lookup(target string) (name string, op Op) {
	for _, t := range s.Targets {
		if name, ok := strings.CutPrefix(target, t.Prefix); ok {
			return name, t.Ops[name]
		}
	}
	return "", nil
}

// Known reports whether the X-Amz-Target names one of the service's
// operations.
func (s *Service) Known(target string) bool {
	_, run := s.Lookup(target)
	return run != nil
}

// Serve runs the operation an X-Amz-Target names for an authenticated
// caller and writes its answer.
func (s *Service) Serve(w http.ResponseWriter, r *http.Request, c auth.Caller, target string, body []byte) {
	name, run := s.Lookup(target)
	if run == nil {
		Writer{w}.UnknownOperation(target)
		return
	}
	info := reqinfo.From(r.Context())
	info.Service, info.Operation, info.ReadOnly, info.Region = s.EventSource, name, reqinfo.ReadOnlyOperation(name), c.Region
	if info.Account == "" {
		info.Account = c.Principal.Account
	}
	if s.Describe != nil {
		defer s.Describe(info, c)
	}
	ctx := identity.NewContext(identity.WithOrigin(r.Context(), identity.OriginOf(r)), c.Principal)
	if s.Prepare != nil {
		var err error
		if ctx, err = s.Prepare(ctx, r); err != nil {
			s.writeError(w, r, name, err)
			return
		}
	}
	out, err := run(ctx, c, body)
	if err != nil {
		s.writeError(w, r, name, err)
		return
	}
	b, err := s.Encode(out)
	if err != nil {
		s.writeError(w, r, name, err)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// Encode writes an operation's output as its answer's body.
func (s *Service) Encode(out any) ([]byte, error) {
	if s.EmptyLists {
		presentLists(out)
	}
	return json.Marshal(out)
}

// writeError answers with the exception for err: SerializationException
// for a body the operation cannot read, the service's own exception for
// its errors, and the service's fault (500, the cause logged) for the
// rest.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, op string, err error) {
	var (
		q  = Writer{w}
		se *SerializationError
		e  *Error
	)
	if s.Errors != nil {
		e = s.Errors(err)
	}
	info := reqinfo.From(r.Context())
	switch {
	case errors.As(err, &se):
		info.ErrorCode, info.ErrorMessage = "SerializationException", se.Message
		q.Error("SerializationException", se.Message, http.StatusBadRequest)
	case e != nil:
		info.ErrorCode, info.ErrorMessage = e.Type, e.Message
		if e.Status >= 500 {
			if m, ok := w.(interface{ ExpectedFailure() }); ok {
				m.ExpectedFailure()
			}
		}
		q.Error(e.Type, e.Message, e.Status)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		w.WriteHeader(499) // the client went away: not a server failure
	default:
		s.Log.Error(s.Name+" operation failed", "operation", op, "err", err)
		info.ErrorCode, info.ErrorMessage = s.Fault.Type, s.Fault.Message
		q.Error(s.Fault.Type, s.Fault.Message, http.StatusInternalServerError)
	}
}

// Writer writes the errors of one request.
type Writer struct {
	W http.ResponseWriter
}

// Error writes an AWS JSON 1.1 error: the exception name in __type and in
// X-Amzn-ErrorType (where the SDKs look first), and its message.
func (q Writer) Error(exception, message string, status int) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message,omitempty"`
	}{exception, message})
	q.W.Header().Set("Content-Type", ContentType)
	q.W.Header().Set("X-Amzn-ErrorType", exception)
	q.W.WriteHeader(status)
	q.W.Write(b)
}

// UnknownOperation answers an X-Amz-Target that names no operation of the
// service.
func (q Writer) UnknownOperation(target string) {
	if len(target) > 128 {
		target = target[:128] + "..."
	}
	q.Error("UnknownOperationException", "The operation "+strings.ToValidUTF8(target, "?")+" is not known to this service.", http.StatusBadRequest)
}

// authErrors are the exceptions and statuses of authentication failures,
// the same for every AWS JSON service.
var authErrors = map[auth.Code]Error{
	auth.CodeMissing:      {Type: "MissingAuthenticationTokenException", Status: http.StatusForbidden},
	auth.CodeMalformed:    {Type: "IncompleteSignatureException", Status: http.StatusBadRequest},
	auth.CodeUnknownKey:   {Type: "UnrecognizedClientException", Status: http.StatusBadRequest},
	auth.CodeSignature:    {Type: "InvalidSignatureException", Status: http.StatusBadRequest},
	auth.CodeExpired:      {Type: "InvalidSignatureException", Status: http.StatusBadRequest},
	auth.CodeExpiredToken: {Type: "ExpiredTokenException", Status: http.StatusBadRequest},
}

// AuthError answers a request whose authentication failed, and reports
// whether the protocol names the failure (false: left for the caller to
// answer as a fault).
func (q Writer) AuthError(e *auth.Error) bool {
	a, ok := authErrors[e.Code]
	if ok {
		q.Error(a.Type, e.Message, a.Status)
	}
	return ok
}

// presentLists makes every list member of a response that is not
// omitempty an empty list rather than null: ECR answers
// {"repositories":[]}, and the AWS CLI v1's paginators fail on an
// absent or null list. Only the top level of a response holds such
// members.
func presentLists(out any) {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	v = v.Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Slice && f.IsNil() && !strings.Contains(t.Field(i).Tag.Get("json"), ",omitempty") {
			f.Set(reflect.MakeSlice(f.Type(), 0, 0))
		}
	}
}

// redacted are the members of an input that a record of the call leaves
// out: secrets (plaintext, tokens), and content too large to keep
// (a layer part, a manifest: the image's own record names it).
var redacted = map[string]bool{
	"Plaintext": true, "CiphertextBlob": true, "layerPartBlob": true, "imageManifest": true,
	"SecretString": true, "SecretBinary": true, // Secrets Manager's values
}

// Params are an operation's input as its record keeps it: its members
// by their wire names, the absent and the redacted left out. They share
// the input's values, which must not change after.
func Params(in any) map[string]any {
	v := reflect.ValueOf(in)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	t := v.Type()
	out := make(map[string]any, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || redacted[name] || v.Field(i).IsZero() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = v.Field(i).Interface()
	}
	return out
}
