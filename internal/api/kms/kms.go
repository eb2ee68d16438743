// Package kms serves the AWS Key Management Service API (AWS JSON 1.1,
// X-Amz-Target TrentService.<Op>) over the KMS domain core
// (internal/kms). It is an adapter: it decodes a request, checks that the
// members the model requires are there, calls the core, and encodes the
// answer or the error KMS gives.
package kms

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/awserr"
	core "github.com/ecrd/ecrd/internal/kms"
)

// TargetPrefix starts the X-Amz-Target of every KMS operation.
const TargetPrefix = "TrentService."

// MaxBodySize bounds a request body. KMS requests are small: plaintexts
// are at most 4 KiB, ciphertexts 6 KiB and key policies 32 KiB, all
// base64- or JSON-encoded; 1 MiB leaves room for tags and contexts.
const MaxBodySize = 1 << 20

// Handler serves the KMS API.
type Handler struct {
	svc *core.Service
	ops map[string]awsjson.Op
	api awsjson.Service
}

// handle makes an operation from a typed one: decode, then run in the
// caller's account and the region it signed for. The operations check the
// members the model requires themselves (required), in KMS's words.
func handle[I any, O any](fn func(context.Context, core.Scope, *I) (*O, error)) awsjson.Op {
	return awsjson.Operation(func(ctx context.Context, c auth.Caller, in *I) (*O, error) {
		return fn(ctx, core.Scope{Account: c.Principal.Account, Region: c.Region}, in)
	}, nil)
}

// New returns the KMS API handler.
func New(svc *core.Service, log *slog.Logger) *Handler {
	h := &Handler{svc: svc}
	h.ops = map[string]awsjson.Op{
		"CreateKey":                       handle(h.createKey),
		"DescribeKey":                     handle(h.describeKey),
		"ListKeys":                        handle(h.listKeys),
		"GetKeyPolicy":                    handle(h.getKeyPolicy),
		"PutKeyPolicy":                    handle(h.putKeyPolicy),
		"ListKeyPolicies":                 handle(h.listKeyPolicies),
		"EnableKeyRotation":               handle(h.enableKeyRotation),
		"DisableKeyRotation":              handle(h.disableKeyRotation),
		"GetKeyRotationStatus":            handle(h.getKeyRotationStatus),
		"RotateKeyOnDemand":               handle(h.rotateKeyOnDemand),
		"ScheduleKeyDeletion":             handle(h.scheduleKeyDeletion),
		"CancelKeyDeletion":               handle(h.cancelKeyDeletion),
		"EnableKey":                       handle(h.enableKey),
		"DisableKey":                      handle(h.disableKey),
		"UpdateKeyDescription":            handle(h.updateKeyDescription),
		"TagResource":                     handle(h.tagResource),
		"UntagResource":                   handle(h.untagResource),
		"ListResourceTags":                handle(h.listResourceTags),
		"CreateAlias":                     handle(h.createAlias),
		"ListAliases":                     handle(h.listAliases),
		"UpdateAlias":                     handle(h.updateAlias),
		"DeleteAlias":                     handle(h.deleteAlias),
		"GenerateDataKey":                 handle(h.generateDataKey),
		"GenerateDataKeyWithoutPlaintext": handle(h.generateDataKeyWithoutPlaintext),
		"Encrypt":                         handle(h.encrypt),
		"Decrypt":                         handle(h.decrypt),
		"CreateGrant":                     handle(h.createGrant),
		"ListGrants":                      handle(h.listGrants),
		"ListRetirableGrants":             handle(h.listRetirableGrants),
		"RetireGrant":                     handle(h.retireGrant),
		"RevokeGrant":                     handle(h.revokeGrant),
		"Sign":                            handle(h.sign),
		"Verify":                          handle(h.verify),
		"GetPublicKey":                    handle(h.getPublicKey),
	}
	h.api = awsjson.Service{
		Name:    "KMS",
		Targets: []awsjson.Operations{{Prefix: TargetPrefix, Ops: h.ops}},
		Errors:  exception,
		Fault:   awsjson.Error{Type: "KMSInternalException", Message: "internal server error: ecrd logged the cause"},
		Log:     log,

		EventSource: "kms.amazonaws.com",
	}
	return h
}

// Known reports whether the X-Amz-Target names an operation ecrd serves.
func (h *Handler) Known(target string) bool {
	return h.api.Known(target)
}

// Serve runs the operation an X-Amz-Target names for an authenticated
// caller, in its account and the region it signed for, and writes the
// answer.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, c auth.Caller, target string, body []byte) {
	h.api.Serve(w, r, c, target, body)
}

// exception returns KMS's exception for one of the core's errors, or nil.
// KMS answers every client fault, AccessDeniedException included, with
// 400, but ConflictException with 409; anything else is
// KMSInternalException (500), logged in full.
func exception(err error) *awsjson.Error {
	var ke *awserr.Error
	if !errors.As(err, &ke) {
		return nil
	}
	status := http.StatusBadRequest
	if ke.Code == core.CodeConflict {
		status = http.StatusConflict
	}
	return &awsjson.Error{Type: ke.Code, Message: ke.Message, Status: status}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// intp converts an optional int32 member.
func intp(p *int32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}
