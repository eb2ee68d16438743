// Package secretsmanager serves a slice of the AWS Secrets Manager API
// (AWS JSON 1.1, X-Amz-Target secretsmanager.<Op>, SigV4 service
// "secretsmanager") over the domain core (internal/secrets). It is an
// adapter: it decodes a request, checks the members the model requires,
// calls the core, and encodes the answer or the error Secrets Manager
// gives (every exception with status 400).
package secretsmanager

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/auth"
	core "github.com/ecrd/ecrd/internal/secrets"
)

// TargetPrefix starts the X-Amz-Target of every Secrets Manager
// operation.
const TargetPrefix = "secretsmanager."

// MaxBodySize bounds a request body: a value is at most 64 KB, base64 or
// JSON-escaped, and a resource policy 20 KB.
const MaxBodySize = 1 << 20

// Handler serves the Secrets Manager API.
type Handler struct {
	svc *core.Service
	api awsjson.Service
}

func handle[I any, O any](fn func(context.Context, core.Scope, *I) (*O, error)) awsjson.Op {
	return awsjson.Operation(func(ctx context.Context, c auth.Caller, in *I) (*O, error) {
		return fn(ctx, core.Scope{Account: c.Principal.Account, Region: c.Region}, in)
	}, nil)
}

// New returns the Secrets Manager API handler.
func New(svc *core.Service, log *slog.Logger) *Handler {
	h := &Handler{svc: svc}
	ops := map[string]awsjson.Op{
		"CreateSecret":             handle(h.createSecret),
		"DescribeSecret":           handle(h.describeSecret),
		"GetSecretValue":           handle(h.getSecretValue),
		"PutSecretValue":           handle(h.putSecretValue),
		"UpdateSecret":             handle(h.updateSecret),
		"DeleteSecret":             handle(h.deleteSecret),
		"RestoreSecret":            handle(h.restoreSecret),
		"ListSecrets":              handle(h.listSecrets),
		"ListSecretVersionIds":     handle(h.listSecretVersionIds),
		"UpdateSecretVersionStage": handle(h.updateSecretVersionStage),
		"TagResource":              handle(h.tagResource),
		"UntagResource":            handle(h.untagResource),
		"GetResourcePolicy":        handle(h.getResourcePolicy),
		"PutResourcePolicy":        handle(h.putResourcePolicy),
		"DeleteResourcePolicy":     handle(h.deleteResourcePolicy),
	}
	h.api = awsjson.Service{
		Name:        "SecretsManager",
		EventSource: "secretsmanager.amazonaws.com",
		Targets:     []awsjson.Operations{{Prefix: TargetPrefix, Ops: ops}},
		Errors:      awsjson.ClientFault,
		Fault:       awsjson.Error{Type: "InternalServiceError", Message: "internal server error: ecrd logged the cause"},
		Log:         log,
	}
	return h
}

// Known reports whether the X-Amz-Target names an operation ecrd serves.
func (h *Handler) Known(target string) bool {
	return h.api.Known(target)
}

// Serve runs the operation an X-Amz-Target names for an authenticated
// caller, in its account and the region it signed for.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, c auth.Caller, target string, body []byte) {
	h.api.Serve(w, r, c, target, body)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func ts(t time.Time) *awsjson.Timestamp { return awsjson.NewTimestamp(t) }

func intp(p *int32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

func sortedStages(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
