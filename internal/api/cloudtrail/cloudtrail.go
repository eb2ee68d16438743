// Package cloudtrail serves CloudTrail's LookupEvents (AWS JSON 1.1,
// X-Amz-Target com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.
// LookupEvents) over the audit trail (internal/audit). It is an adapter:
// it decodes and checks a request against CloudTrail's model, asks the
// trail, and encodes the answer or CloudTrail's error.
package cloudtrail

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/audit"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/metadata"
)

// TargetPrefix starts the X-Amz-Target of every CloudTrail operation, as
// the AWS CLI sends it; ShortTargetPrefix as aws-sdk-go-v2 does.
const (
	TargetPrefix      = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
	ShortTargetPrefix = "CloudTrail_20131101."
)

// Targets reports whether an X-Amz-Target is CloudTrail's.
func Targets(target string) bool {
	return strings.HasPrefix(target, TargetPrefix) || strings.HasPrefix(target, ShortTargetPrefix)
}

// MaxBodySize bounds a request body: a few attributes and a token.
const MaxBodySize = 64 << 10

// Handler serves CloudTrail's API.
type Handler struct {
	trail *audit.Trail
	api   awsjson.Service
}

// New returns the CloudTrail API handler over the trail.
func New(trail *audit.Trail, log *slog.Logger) *Handler {
	h := &Handler{trail: trail}
	ops := map[string]awsjson.Op{"LookupEvents": awsjson.Operation(h.lookupEvents, nil)}
	h.api = awsjson.Service{
		Name:        "CloudTrail",
		Targets:     []awsjson.Operations{{Prefix: TargetPrefix, Ops: ops}, {Prefix: ShortTargetPrefix, Ops: ops}},
		Errors:      exception,
		Fault:       awsjson.Error{Type: "InternalServerException", Message: "internal server error: ecrd logged the cause"},
		EmptyLists:  true,
		Log:         log,
		EventSource: "cloudtrail.amazonaws.com",
	}
	return h
}

// Known reports whether the X-Amz-Target names an operation ecrd serves.
func (h *Handler) Known(target string) bool {
	return h.api.Known(target)
}

// Serve runs the operation an X-Amz-Target names for an authenticated
// caller and writes the answer.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, c auth.Caller, target string, body []byte) {
	h.api.Serve(w, r, c, target, body)
}

// invalid is an error of the request, answered as CloudTrail's exception.
type invalid struct{ typ, msg string }

func (e *invalid) Error() string { return e.typ + ": " + e.msg }

func exception(err error) *awsjson.Error {
	var ie *invalid
	if errors.As(err, &ie) {
		return &awsjson.Error{Type: ie.typ, Message: ie.msg, Status: http.StatusBadRequest}
	}
	var ae *awserr.Error
	if errors.As(err, &ae) && ae.Code == "AccessDenied" {
		return &awsjson.Error{Type: "AccessDeniedException", Message: ae.Message, Status: http.StatusBadRequest}
	}
	return nil
}

type lookupAttribute struct {
	AttributeKey   *string `json:"AttributeKey"`
	AttributeValue *string `json:"AttributeValue"`
}

type lookupEventsInput struct {
	LookupAttributes []lookupAttribute  `json:"LookupAttributes,omitempty"`
	StartTime        *awsjson.Timestamp `json:"StartTime,omitempty"`
	EndTime          *awsjson.Timestamp `json:"EndTime,omitempty"`
	EventCategory    *string            `json:"EventCategory,omitempty"`
	MaxResults       *int               `json:"MaxResults,omitempty"`
	NextToken        *string            `json:"NextToken,omitempty"`
}

type resource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

type event struct {
	EventID         string             `json:"EventId"`
	EventName       string             `json:"EventName"`
	ReadOnly        string             `json:"ReadOnly"`
	AccessKeyID     string             `json:"AccessKeyId,omitempty"`
	EventTime       *awsjson.Timestamp `json:"EventTime"`
	EventSource     string             `json:"EventSource"`
	Username        string             `json:"Username,omitempty"`
	Resources       []resource         `json:"Resources"`
	CloudTrailEvent string             `json:"CloudTrailEvent"`
}

type lookupEventsOutput struct {
	Events    []event `json:"Events"`
	NextToken string  `json:"NextToken,omitempty"`
}

// attributes are CloudTrail's lookup attribute keys.
var attributes = map[string]bool{
	metadata.AuditByEventID: true, metadata.AuditByEventName: true, metadata.AuditByReadOnly: true,
	metadata.AuditByUsername: true, metadata.AuditByResourceType: true, metadata.AuditByResourceName: true,
	metadata.AuditByEventSource: true, metadata.AuditByAccessKeyID: true,
}

