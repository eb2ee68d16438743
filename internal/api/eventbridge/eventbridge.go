// Package eventbridge serves the Amazon EventBridge API (AWS JSON 1.1,
// X-Amz-Target AWSEvents.<Op>, SigV4 service "events") over the
// EventBridge domain core (internal/events). It is an adapter: it decodes
// a request, checks the members the model requires, calls the core, and
// encodes the answer or the error EventBridge gives (every exception with
// status 400).
package eventbridge

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/auth"
	core "github.com/ecrd/ecrd/internal/events"
)

// TargetPrefix starts the X-Amz-Target of every EventBridge operation.
const TargetPrefix = "AWSEvents."

// MaxBodySize bounds a request body: PutEvents' entries are at most
// 256 KB, JSON-escaped.
const MaxBodySize = 1 << 20

// Handler serves the EventBridge API.
type Handler struct {
	svc *core.Service
	api awsjson.Service
}

func handle[I any, O any](fn func(context.Context, core.Scope, *I) (*O, error)) awsjson.Op {
	return awsjson.Operation(func(ctx context.Context, c auth.Caller, in *I) (*O, error) {
		return fn(ctx, core.Scope{Account: c.Principal.Account, Region: c.Region}, in)
	}, nil)
}

// New returns the EventBridge API handler.
func New(svc *core.Service, log *slog.Logger) *Handler {
	h := &Handler{svc: svc}
	ops := map[string]awsjson.Op{
		"PutRule":                handle(h.putRule),
		"DescribeRule":           handle(h.describeRule),
		"ListRules":              handle(h.listRules),
		"DeleteRule":             handle(h.deleteRule),
		"EnableRule":             handle(h.enableRule),
		"DisableRule":            handle(h.disableRule),
		"PutTargets":             handle(h.putTargets),
		"RemoveTargets":          handle(h.removeTargets),
		"ListTargetsByRule":      handle(h.listTargetsByRule),
		"ListRuleNamesByTarget":  handle(h.listRuleNamesByTarget),
		"TagResource":            handle(h.tagResource),
		"UntagResource":          handle(h.untagResource),
		"ListTagsForResource":    handle(h.listTagsForResource),
		"CreateConnection":       handle(h.createConnection),
		"DescribeConnection":     handle(h.describeConnection),
		"UpdateConnection":       handle(h.updateConnection),
		"DeleteConnection":       handle(h.deleteConnection),
		"ListConnections":        handle(h.listConnections),
		"CreateApiDestination":   handle(h.createAPIDestination),
		"DescribeApiDestination": handle(h.describeAPIDestination),
		"UpdateApiDestination":   handle(h.updateAPIDestination),
		"DeleteApiDestination":   handle(h.deleteAPIDestination),
		"ListApiDestinations":    handle(h.listAPIDestinations),
		"TestEventPattern":       handle(h.testEventPattern),
		"PutEvents":              handle(h.putEvents),
		"DescribeEventBus":       handle(h.describeEventBus),
		"ListEventBuses":         handle(h.listEventBuses),
	}
	h.api = awsjson.Service{
		Name:    "EventBridge",
		Targets: []awsjson.Operations{{Prefix: TargetPrefix, Ops: ops}},
		Errors:  awsjson.ClientFault,
		Fault:   awsjson.Error{Type: "InternalException", Message: "internal server error: ecrd logged the cause"},
		Log:     log,
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

func intp(p *int32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

func int32p(v int) *int32 {
	n := int32(v)
	return &n
}

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
