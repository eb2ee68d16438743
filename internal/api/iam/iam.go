// Package iam serves the slice of AWS IAM that ecrd has (query protocol,
// XML): users and their access keys, groups and their members, roles,
// inline and managed policies with versions and attachments, permissions
// boundaries, OpenID Connect providers, tags, and the simulators that
// explain any decision. It
// parses parameters and writes IAM's XML; the rules live in
// internal/identity.
package iam

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/identity"
)

// XMLNS is IAM's XML namespace.
const XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"

// Handler serves IAM.
type Handler struct {
	ids *identity.Service
	api awsquery.Service
}

// New returns the IAM handler.
func New(ids *identity.Service, log *slog.Logger) *Handler {
	return &Handler{ids: ids, api: awsquery.Service{Name: "IAM", XMLNS: XMLNS, Fault: "ServiceFailure", Log: log,
		EventSource: "iam.amazonaws.com", Region: "us-east-1"}}
}

// invalid is an IAM error answer made by the adapter itself.
func invalid(code, msg string) error { return &awserr.Error{Code: code, Message: msg} }

type op func(h *Handler, ctx context.Context, c auth.Caller, f awsquery.Form) (any, error)

// opTables hold the IAM actions ecrd serves, one table per concern.
var opTables = []map[string]op{roleOps, userOps, groupOps, grantOps(), policyOps, oidcOps, simulateOps}

func lookup(action string) (op, bool) {
	for _, t := range opTables {
		if fn, ok := t[action]; ok {
			return fn, true
		}
	}
	return nil, false
}

// Serve answers an authenticated IAM request.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, c auth.Caller, values url.Values, requestID string) {
	q, f := h.api.Writer(w, requestID), awsquery.Form{Values: values}
	h.api.Note(r, &q, c, f)
	action := f.Get("Action")
	fn, ok := lookup(action)
	if !ok {
		h.api.InvalidAction(q, f)
		return
	}
	if sess := c.Principal.Session; sess != nil && sess.FromGetSessionToken() {
		// AWS refuses IAM calls made with GetSessionToken credentials that
		// carry no MFA, and ecrd's never do.
		q.Error("InvalidClientTokenId", "The security token included in the request is invalid.", http.StatusForbidden)
		return
	}
	ctx := identity.NewContext(identity.WithOrigin(r.Context(), identity.OriginOf(r)), c.Principal)
	result, err := fn(h, ctx, c, f)
	h.api.Answer(q, action, result, err)
}

// page cuts a list at Marker (the key of the last item of the previous
// page) to MaxItems (100 by default, at most 1000), as IAM's list calls.
func page[T any](f awsquery.Form, items []T, key func(T) string) (out []T, truncated bool, marker string, err error) {
	max, ok, err := f.Int("MaxItems")
	if err != nil {
		return nil, false, "", err
	}
	if !ok {
		max = 100
	}
	if max < 1 || max > 1000 {
		return nil, false, "", invalid(identity.CodeValidation, "1 validation error detected: Value '"+f.Get("MaxItems")+"' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000")
	}
	start := 0
	if m := f.Get("Marker"); m != "" {
		start = len(items)
		for i, it := range items {
			if key(it) == m {
				start = i + 1
				break
			}
		}
	}
	out = items[start:]
	if len(out) > max {
		out, truncated = out[:max], true
		marker = key(out[max-1])
	}
	return out, truncated, marker, nil
}

// Tag is a tag as IAM writes it.
type Tag struct {
	Key   string
	Value string
}

// TagList is a list of tags that is left out when empty, as IAM leaves
// out the tags of an untagged entity.
type TagList struct {
	Members []Tag `xml:"member"`
}

func optionalTags(tags []identity.Tag) *TagList {
	if len(tags) == 0 {
		return nil
	}
	return &TagList{tagsOf(tags)}
}

func tagsOf(tags []identity.Tag) []Tag {
	out := make([]Tag, len(tags))
	for i, t := range tags {
		out[i] = Tag(t)
	}
	return out
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// encodeDocument percent-encodes a policy document as IAM does (RFC 3986:
// a space is %20, never +), so that clients that unescape it, such as
// Terraform, read back the document exactly.
func encodeDocument(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

// Boundary is a permissions boundary as IAM writes it.
type Boundary struct {
	PermissionsBoundaryType string
	PermissionsBoundaryArn  string
}

func boundaryOf(arn string) *Boundary {
	if arn == "" {
		return nil
	}
	return &Boundary{PermissionsBoundaryType: "Policy", PermissionsBoundaryArn: arn}
}