// Parse checks a LookupEvents request against CloudTrail's model and
// returns the query it makes for the registry scope (cursor included).
func Parse(in *lookupEventsInput, scope metadata.Scope) (metadata.AuditQuery, error) {
	q := metadata.AuditQuery{Scope: scope, Limit: 50}
	switch n := len(in.LookupAttributes); {
	case n > 1:
		return q, &invalid{"InvalidLookupAttributesException", "You cannot specify more than one lookup attribute."}
	case n == 1:
		a := in.LookupAttributes[0]
		if a.AttributeKey == nil || a.AttributeValue == nil {
			return q, &invalid{"InvalidLookupAttributesException", "A lookup attribute needs an AttributeKey and an AttributeValue."}
		}
		if !attributes[*a.AttributeKey] {
			return q, &invalid{"InvalidLookupAttributesException", fmt.Sprintf("The attribute key %q is not valid.", clip(*a.AttributeKey))}
		}
		if l := len(*a.AttributeValue); l < 1 || l > 2000 {
			return q, &invalid{"InvalidLookupAttributesException", "The attribute value must be 1 to 2000 characters long."}
		}
		if *a.AttributeKey == metadata.AuditByReadOnly && *a.AttributeValue != "true" && *a.AttributeValue != "false" {
			return q, &invalid{"InvalidLookupAttributesException", "The ReadOnly attribute value must be true or false."}
		}
		q.Attribute, q.Value = *a.AttributeKey, *a.AttributeValue
	}
	if in.EventCategory != nil && *in.EventCategory != "insight" {
		return q, &invalid{"InvalidEventCategoryException", "The event category must be insight."}
	}
	if in.EventCategory != nil {
		// ecrd records no Insights events.
		q.Limit = 0
	}
	if in.StartTime != nil {
		q.Start = in.StartTime.Time
	}
	if in.EndTime != nil {
		q.End = in.EndTime.Time
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.Start.After(q.End) {
		return q, &invalid{"InvalidTimeRangeException", "The start time must be before the end time."}
	}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return q, &invalid{"InvalidMaxResultsException", "MaxResults must be between 1 and 50."}
		}
		if q.Limit > 0 {
			q.Limit = *in.MaxResults
		}
	}
	if in.NextToken != nil {
		c, err := decodeToken(*in.NextToken, q)
		if err != nil {
			return q, err
		}
		q.After = &c
	}
	return q, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// A token is the position of a page's last event and a digest of the
// query it continues, so that it is refused for another query.
const tokenSize = 8 + 8 + 8

func queryDigest(q metadata.AuditQuery) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d\x00%d", q.Scope.Account, q.Scope.Region, q.Attribute, q.Value,
		q.Start.UnixNano(), q.End.UnixNano())
	return h.Sum(nil)[:8]
}

func encodeToken(c metadata.AuditCursor, q metadata.AuditQuery) string {
	b := make([]byte, 0, tokenSize)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Seq))
	b = append(b, queryDigest(q)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string, q metadata.AuditQuery) (metadata.AuditCursor, error) {
	bad := &invalid{"InvalidNextTokenException", "Invalid NextToken: it is not one a previous LookupEvents with the same parameters returned."}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != tokenSize || string(b[16:]) != string(queryDigest(q)) {
		return metadata.AuditCursor{}, bad
	}
	return metadata.AuditCursor{Time: time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC(), Seq: int64(binary.BigEndian.Uint64(b[8:]))}, nil
}

func (h *Handler) lookupEvents(ctx context.Context, c auth.Caller, in *lookupEventsInput) (*lookupEventsOutput, error) {
	q, err := Parse(in, metadata.Scope{Account: c.Principal.Account, Region: c.Region})
	if err != nil {
		return nil, err
	}
	out := &lookupEventsOutput{Events: []event{}}
	if q.Limit == 0 {
		return out, nil
	}
	limit := q.Limit
	q.Limit++ // one more says whether there is a next page
	records, err := h.trail.Lookup(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(records) > limit {
		records = records[:limit]
		last := records[limit-1]
		out.NextToken = encodeToken(metadata.AuditCursor{Time: last.Time, Seq: last.Seq}, q)
	}
	for _, r := range records {
		e := event{EventID: r.ID, EventName: r.Name, ReadOnly: fmt.Sprint(r.ReadOnly), AccessKeyID: r.AccessKeyID,
			EventTime: awsjson.NewTimestamp(r.Time), EventSource: r.Source, Username: r.Username,
			Resources: []resource{}, CloudTrailEvent: string(r.Document)}
		if r.ResourceType != "" || r.ResourceName != "" {
			e.Resources = append(e.Resources, resource{ResourceType: r.ResourceType, ResourceName: r.ResourceName})
		}
		if !json.Valid(r.Document) {
			e.CloudTrailEvent = "{}"
		}
		out.Events = append(out.Events, e)
	}
	return out, nil
}
