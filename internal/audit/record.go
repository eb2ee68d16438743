package audit

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// TypeServiceEvent is the detail type of an event a service made on its
// own, as EventBridge names CloudTrail's service events.
const TypeServiceEvent = "AWS Service Event via CloudTrail"

// wireErrors are error codes as CloudTrail names the failure: a denial
// is AccessDenied whichever service's exception answered it.
var wireErrors = map[string]string{"DENIED": "AccessDenied", "AccessDeniedException": "AccessDenied"}

// fromInfo is the trail's record of a finished request, false for one
// that is not an AWS call or registry operation of a known registry. Its
// document is appended to buf, which fromInfo returns grown; the record's
// document is its own slice of it.
func fromInfo(info *reqinfo.Info, buf []byte) (metadata.AuditEvent, []byte, bool) {
	if info.Operation == "" || info.Account == "" || info.Region == "" {
		return metadata.AuditEvent{}, buf, false
	}
	actor := identity.ActorOfInfo(info)
	if actor.Type == "" {
		actor.Type = "Unknown" // an anonymous caller
	}
	actor.SourceIP, actor.UserAgent, actor.RequestID = info.SourceIP, info.UserAgent, info.RequestID
	code := info.ErrorCode
	if c, ok := wireErrors[code]; ok {
		code = c
	}
	scope := metadata.Scope{Account: info.Account, Region: info.Region}
	rec := outbox.NewRecord(scope, info.Start, outbox.Call{
		EventSource: info.Service, Action: info.Operation, Actor: actor, Params: info.Params,
		Resources: info.Resources, ReadOnly: info.ReadOnly, ErrorCode: code, ErrorMessage: info.ErrorMessage,
	})
	start := len(buf)
	if out, err := rec.AppendJSON(buf); err == nil {
		buf = out
	} else {
		// Params hold only what decoded from JSON or a form.
		msg, _ := json.Marshal(fmt.Sprintf("unencodable record: %v", err))
		buf = append(buf, msg...)
	}
	doc := buf[start:len(buf):len(buf)]
	e := metadata.AuditEvent{
		ID: rec.EventID, Scope: scope, Time: info.Start, Name: info.Operation, Source: info.Service,
		Username: info.UserName, AccessKeyID: info.AccessKeyID, ReadOnly: info.ReadOnly, Document: doc,
	}
	if len(info.Resources) > 0 {
		e.ResourceType, e.ResourceName = outbox.ResourceType(info.Resources[0]), ResourceName(info.Resources[0])
	}
	return e, buf, true
}

// fromEvent is the trail's record of an outbox event, false for an event
// that is not CloudTrail's.
func fromEvent(ev metadata.Event) (metadata.AuditEvent, bool, error) {
	if ev.Type != outbox.TypeAPICall && ev.Type != TypeServiceEvent {
		return metadata.AuditEvent{}, false, nil
	}
	var env outbox.Envelope
	if err := json.Unmarshal(ev.Document, &env); err != nil {
		return metadata.AuditEvent{}, false, fmt.Errorf("outbox event %d: %w", ev.ID, err)
	}
	var rec struct {
		EventID      string `json:"eventID"`
		EventName    string `json:"eventName"`
		EventSource  string `json:"eventSource"`
		ReadOnly     bool   `json:"readOnly"`
		AWSRegion    string `json:"awsRegion"`
		Recipient    string `json:"recipientAccountId"`
		UserIdentity struct {
			Type        string `json:"type"`
			ARN         string `json:"arn"`
			UserName    string `json:"userName"`
			AccessKeyID string `json:"accessKeyId"`
		} `json:"userIdentity"`
		Resources []struct {
			ARN  string `json:"ARN"`
			Type string `json:"type"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(env.Detail, &rec); err != nil || rec.EventID == "" {
		return metadata.AuditEvent{}, false, fmt.Errorf("outbox event %d: not a CloudTrail record: %v", ev.ID, err)
	}
	e := metadata.AuditEvent{
		ID: rec.EventID, Scope: metadata.Scope{Account: cmpOr(rec.Recipient, ev.Scope.Account), Region: cmpOr(rec.AWSRegion, ev.Scope.Region)},
		Time: ev.Time, Name: rec.EventName, Source: rec.EventSource, ReadOnly: rec.ReadOnly,
		Username: username(rec.UserIdentity.Type, rec.UserIdentity.ARN, rec.UserIdentity.UserName), AccessKeyID: rec.UserIdentity.AccessKeyID,
		Document: env.Detail,
	}
	if len(rec.Resources) > 0 {
		e.ResourceType, e.ResourceName = cmpOr(rec.Resources[0].Type, outbox.ResourceType(rec.Resources[0].ARN)), ResourceName(rec.Resources[0].ARN)
	}
	return e, true, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// username is CloudTrail's Username of a userIdentity: a user's name, a
// role session's name, "root".
func username(typ, arn, userName string) string {
	switch typ {
	case "Root":
		return "root"
	case "AssumedRole":
		return arn[strings.LastIndexByte(arn, '/')+1:]
	}
	return userName
}

// ResourceName is the name CloudTrail gives the resource an ARN names: a
// repository's or an IAM entity's name, else the ARN.
func ResourceName(arn string) string {
	a, ok := awsid.Parse(arn)
	if !ok {
		return arn
	}
	if name, ok := strings.CutPrefix(a.Resource, "repository/"); ok && a.Service == "ecr" {
		return name
	}
	if a.Service == "iam" {
		return a.Resource[strings.LastIndexByte(a.Resource, '/')+1:]
	}
	return arn
}
