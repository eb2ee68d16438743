package outbox

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Sources of events, as EventBridge names AWS services.
const (
	SourceECR = "aws.ecr"
	SourceIAM = "aws.iam"
	SourceSTS = "aws.sts"
	SourceKMS = "aws.kms"
	// SourceEvents is EventBridge's own changes (rules, targets,
	// connections, API destinations). Custom events put with PutEvents
	// carry the source their caller gave, never one starting "aws.".
	SourceEvents = "aws.events"
	// SourceSecretsManager is Secrets Manager's changes of secrets.
	SourceSecretsManager = "aws.secretsmanager"
)

// Detail types.
const (
	// TypeAPICall is a change made through an API, with CloudTrail's
	// record of the call as its detail.
	TypeAPICall = "AWS API Call via CloudTrail"
	// TypeImageAction is ECR's event of an image pushed or deleted.
	TypeImageAction = "ECR Image Action"
	// TypeImageScan is ECR's event of a finished image scan.
	TypeImageScan = "ECR Image Scan"
	// TypeReplicationAction is ECR's event of an image replicated into a
	// registry, recorded in the destination's region.
	TypeReplicationAction = "ECR Replication Action"
)

// Envelope is an event as EventBridge delivers it.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// New makes the outbox record of an event: its envelope, with detail
// marshalled as its detail. resources are the ARNs the event is about;
// the first is the record's Resource.
func New(scope metadata.Scope, at time.Time, source, detailType string, resources []string, detail any) (metadata.Event, error) {
	d, err := json.Marshal(detail)
	if err != nil {
		return metadata.Event{}, err
	}
	if resources == nil {
		resources = []string{}
	}
	env := Envelope{
		Version: "0", ID: awsid.NewUUID(), DetailType: detailType, Source: source,
		Account: scope.Account, Time: at.UTC().Format(time.RFC3339), Region: scope.Region,
		Resources: resources, Detail: d,
	}
	doc, err := json.Marshal(env)
	if err != nil {
		return metadata.Event{}, err
	}
	e := metadata.Event{Scope: scope, Time: at, Source: source, Type: detailType, Document: doc}
	if len(resources) > 0 {
		e.Resource = resources[0]
	}
	return e, nil
}

// Actor is who made a change, as CloudTrail's userIdentity describes it.
type Actor struct {
	Type        string `json:"type"` // Root, IAMUser, AssumedRole, WebIdentityUser, AWSService
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	// UserName is an IAM user's name, or a web identity's subject.
	UserName string `json:"userName,omitempty"`
	// IdentityProvider is a WebIdentityUser's OIDC provider.
	IdentityProvider string `json:"identityProvider,omitempty"`
	// SessionContext describes the session of temporary credentials.
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
	InvokedBy      string          `json:"invokedBy,omitempty"` // for AWSService: the service
	// SourceIP, UserAgent and RequestID are of the request (CloudTrail's
	// sourceIPAddress, userAgent and requestID, outside userIdentity).
	SourceIP  string `json:"-"`
	UserAgent string `json:"-"`
	RequestID string `json:"-"`
}

// SessionContext is CloudTrail's sessionContext of temporary credentials.
type SessionContext struct {
	// SessionIssuer is the role an assumed role's session is of.
	SessionIssuer *SessionIssuer `json:"sessionIssuer,omitempty"`
	// WebIDFederationData names the OIDC provider of a session that came
	// from AssumeRoleWithWebIdentity.
	WebIDFederationData *WebIDFederation  `json:"webIdFederationData,omitempty"`
	Attributes          SessionAttributes `json:"attributes"`
}

// SessionIssuer is the principal that issued a session.
type SessionIssuer struct {
	Type        string `json:"type"` // Role
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// WebIDFederation is CloudTrail's webIdFederationData.
type WebIDFederation struct {
	FederatedProvider string            `json:"federatedProvider"`
	Attributes        map[string]string `json:"attributes"`
}

// SessionAttributes are when a session was made and whether with MFA.
type SessionAttributes struct {
	CreationDate     string `json:"creationDate"`
	MFAAuthenticated string `json:"mfaAuthenticated"` // "true" or "false", as CloudTrail writes it
}

// Service is the actor of a change a service made on its own (a
// lifecycle policy's expiry, garbage collection).
func Service(name string) Actor {
	return Actor{Type: "AWSService", InvokedBy: name}
}

// Call is an API call: one that changed something, for the outbox, or
// any call, for the audit trail.
type Call struct {
	// EventSource is the service's domain (ecr.amazonaws.com); Action is
	// the operation's name (PutLifecyclePolicy).
	EventSource string
	Action      string
	Actor       Actor
	// Params are the request's parameters that say what changed, as the
	// API names them (secrets never).
	Params map[string]any
	// Response is what the answer says that the record should keep
	// (secrets never), or nil.
	Response map[string]any
	// Resources are the ARNs of what changed.
	Resources []string
	// ReadOnly marks a call that changes nothing; ErrorCode and
	// ErrorMessage a call that failed.
	ReadOnly                bool
	ErrorCode, ErrorMessage string
}

// Record is CloudTrail's record of a management call, the detail of an
// "AWS API Call via CloudTrail" event and a record of the audit trail.
type Record struct {
	EventVersion       string         `json:"eventVersion"`
	UserIdentity       Actor          `json:"userIdentity"`
	EventTime          string         `json:"eventTime"`
	EventSource        string         `json:"eventSource"`
	EventName          string         `json:"eventName"`
	AWSRegion          string         `json:"awsRegion"`
	SourceIPAddress    string         `json:"sourceIPAddress,omitempty"`
	UserAgent          string         `json:"userAgent,omitempty"`
	ErrorCode          string         `json:"errorCode,omitempty"`
	ErrorMessage       string         `json:"errorMessage,omitempty"`
	RequestParameters  map[string]any `json:"requestParameters"`
	ResponseElements   map[string]any `json:"responseElements"`
	RequestID          string         `json:"requestID,omitempty"`
	EventID            string         `json:"eventID"`
	ReadOnly           bool           `json:"readOnly"`
	Resources          []ctResource   `json:"resources,omitempty"`
	EventType          string         `json:"eventType"`
	ManagementEvent    bool           `json:"managementEvent"`
	RecipientAccountID string         `json:"recipientAccountId"`
	EventCategory      string         `json:"eventCategory"`
}

type ctResource struct {
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type,omitempty"`
	ARN       string `json:"ARN"`
}

// NewRecord makes CloudTrail's record of a call in a registry (or an
// account's IAM, or a region's KMS), with a new event ID.
func NewRecord(scope metadata.Scope, at time.Time, c Call) Record {
	eventType := "AwsApiCall"
	if c.Actor.Type == "AWSService" {
		eventType = "AwsServiceEvent"
	}
	rec := Record{
		EventVersion: "1.08", UserIdentity: c.Actor, EventTime: at.UTC().Format(time.RFC3339),
		EventSource: c.EventSource, EventName: c.Action, AWSRegion: scope.Region, SourceIPAddress: c.Actor.SourceIP,
		UserAgent: c.Actor.UserAgent, ErrorCode: c.ErrorCode, ErrorMessage: c.ErrorMessage,
		RequestParameters: c.Params, ResponseElements: c.Response, RequestID: c.Actor.RequestID,
		EventID: awsid.NewTimeUUID(), ReadOnly: c.ReadOnly, EventType: eventType, ManagementEvent: true,
		RecipientAccountID: scope.Account, EventCategory: "Management",
	}
	for _, arn := range c.Resources {
		a, _ := awsid.Parse(arn)
		rec.Resources = append(rec.Resources, ctResource{AccountID: a.AccountID, Type: ResourceType(arn), ARN: arn})
	}
	return rec
}

// resourceTypes are CloudTrail's resource types by an ARN's service and
// the start of its resource.
var resourceTypes = []struct{ service, prefix, typ string }{
	{"ecr", "repository/", "AWS::ECR::Repository"},
	{"iam", "user/", "AWS::IAM::User"},
	{"iam", "role/", "AWS::IAM::Role"},
	{"iam", "group/", "AWS::IAM::Group"},
	{"iam", "policy/", "AWS::IAM::Policy"},
	{"iam", "oidc-provider/", "AWS::IAM::OIDCProvider"},
	{"sts", "assumed-role/", "AWS::STS::AssumedRole"},
	{"kms", "key/", "AWS::KMS::Key"},
	{"kms", "alias/", "AWS::KMS::Alias"},
}

// ResourceType is CloudTrail's type of the resource an ARN names, "" for
// one it has no name for.
func ResourceType(arn string) string {
	a, ok := awsid.Parse(arn)
	if !ok {
		return ""
	}
	for _, t := range resourceTypes {
		if a.Service == t.service && strings.HasPrefix(a.Resource, t.prefix) {
			return t.typ
		}
	}
	return ""
}

// APICall makes the outbox record of an API call that changed something
// in a registry (or an account's IAM, or a region's KMS).
func APICall(scope metadata.Scope, at time.Time, source string, c Call) (metadata.Event, error) {
	return New(scope, at, source, TypeAPICall, c.Resources, NewRecord(scope, at, c))
}

// ImageAction makes the record of ECR's "ECR Image Action" event: an
// image pushed (PUSH) or deleted (DELETE), once per tag, or once without
// one for an untagged image.
func ImageAction(scope metadata.Scope, at time.Time, repositoryARN, repository, digest, action, tag string) (metadata.Event, error) {
	return imageAction(scope, at, repositoryARN, repository, digest, action, tag, "SUCCESS")
}

// ImageActionFailed is ImageAction for an action that failed (result
// FAILURE).
func ImageActionFailed(scope metadata.Scope, at time.Time, repositoryARN, repository, digest, action, tag string) (metadata.Event, error) {
	return imageAction(scope, at, repositoryARN, repository, digest, action, tag, "FAILURE")
}

func imageAction(scope metadata.Scope, at time.Time, repositoryARN, repository, digest, action, tag, result string) (metadata.Event, error) {
	detail := map[string]string{"result": result, "repository-name": repository, "image-digest": digest, "action-type": action}
	if tag != "" {
		detail["image-tag"] = tag
	}
	return New(scope, at, SourceECR, TypeImageAction, []string{repositoryARN}, detail)
}

// Replication is what a replication did to one image in a destination
// registry (the event's scope), and whence.
type Replication struct {
	RepositoryARN, Repository string
	Digest, Tag               string
	// Action is REPLICATE (the image copied in) or DELETE (its deletion
	// or untagging followed the source's).
	Action                      string
	SourceAccount, SourceRegion string
	Failed                      bool
}

// ReplicationAction makes the record of ECR's "ECR Replication Action"
// event in the destination registry scope.
func ReplicationAction(scope metadata.Scope, at time.Time, r Replication) (metadata.Event, error) {
	result := "SUCCESS"
	if r.Failed {
		result = "FAILED"
	}
	detail := map[string]string{"result": result, "repository-name": r.Repository, "image-digest": r.Digest,
		"action-type": r.Action, "source-account": r.SourceAccount, "source-region": r.SourceRegion}
	if r.Tag != "" {
		detail["image-tag"] = r.Tag
	}
	return New(scope, at, SourceECR, TypeReplicationAction, []string{r.RepositoryARN}, detail)
}
