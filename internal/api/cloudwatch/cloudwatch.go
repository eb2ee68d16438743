// Package cloudwatch is the CloudWatch API adapter, in the two protocols
// clients use: the query protocol (Action=GetMetricStatistics&Version=
// 2010-08-01, XML answers: the AWS CLI) and Smithy RPC v2 CBOR (POST
// /service/GraniteServiceVersion20100801/operation/NAME: aws-sdk-go-v2's
// cloudwatch client), with the query protocol's error codes in the
// x-amzn-query-error header. Both decode into internal/cloudwatch's
// inputs, call it, and encode its answers.
package cloudwatch

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/ecrd/ecrd/internal/auth"
	cw "github.com/ecrd/ecrd/internal/cloudwatch"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// XMLNS is CloudWatch's XML namespace.
const XMLNS = "http://monitoring.amazonaws.com/doc/2010-08-01/"

// ServiceID is the RPC v2 service name in the path of CBOR requests.
const ServiceID = "GraniteServiceVersion20100801"

// MaxBodySize bounds a request body (GetMetricData's 500 queries fit).
const MaxBodySize = 1 << 20

// Handler serves CloudWatch calls.
type Handler struct {
	svc *cw.Service
	log *slog.Logger
}

// New returns a handler over svc.
func New(svc *cw.Service, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// operations are the operations served.
var operations = map[string]bool{"ListMetrics": true, "GetMetricStatistics": true, "GetMetricData": true}

// Known reports whether an operation is served.
func (h *Handler) Known(op string) bool { return h != nil && operations[op] }

// begin fills the request's info and returns the caller's context and
// registry.
func begin(r *http.Request, c auth.Caller, op string) (*reqinfo.Info, metadata.Scope) {
	info := reqinfo.From(r.Context())
	info.Service, info.Operation, info.ReadOnly = "monitoring.amazonaws.com", op, true
	scope := metadata.Scope{Account: c.Principal.Account, Region: c.Region}
	info.Account, info.Region = scope.Account, scope.Region
	info.Principal, info.PrincipalID = c.Principal.ARN, c.Principal.UserID
	return info, scope
}

// errorOf maps an error of the core to CloudWatch's: its own, or a fault
// whose cause is logged.
func (h *Handler) errorOf(op string, err error) *cw.Error {
	var e *cw.Error
	if errors.As(err, &e) {
		return e
	}
	h.log.Error("serving a CloudWatch call", "operation", op, "err", err)
	return &cw.Error{Code: cw.CodeInternal, Message: "internal server error: the registry logged the cause", Status: http.StatusInternalServerError}
}

func principalContext(r *http.Request, c auth.Caller) *http.Request {
	ctx := identity.WithOrigin(r.Context(), identity.OriginOf(r))
	if c.Principal.ARN != "" {
		ctx = identity.NewContext(ctx, c.Principal)
	}
	return r.WithContext(ctx)
}

// timeFormat is how the query protocol writes times.
const timeFormat = "2006-01-02T15:04:05Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }
